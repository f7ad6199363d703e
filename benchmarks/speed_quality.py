"""What the fast paths of :mod:`benchmarks.speed` cost in results, on the same index:

* ``faiss_recall``: per dense channel and ``nprobe``, the share of the exact top-``k`` items
  (brute force over the stored vectors) that the IVF search returns, and its p95 time;
* ``candidate_recall_at_20``: the share of the top 20 experts of an exhaustive ranking (every
  expert scored) that the ranking from the candidate set also returns, i.e. what candidate
  generation loses at this scale.
"""

from __future__ import annotations

import time

import faiss
import numpy as np

from matcher import Engine, NeedRecord

from .speed_encoders import percentile


def faiss_recall(engine: Engine, query_vectors: dict[str, list[np.ndarray]], k: int, nprobes=(8, 16, 32, 64)) -> dict:
    out: dict = {}
    for name, vectors in query_vectors.items():
        channel = engine.dense[name].vectors
        index = faiss.downcast_index(channel.index)
        if not isinstance(index, faiss.IndexIVF) or not vectors:
            continue
        alive = channel.alive[: channel.size]
        exact = []
        for vector in vectors:
            sims = channel.similarities(vector, np.arange(channel.size))
            sims[~alive] = -np.inf
            exact.append(set(np.argpartition(-sims, k)[:k].tolist()))
        rows = {}
        before = index.nprobe
        for nprobe in nprobes:
            index.nprobe = nprobe
            timings, recalls = [], []
            for vector, truth in zip(vectors, exact, strict=True):
                started = time.perf_counter()
                ids, _ = channel.search(vector, k)
                timings.append((time.perf_counter() - started) * 1000)
                recalls.append(len(truth & set(ids.tolist())) / k)
            rows[str(nprobe)] = {"recall": round(float(np.mean(recalls)), 4), "p95_ms": percentile(timings, 95)}
        index.nprobe = before
        out[name] = rows
    return out


def candidate_recall(engine: Engine, needs: list[NeedRecord], attributes: dict) -> dict:
    overlaps, exhaustive_s = [], []
    for need in needs:
        query = engine.prepare_query(need)
        fast = engine.rank(need, {e: attributes[e] for e in engine.candidates(query)}, limit=20, query=query, explain=False)
        started = time.perf_counter()
        full = engine.rank(need, attributes, limit=20, query=query, all_experts=True, explain=False)
        exhaustive_s.append(time.perf_counter() - started)
        truth = {s.expert_id for s in full}
        overlaps.append(len(truth & {s.expert_id for s in fast}) / max(1, len(truth)))
    return {"candidate_recall_at_20": round(float(np.mean(overlaps)), 4) if overlaps else None,
            "candidate_recall_queries": len(overlaps),
            "candidate_recall_min": round(float(np.min(overlaps)), 4) if overlaps else None,
            "exhaustive_rank_s_mean": round(float(np.mean(exhaustive_s)), 2) if exhaustive_s else None}
