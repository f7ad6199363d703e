"""Fit the engine's channel scales, fusion weights and relevance calibration on development data.

    python -m benchmarks.fusion_fit [--json] [--write-calibration]
    python -m benchmarks.fusion_fit --joint [--matrices FILE]   # routing + cross-need together

Development data: CSL dev (Chinese routing, ``../shared/datasets/csl-dev``), the English
development set (``benchmarks.english_dev``, real English paper metadata; the ``dev`` half is
fitted, the ``test`` half reported), and the demo judgements for cross-lingual pairs and for
calibration. For every (need, expert) pair the engine's raw expert-level channel scores are
computed once (``Engine._item_parts`` / ``_channel_scores``, the code path of ``rank``), then:

1. scales: per channel, (median over unrelated pairs, median over relevant pairs);
2. weights: per language pair, the lexical/semantic split (and the share of each dense channel
   in the semantic part) that maximises dev MRR, reported with the test half's MRR and paired
   bootstrap intervals against each channel alone;
3. calibration: isotonic regression from the final score to "judged relevant" (demo
   judgements ≥ 2, CSL same-discipline expert), written to ``data/calibration/relevance.json``
   with ``--write-calibration``.

The fitted numbers are copied into ``matcher.config.MatcherConfig`` by hand (with the date),
so a change of defaults is a reviewed commit, never a side effect of running a benchmark.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import sys

import numpy as np

from matcher import EmbeddingStore, Engine, MatcherConfig
from matcher.embedding import load_channels
from matcher.fusion import Calibration, pair_key

from .datasets import REPO, csl_routing, load_csl, load_demo
from .metrics import bootstrap, paired_bootstrap_delta


def split_of(need_id: str) -> str:
    return "dev" if int(hashlib.sha256(need_id.encode()).hexdigest(), 16) % 2 == 0 else "test"


def channel_matrix(engine: Engine, needs) -> tuple[list[str], dict[str, np.ndarray], list[str], dict[str, dict[str, float]]]:
    """Raw channel scores of every (need, expert): experts, {channel: needs x experts}, the
    language pair per cell row-major, and feature bonuses (computed without attributes)."""
    experts = sorted(engine.expert_items)
    channels: dict[str, np.ndarray] = {}
    pairs: list[str] = []
    for row, need in enumerate(needs):
        query = engine.prepare_query(need)
        parts = engine._item_parts(query, experts)
        for col, expert_id in enumerate(experts):
            raw = engine._channel_scores(parts[expert_id])
            pairs.append(pair_key(query.lang, engine._expert_lang(parts[expert_id]["items"])))
            for name, value in raw.items():
                channels.setdefault(name, np.full((len(needs), len(experts)), np.nan))[row, col] = value
    return experts, channels, pairs, {}


def fitted_scales(channels: dict[str, np.ndarray], relevant: np.ndarray) -> dict[str, tuple[float, float]]:
    out = {}
    for name, matrix in channels.items():
        ok = ~np.isnan(matrix)
        out[name] = (round(float(np.median(matrix[ok & ~relevant])), 4), round(float(np.median(matrix[ok & relevant])), 4))
    return out


def text_scores(channels, scales, lexical_weight: float, shares: dict[str, float]) -> np.ndarray:
    """The engine's text score (see RankingMixin._score_expert) for every cell."""
    def scaled(name):
        low, high = scales[name]
        return (channels[name] - low) / (high - low)

    lex = scaled("lexical")
    dense_num = np.zeros_like(lex)
    dense_den = np.zeros_like(lex)
    for name, share in shares.items():
        if name in channels and share > 0:
            values = scaled(name)
            ok = ~np.isnan(values)
            dense_num += np.where(ok, values * share, 0.0)
            dense_den += np.where(ok, share, 0.0)
    has_dense = dense_den > 0
    semantic = np.where(has_dense, dense_num / np.where(has_dense, dense_den, 1.0), 0.0)
    return np.where(has_dense, lexical_weight * lex + (1 - lexical_weight) * semantic, lex)


def reciprocal_ranks(scores: np.ndarray, relevant: np.ndarray) -> list[float]:
    out = []
    for row in range(scores.shape[0]):
        order = np.argsort(-np.nan_to_num(scores[row], nan=-1e9), kind="stable")
        hits = np.flatnonzero(relevant[row][order])
        out.append(1.0 / (hits[0] + 1) if len(hits) else 0.0)
    return out


def fit_task(name: str, channels, relevant, need_ids, dense_names) -> dict:
    dev = np.array([split_of(n) == "dev" for n in need_ids])
    scales = fitted_scales({c: m[dev] for c, m in channels.items()}, relevant[dev])
    grid_shares = [{d: 1.0} for d in dense_names] if len(dense_names) < 2 else \
        [{dense_names[0]: s, dense_names[1]: round(1 - s, 2)} for s in np.linspace(0, 1, 11)]
    best = None
    for lexical_weight, shares in itertools.product(np.linspace(0, 1, 11), grid_shares):
        scores = text_scores(channels, scales, float(lexical_weight), shares)
        mrr = float(np.mean(reciprocal_ranks(scores[dev], relevant[dev])))
        if best is None or mrr > best[0] + 1e-9:
            best = (mrr, round(float(lexical_weight), 2), shares)
    _, lexical_weight, shares = best
    fused = text_scores(channels, scales, lexical_weight, shares)
    test = ~dev
    report = {"task": name, "scales": scales, "lexical_weight": lexical_weight, "dense_shares": shares,
              "dev_mrr": round(best[0], 4), "test_needs": int(test.sum())}
    rr_fused = reciprocal_ranks(fused[test], relevant[test])
    report["test"] = {"fused": bootstrap(rr_fused)}
    for channel, matrix in channels.items():
        rr = reciprocal_ranks(matrix[test], relevant[test])
        report["test"][channel] = bootstrap(rr)
        report["test"][f"fused_minus_{channel}"] = paired_bootstrap_delta(rr_fused, rr)
    return report


STORE = EmbeddingStore(None)


def csl_task(engine_channels) -> tuple:
    experts, needs, truth = csl_routing(load_csl())
    engine = Engine(MatcherConfig(), engine_channels, store=STORE)
    engine.build(experts, needs)
    ids, channels, _, _ = channel_matrix(engine, needs)
    relevant = np.array([[truth[n.id] == e for e in ids] for n in needs])
    return engine, needs, ids, channels, relevant


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write-calibration", action="store_true")
    parser.add_argument("--store", default="", help="embedding store file kept between runs (default: memory only)")
    parser.add_argument("--english-experts", type=int, default=200, help="experts sampled from the English dev half")
    parser.add_argument("--calibration-only", action="store_true", help="only fit and write the calibration")
    parser.add_argument("--joint", action="store_true",
                        help="fit zh-zh and en-en on routing and cross-need together (benchmarks.fusion_joint)")
    parser.add_argument("--matrices", default="", help="npz file caching the raw channel matrices between --joint runs")
    args = parser.parse_args(argv)
    global STORE
    if args.store:
        STORE = EmbeddingStore(args.store, seeds=sorted((REPO / "data" / "embeddings").glob("*.npz")))
    encoders, errors = load_channels(None)
    if args.calibration_only:
        json.dump(write_calibration(encoders), sys.stdout, indent=1)
        print()
        return 0
    report: dict = {"channels": [e.describe() for e in encoders], "errors": errors}
    if args.joint:
        report.update(joint_fit(encoders, args.english_experts, args.matrices))
        json.dump(report, sys.stdout, ensure_ascii=False, indent=1, default=str)
        print()
        return 0
    engine, needs, ids, channels, relevant = csl_task(encoders)
    report["zh-zh"] = fit_task("csl_routing", channels, relevant, [n.id for n in needs], ["e5"])
    try:
        from . import english_dev
    except ImportError as exc:
        report["en-en"] = {"skipped": f"english_dev unavailable: {exc}"}
    else:
        experts, en_needs, truth = english_dev.expert_routing_task(split="dev", max_experts=args.english_experts,
                                                                   max_needs=args.english_experts)[:3]
        en_engine = Engine(MatcherConfig(), encoders, store=STORE)
        en_engine.build(experts, en_needs)
        en_ids, en_channels, _, _ = channel_matrix(en_engine, en_needs)
        en_relevant = np.array([[e in truth[n.id] for e in en_ids] for n in en_needs])
        report["en-en"] = fit_task("english_routing", en_channels, en_relevant, [n.id for n in en_needs], ["st", "e5"])
    report["cross-lingual"] = cross_lingual_scales(encoders)
    if args.write_calibration:
        report["calibration"] = write_calibration(encoders)
    json.dump(report, sys.stdout, ensure_ascii=False, indent=1, default=str)
    print()
    return 0


def english_matrices(encoders, experts_n: int):
    """English dev split: raw channel matrix, routing truth and cross-need labels (1 own
    field, 0 other field, nan unlabelled) over the same needs x experts."""
    from . import english_dev

    experts, needs, truth = english_dev.expert_routing_task(split="dev", max_experts=experts_n, max_needs=experts_n)
    labels_by_expert = english_dev.cross_need_task(split="dev", max_experts=experts_n, max_needs=experts_n)[2]
    engine = Engine(MatcherConfig(), encoders, store=STORE)
    engine.build(experts, needs)
    ids, channels, _, _ = channel_matrix(engine, needs)
    relevant = np.array([[e in truth[n.id] for e in ids] for n in needs])
    labels = np.full(relevant.shape, np.nan)
    for col, expert_id in enumerate(ids):
        for row, need in enumerate(needs):
            if need.id in labels_by_expert.get(expert_id, {}):
                labels[row, col] = labels_by_expert[expert_id][need.id]
    return [n.id for n in needs], channels, relevant, labels


def joint_fit(encoders, experts_n: int, cache: str) -> dict:
    """zh-zh on CSL dev (routing + per-expert cross-need over every need) and en-en on the
    English dev split, each fitted on its hash-dev half and reported on the other half."""
    from pathlib import Path

    from .fusion_joint import fit_pair

    data: dict = {}
    if cache and Path(cache).exists():
        with np.load(cache, allow_pickle=True) as saved:
            data = saved["data"].item()
    if "zh" not in data:
        _, needs, _, channels, relevant = csl_task(encoders)
        data["zh"] = ([n.id for n in needs], channels, relevant, relevant.astype(float))
    if "en" not in data:
        data["en"] = english_matrices(encoders, experts_n)
    if cache:
        np.savez(cache, data=np.array(data, dtype=object))
    out = {}
    for pair, lang, dense in (("zh-zh", "zh", ["e5"]), ("en-en", "en", ["st", "e5"])):
        need_ids, channels, relevant, labels = data[lang]
        dev = np.array([split_of(n) == "dev" for n in need_ids])
        out[pair] = fit_pair(channels, relevant, labels, dev, dense)
    return out


def cross_lingual_scales(encoders) -> dict:
    """Scales of the cross-lingual pairs from the demo (English needs, Chinese-writing experts
    and the reverse): unrelated = every pair of those needs, relevant = judged 2 or 3."""
    demo = load_demo()
    engine = Engine(MatcherConfig(), encoders, store=STORE)
    engine.build(demo.experts, demo.needs)
    values: dict[str, dict[str, dict[str, list[float]]]] = {}
    for need in demo.needs:
        query = engine.prepare_query(need)
        experts = sorted(engine.expert_items)
        parts = engine._item_parts(query, experts)
        for expert_id in experts:
            pair = pair_key(query.lang, engine._expert_lang(parts[expert_id]["items"]))
            if pair not in ("en-zh", "zh-en"):
                continue
            kind = "relevant" if demo.judgements[need.id].get(expert_id, 0) >= 2 else "all"
            for channel, value in engine._channel_scores(parts[expert_id]).items():
                bucket = values.setdefault(pair, {}).setdefault(channel, {"all": [], "relevant": []})
                bucket["all"].append(value)
                if kind == "relevant":
                    bucket["relevant"].append(value)
    return {pair: {c: {"scale": (round(float(np.median(v["all"])), 4), round(float(np.median(v["relevant"])), 4))
                       if v["relevant"] else None, "relevant_pairs": len(v["relevant"]), "pairs": len(v["all"])}
                   for c, v in channels.items()} for pair, channels in values.items()}


def write_calibration(encoders) -> dict:
    """Isotonic calibration of the final score (with the configured scales and weights) on
    the demo judgements (judged pairs; relevant = grade 2 or 3)."""
    demo = load_demo()
    engine = Engine(MatcherConfig(), encoders, store=STORE)
    engine.build(demo.experts, demo.needs)
    scores, labels = [], []
    for need in demo.needs:
        ranked = {s.expert_id: s for s in engine.rank(need, demo.attributes, limit=None, explain=False, include_excluded=True)}
        for expert_id, grade in demo.judgements[need.id].items():
            if expert_id in ranked:
                scores.append(ranked[expert_id].score)
                labels.append(grade >= 2)
    calibration = Calibration.fit(scores, labels, fitted_on=f"demo judgements ({len(scores)} judged pairs, relevant = grade >= 2)")
    calibration.save()
    return {"pairs": len(scores), "relevant": int(sum(labels)), "x": calibration.x, "y": calibration.y}


if __name__ == "__main__":
    sys.exit(main())
