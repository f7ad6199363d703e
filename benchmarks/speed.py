"""Engine speed at the scale of a provincial platform. Prints one JSON object; never asserts.

    python -m benchmarks.speed --experts 100000 --achievements-per-expert 5 --json

Encoding 600,000 texts would take over an hour on 2 cores, so the pool is synthesised:

1. At least ``--encode`` (default 5,000) distinct texts derived from the demo dataset (an
   achievement's title joined with another achievement's abstract) are encoded for real with
   the configured model; that timing gives ``encode_items_per_s``.
2. Each synthetic item takes its BM25 tokens from one real demo title and another real demo
   body (real Chinese/English token statistics), and its vector from two of the encoded
   vectors averaged plus a little noise, normalised. Every item counts as readable by the
   model (the worst case for the dense channel: a multilingual model).
3. The engine indexes the pool with ``Engine.bulk_load`` — the same code path as a rebuild:
   BM25 item and expert segments, and FAISS (IVF with 8-bit quantisation above 50k vectors).
4. At least ``--queries`` fresh needs (a demo need's title with another need's description)
   are ranked with live attributes; ``suggest_ms`` includes encoding the need when the model
   reads its language, ``excluding_encode`` leaves that out.
5. ``update_one_expert_ms`` is ``upsert_expert`` of a changed expert with 5 achievements
   (tokenise, encode, FAISS add/remove, BM25 delta), averaged over 20 experts.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from matcher import AchievementRecord, Engine, ExpertAttributes, ExpertRecord, MatcherConfig, NeedRecord
from matcher.embedding import load_embedder
from matcher.engine import ItemText, PreparedItem
from matcher.store import IndexStore

from .datasets import load_demo


class TimedEmbedder:
    """Wraps the embedder to measure time spent encoding inside ranking."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name, self.dim, self.covers = inner.name, inner.dim, inner.covers
        self.seconds = 0.0

    def covers_language(self, lang: str) -> bool:
        return self.inner.covers_language(lang)

    def encode(self, texts, **kwargs):
        started = time.perf_counter()
        try:
            return self.inner.encode(texts, **kwargs)
        finally:
            self.seconds += time.perf_counter() - started


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(experts: int, per_expert: int, encode_count: int, queries: int, seed: int) -> dict:
    rng = random.Random(seed)
    demo = load_demo()
    achievements = [a for e in demo.experts for a in e.achievements]
    embedder = TimedEmbedder(load_embedder(os.environ.get("MATCHER_EMBEDDING_MODEL") or None))
    engine = Engine(MatcherConfig(), embedder)
    for e in demo.experts:
        engine.learn_terms(e)

    # 1. real encoding of distinct demo-derived texts
    texts = list({f"{rng.choice(achievements).title}. {rng.choice(achievements).abstract}" for _ in range(encode_count * 2)})[:encode_count]
    started = time.perf_counter()
    encoded = embedder.inner.encode(texts, batch_size=64)
    encode_s = time.perf_counter() - started

    # 2. real token lists of demo titles and bodies to recombine
    titles = [engine.text.tokens(a.title) for a in achievements]
    bodies = [engine.text.tokens(a.abstract) for a in achievements]
    profiles = [engine.text.tokens(" ; ".join(e.research_areas + e.keywords) + " " + e.summary) for e in demo.experts]
    weights = engine.config.field_weights
    total = experts * (per_expert + 1)
    started = time.perf_counter()
    vectors = np.empty((total, embedder.dim), dtype=np.float32)
    np_rng = np.random.default_rng(seed)
    for start in range(0, total, 50_000):
        stop = min(total, start + 50_000)
        pick = np_rng.integers(0, len(encoded), size=(stop - start, 2))
        block = encoded[pick[:, 0]] + encoded[pick[:, 1]] + np_rng.normal(scale=0.02, size=(stop - start, embedder.dim))
        vectors[start:stop] = block / np.linalg.norm(block, axis=1, keepdims=True)
    prepare_s = time.perf_counter() - started

    def entries():
        """The pool, generated lazily: the engine keeps term counts, not token lists."""
        for number in range(experts):
            expert_id = f"x{number}"
            yield PreparedItem(expert_id, ItemText("profile", "", "profile", None, {}, ""),
                               profiles[rng.randrange(len(profiles))] * weights.keywords)
            for slot in range(1, per_expert + 1):
                tokens = titles[rng.randrange(len(titles))] * weights.title + bodies[rng.randrange(len(bodies))]
                yield PreparedItem(expert_id, ItemText("paper", f"{expert_id}-{slot}", "synthetic",
                                                       2012 + (number + slot) % 14, {}, ""), tokens)

    # 3. index the way a rebuild does
    started = time.perf_counter()
    engine.bulk_load(entries(), vectors, [True] * total)
    build_s = time.perf_counter() - started
    del vectors
    rss_after_build = peak_rss_mb()

    attributes = {
        f"x{n}": ExpertAttributes(organization=f"org{n % 5000}", region=rng.choice(["广东省茂名市", "广东省广州市", "陕西省宝鸡市", ""]),
                                  discipline_codes=(rng.choice(["210", "240", "430", "460", "360", "550"]),),
                                  capacity=3, engaged=n % 4)
        for n in range(experts)
    }

    def live_attributes(ids: list[str]) -> dict[str, ExpertAttributes]:
        return {i: attributes[i] for i in ids}

    # 4. suggestions for fresh needs
    totals, excluding = [], []
    for _ in range(queries):
        a, b = rng.choice(demo.needs), rng.choice(demo.needs)
        need = NeedRecord(id=f"fresh{rng.random()}", title=a.title, description=b.description,
                          industry_codes=a.industry_codes, region=a.region, organization="orgX")
        embedder.seconds = 0.0
        started = time.perf_counter()
        engine.rank(need, live_attributes, limit=20)
        total = time.perf_counter() - started
        totals.append(total * 1000)
        excluding.append((total - embedder.seconds) * 1000)

    # 5. incremental update of one expert
    update_ms = []
    for _ in range(20):
        target = f"x{rng.randrange(experts)}"
        record = ExpertRecord(id=target, keywords=("钛合金", "增材制造"), achievements=tuple(
            AchievementRecord(id=f"{target}-u{i}", title=rng.choice(achievements).title,
                              abstract=rng.choice(achievements).abstract, year=2025) for i in range(per_expert)))
        started = time.perf_counter()
        engine.upsert_expert(record)
        update_ms.append((time.perf_counter() - started) * 1000)

    directory = Path(tempfile.mkdtemp(prefix="speed-index-"))
    try:
        started = time.perf_counter()
        snapshot = engine.save(IndexStore(directory), watermark=0)
        save_s = time.perf_counter() - started
        index_mb = sum(f.stat().st_size for f in snapshot.path.iterdir()) / 1e6
    finally:
        shutil.rmtree(directory, ignore_errors=True)

    return {
        "experts": experts,
        "vectors": engine.vectors.size,
        "vector_index": engine.vectors.kind,
        "encode_items_per_s": round(len(texts) / encode_s, 1),
        "encoded_texts": len(texts),
        "prepare_pool_s": round(prepare_s, 1),
        "build_s": round(build_s, 1),
        "save_s": round(save_s, 1),
        "index_mb": round(index_mb, 1),
        "rss_mb": round(max(peak_rss_mb(), rss_after_build), 1),
        "queries": queries,
        "suggest_p50_ms": round(float(np.percentile(totals, 50)), 2),
        "suggest_p95_ms": round(float(np.percentile(totals, 95)), 2),
        "suggest_p95_ms_excluding_encode": round(float(np.percentile(excluding, 95)), 2),
        "update_one_expert_ms": round(float(np.mean(update_ms)), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experts", type=int, default=100_000)
    parser.add_argument("--achievements-per-expert", type=int, default=5)
    parser.add_argument("--encode", type=int, default=5000, help="distinct texts encoded for real")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print only the JSON object")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    started = time.perf_counter()
    report = run(args.experts, args.achievements_per_expert, args.encode, args.queries, args.seed)
    report["total_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(report, ensure_ascii=False, indent=None if args.json else 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
