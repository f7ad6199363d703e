"""Matching quality: Chinese expert routing and title→abstract retrieval on CSL, and nDCG@10
on the demo dataset's hand-made judgements. Prints a table (or JSON); never fails on a number.

    python -m benchmarks.quality [--json] [--quick] [--aggregations]

Systems: plain BM25 (bm25s over default jieba tokens, one document per expert), the engine's
lexical channel alone, its dense channel alone, and the full engine.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import time
from collections.abc import Callable

import numpy as np

from matcher import Engine, ExpertRecord, MatcherConfig, NeedRecord
from matcher.scoring import aggregate

from .datasets import csl_routing, csl_title_to_abstract, load_csl, load_demo
from .metrics import bootstrap, hit_at, ndcg_at, paired_bootstrap_delta, reciprocal_rank

Ranker = Callable[[NeedRecord], list[str]]


def plain_bm25(experts: list[ExpertRecord]) -> Ranker:
    """The baseline: one document per expert, default jieba, no stopwords or dictionary."""
    import bm25s
    import jieba

    def tokens(text: str) -> list[str]:
        return [t for t in jieba.lcut(text.lower()) if t.strip()]

    docs = []
    for e in experts:
        parts = [e.summary, " ".join(e.keywords), " ".join(e.research_areas)]
        parts += [f"{a.title} {a.abstract}" for a in e.achievements]
        docs.append(tokens(" ".join(parts)))
    retriever = bm25s.BM25(method="lucene")
    retriever.index(docs, show_progress=False)
    ids = [e.id for e in experts]

    def rank(need: NeedRecord) -> list[str]:
        query = [t for t in tokens(need.text()) if t in retriever.vocab_dict]
        if not query:
            return []
        scores = retriever.get_scores(query)
        return [ids[i] for i in np.argsort(-scores, kind="stable")[:100]]

    return rank


def engine_ranker(engine: Engine, attributes=None) -> Ranker:
    def rank(need: NeedRecord) -> list[str]:
        return [s.expert_id for s in engine.rank(need, attributes, limit=100, explain=False)]

    return rank


def dense_ranker(engine: Engine, experts: list[ExpertRecord], config: MatcherConfig) -> Ranker:
    """The dense channel alone, whatever the language (shows what the model can do)."""
    embedder = engine.embedder
    item_owner, texts = [], []
    for e in experts:
        for item in e.achievements:
            item_owner.append(e.id)
            texts.append(f"{item.title}. {item.abstract}")
        if e.keywords or e.summary:
            item_owner.append(e.id)
            texts.append(" ; ".join(e.keywords) + ". " + e.summary)
    vectors = embedder.encode(texts, batch_size=64)
    owners = np.array(item_owner)

    def rank(need: NeedRecord) -> list[str]:
        sims = vectors @ embedder.encode([need.text()])[0]
        per_expert: dict[str, list[float]] = {}
        for owner, sim in zip(owners, sims, strict=True):
            per_expert.setdefault(owner, []).append(float(sim))
        scores = {e: aggregate(v, config.aggregation, config.top_k) for e, v in per_expert.items()}
        return sorted(scores, key=lambda e: -scores[e])[:100]

    return rank


def evaluate_single(rankers: dict[str, Ranker], needs: list[NeedRecord], truth: dict[str, str]) -> dict:
    results = {}
    for name, rank in rankers.items():
        started = time.perf_counter()
        rr, rr10, a1, a5 = [], [], [], []
        for need in needs:
            ranked = rank(need)
            rr.append(reciprocal_rank(ranked, truth[need.id]))
            rr10.append(reciprocal_rank(ranked, truth[need.id], cutoff=10))
            a1.append(hit_at(ranked, truth[need.id], 1))
            a5.append(hit_at(ranked, truth[need.id], 5))
        results[name] = {"mrr": bootstrap(rr), "mrr@10": bootstrap(rr10), "acc@1": bootstrap(a1), "acc@5": bootstrap(a5),
                         "_rr": rr, "_rr10": rr10, "seconds": round(time.perf_counter() - started, 1)}
    return results


def evaluate_graded(rankers: dict[str, Ranker], needs: list[NeedRecord], gains: dict[str, dict[str, int]]) -> dict:
    results = {}
    for name, rank in rankers.items():
        values = [ndcg_at(rank(need), gains[need.id], 10) for need in needs]
        results[name] = {"ndcg@10": bootstrap(values), "_ndcg": values}
    return results


def build_engine(experts, needs, embedder, config: MatcherConfig) -> Engine:
    engine = Engine(config, embedder)
    engine.build(experts, needs)
    return engine


def run(quick: bool, aggregations: bool) -> dict:
    from matcher.embedding import load_embedder

    embedder = load_embedder(os.environ.get("MATCHER_EMBEDDING_MODEL") or None)
    config = MatcherConfig()
    report: dict = {"model": embedder.name, "covers": embedder.covers, "config": {"aggregation": config.aggregation, "top_k": config.top_k}}
    papers = load_csl()
    if quick:
        papers = papers[:400]

    experts, needs, truth = csl_routing(papers)
    full = build_engine(experts, needs, embedder, config)
    lexical = build_engine(experts, needs, None, config)
    rankers = {"bm25_plain": plain_bm25(experts), "lexical": engine_ranker(lexical),
               "dense": dense_ranker(full, experts, config), "full": engine_ranker(full)}
    report["csl_routing"] = {"experts": len(experts), "needs": len(needs), **evaluate_single(rankers, needs, truth)}
    if aggregations:
        report["aggregation_sweep"] = sweep(experts, needs, truth, embedder)

    experts, needs, truth = csl_title_to_abstract(papers)
    full = build_engine(experts, needs, embedder, config)
    lexical = build_engine(experts, needs, None, config)
    rankers = {"bm25_plain": plain_bm25(experts), "lexical": engine_ranker(lexical),
               "dense": dense_ranker(full, experts, config), "full": engine_ranker(full)}
    report["csl_title_abstract"] = {"documents": len(experts), "queries": len(needs), **evaluate_single(rankers, needs, truth)}

    demo = load_demo()
    gains = _eligible_gains(demo)
    full = build_engine(demo.experts, demo.needs, embedder, config)
    lexical = build_engine(demo.experts, demo.needs, None, config)
    rankers = {"bm25_plain": plain_bm25(demo.experts), "lexical": engine_ranker(lexical, demo.attributes),
               "full": engine_ranker(full, demo.attributes)}
    graded = evaluate_graded(rankers, demo.needs, gains)
    by_case = {}
    for case in sorted(set(demo.hard_cases.values())):
        idx = [i for i, n in enumerate(demo.needs) if demo.hard_cases.get(n.id) == case]
        by_case[case] = {name: round(float(np.mean([graded[name]["_ndcg"][i] for i in idx])), 3) for name in rankers} | {"needs": len(idx)}
    report["demo"] = {"needs": len(demo.needs), "judgements": sum(len(g) for g in gains.values()), **graded, "hard_cases": by_case}
    report["deltas"] = {
        "routing_mrr_full_minus_bm25": paired_bootstrap_delta(report["csl_routing"]["full"]["_rr"], report["csl_routing"]["bm25_plain"]["_rr"]),
        "title_abstract_mrr10_full_minus_bm25": paired_bootstrap_delta(report["csl_title_abstract"]["full"]["_rr10"], report["csl_title_abstract"]["bm25_plain"]["_rr10"]),
        "demo_ndcg10_full_minus_bm25": paired_bootstrap_delta(graded["full"]["_ndcg"], graded["bm25_plain"]["_ndcg"]),
    }
    return report


def _eligible_gains(demo) -> dict[str, dict[str, int]]:
    """Judgements minus pairs the service may never suggest (same organisation, declared
    conflicts): no system is rewarded or punished for them."""
    needs = {n.id: n for n in demo.needs}
    gains = {}
    for need_id, labels in demo.judgements.items():
        need = needs.get(need_id)
        if need is None:
            continue
        gains[need_id] = {e: g for e, g in labels.items()
                          if demo.attributes[e].organization != need.organization
                          and need.organization not in demo.attributes[e].declared_conflicts}
    return gains


def sweep(experts, needs, truth, embedder) -> dict:
    """Routing MRR for each aggregation, to choose the default by measurement."""
    out = {}
    settings = [("max", 1), ("topk", 2), ("topk", 3), ("topk", 5), ("mean", 0)]
    for method, k in settings:
        config = dataclasses.replace(MatcherConfig(), aggregation=method, top_k=max(k, 1))
        engine = build_engine(experts, needs, None, config)
        label = method if method != "topk" else f"top{k}"
        out[label] = evaluate_single({label: engine_ranker(engine)}, needs, truth)[label]["mrr"]
    demo = load_demo()
    gains = _eligible_gains(demo)
    for method, k in settings:
        config = dataclasses.replace(MatcherConfig(), aggregation=method, top_k=max(k, 1))
        engine = build_engine(demo.experts, demo.needs, embedder, config)
        label = method if method != "topk" else f"top{k}"
        out[f"demo_{label}"] = evaluate_graded({label: engine_ranker(engine, demo.attributes)}, demo.needs, gains)[label]["ndcg@10"]
    return out


def _fmt(triple) -> str:
    mean, low, high = triple
    return f"{mean:.3f} [{low:.3f}, {high:.3f}]"


def print_table(report: dict) -> None:
    print(f"model: {report['model']} covers={report['covers']}  aggregation={report['config']}")
    r = report["csl_routing"]
    print(f"\nCSL expert routing ({r['experts']} experts, {r['needs']} needs)")
    print(f"{'system':<12} {'MRR':<24} {'acc@1':<24} {'acc@5':<24}")
    for name in ("bm25_plain", "lexical", "dense", "full"):
        print(f"{name:<12} {_fmt(r[name]['mrr']):<24} {_fmt(r[name]['acc@1']):<24} {_fmt(r[name]['acc@5']):<24}")
    t = report["csl_title_abstract"]
    print(f"\nCSL title → abstract ({t['documents']} abstracts, {t['queries']} titles)")
    print(f"{'system':<12} {'MRR@10':<24} {'acc@1':<24}")
    for name in ("bm25_plain", "lexical", "dense", "full"):
        print(f"{name:<12} {_fmt(t[name]['mrr@10']):<24} {_fmt(t[name]['acc@1']):<24}")
    d = report["demo"]
    print(f"\nDemo judgements ({d['needs']} needs, {d['judgements']} labels)")
    for name in ("bm25_plain", "lexical", "full"):
        print(f"{name:<12} nDCG@10 {_fmt(d[name]['ndcg@10'])}")
    print("hard cases (mean nDCG@10):", json.dumps(d["hard_cases"], ensure_ascii=False))
    print("\npaired deltas (full − bm25_plain, 95% interval):")
    for key, value in report["deltas"].items():
        print(f"  {key:<40} {_fmt(value)}")
    if "aggregation_sweep" in report:
        print("\naggregation sweep:", {k: _fmt(v) for k, v in report["aggregation_sweep"].items()})


def _strip(obj):
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if not k.startswith("_")}
    if isinstance(obj, tuple):
        return [round(x, 4) for x in obj]
    return obj


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--quick", action="store_true", help="first 400 CSL papers only")
    parser.add_argument("--aggregations", action="store_true", help="also sweep the aggregation settings")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    report = run(args.quick, args.aggregations)
    if args.json:
        json.dump(_strip(report), sys.stdout, ensure_ascii=False, indent=1)
        print()
    else:
        print_table(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
