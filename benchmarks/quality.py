"""Matching quality on Chinese, English and cross-lingual sets: every channel alone, the fusion
(the full engine) and the calibrated bands' reliability, with 95% bootstrap intervals and paired
intervals of the engine minus every other row. Prints a table (or JSON); never fails on a number.

    python -m benchmarks.quality [--json] [--quick] [--aggregations] [--english-experts N] [--store FILE]

Sets:
* Chinese, CSL dev (``../shared/datasets/csl-dev``): discipline routing (MRR), title → abstract
  (known item, MRR@10) and a cross-need row: for each discipline expert, the AUC of its scores on
  the needs of its own discipline against all others.
* English, the ``test`` half of ``benchmarks.english_dev`` (real ML Anthology metadata): author
  routing and title → abstract with ``--english-experts`` experts and twice as many abstracts,
  and the per-expert cross-need AUC of ``english_dev.cross_need_task``.
* Demo judgements (zh + en): nDCG@10 on every judged need and on each hard case (among them
  ``cross_language``: English needs whose relevant experts write in Chinese).
* Reliability of the calibrated relevance: expected calibration error (10 bins) and, per band,
  the pairs and the share relevant; on the demo's judged pairs (relevant = grade >= 2; the
  calibration is fitted on them, so this is in-sample) and on every pair of the routing tasks.

Rows: ``bm25_plain`` (external baseline), ``lexical``, ``st`` and ``e5`` (each channel alone:
the engine with that channel's weight 1, the others 0, features off; a channel that reads fewer
than half of a set's needs has no row there), ``engine_text`` (the fusion without structured features)
and ``engine`` (the full engine). Scores are ``Suggestion.score``, which is comparable across
needs. On the title -> abstract sets (metrics on the top 10 only) each need scores the engine's
own candidates (``KNOWN_ITEM_CANDIDATES`` items from every channel, the path it takes above
``score_all_below_experts``), which keeps every channel's top 10 exact at a fraction of the
cost; elsewhere every expert is scored. Vectors come through one embedding store file (``--store``, seeded with the demo's
vectors), so a second run embeds nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from matcher import EmbeddingStore, MatcherConfig
from matcher.embedding import load_channels
from matcher.embstore import shipped_seeds
from matcher.fusion import load_calibration
from matcher.text import detect_language

from .datasets import csl_routing, csl_title_to_abstract, load_csl, load_demo
from .metrics import bootstrap
from .quality_tasks import (
    BASELINE,
    ENGINE,
    ENGINE_TEXT,
    Task,
    all_pairs,
    build_engine,
    channels_reading,
    cross_need_values,
    csl_cross_need_labels,
    judged_pairs,
    ndcg_values,
    reliability,
    routing_values,
    score_systems,
    summarise,
    system_configs,
)

DEFAULT_STORE = Path(tempfile.gettempdir()) / "quality-embeddings.sqlite"
AGGREGATIONS = (("max", 1), ("topk", 2), ("topk", 3), ("topk", 5), ("mean", 1))
ROUTING_METRICS = ("rr", "acc@1", "acc@5")
KNOWN_ITEM_CANDIDATES = 30  # items per channel scored on title -> abstract (see Task.candidate_items)
log = logging.getLogger("benchmarks.quality")


def eligible_gains(demo) -> dict[str, dict[str, int]]:
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


def _routing_block(task: Task, rankings, metrics: tuple[str, ...], primary: str) -> dict:
    values = {name: {m: routing_values(r, task)[m] for m in metrics} for name, r in rankings.items()}
    return {"experts": len(task.experts), "needs": len(task.needs), **summarise(values, primary)}


def _cross_need_block(rankings, labels) -> dict:
    values = {name: {"auc": cross_need_values(r, labels)} for name, r in rankings.items()}
    return {"experts": len(values[ENGINE]["auc"]), **summarise(values, "auc")}


def _sweep(engine, task: Task, metric) -> dict:
    """The engine's primary metric for each aggregation of item scores into an expert score."""
    out = {}
    for method, k in AGGREGATIONS:
        label = method if method != "topk" else f"top{k}"
        config = dataclasses.replace(engine.config, aggregation=method, top_k=k)
        rankings = score_systems(engine, task, {ENGINE: config}, baseline=False)[ENGINE]
        out[label] = bootstrap(metric(rankings))
    return out


def run_task(task: Task, encoders, store) -> tuple:
    started = time.perf_counter()
    engine = build_engine(task, encoders, store)
    configs = system_configs(MatcherConfig(), channels_reading(engine, task.needs))
    rankings = score_systems(engine, task, configs)
    log.warning("%s: %d experts, %d needs scored in %.0f s", task.name, len(task.experts), len(task.needs),
                time.perf_counter() - started)
    return engine, rankings


def chinese(report: dict, encoders, store, quick: bool, aggregations: bool) -> None:
    papers = load_csl()[: 400 if quick else None]
    experts, needs, truth = csl_routing(papers)
    task = Task("csl_routing", experts, needs, {k: {v} for k, v in truth.items()})
    engine, rankings = run_task(task, encoders, store)
    report["csl_routing"] = _routing_block(task, rankings, ROUTING_METRICS, "rr")
    report["csl_cross_need"] = _cross_need_block(rankings, csl_cross_need_labels(task))
    report["reliability"]["csl_routing_all_pairs"] = reliability(*all_pairs(rankings[ENGINE], task))
    if aggregations:
        report["aggregation_sweep"]["csl_routing_mrr"] = _sweep(
            engine, task, lambda r: routing_values(r, task)["rr"])
    experts, needs, truth = csl_title_to_abstract(papers)
    task = Task("csl_title_abstract", experts, needs, {k: {v} for k, v in truth.items()}, candidate_items=KNOWN_ITEM_CANDIDATES)
    _, rankings = run_task(task, encoders, store)
    report["csl_title_abstract"] = _routing_block(task, rankings, ("rr@10", "acc@1"), "rr@10")


def english(report: dict, encoders, store, experts_n: int, aggregations: bool) -> None:
    from . import english_dev

    experts, needs, relevant = english_dev.expert_routing_task(split="test", max_experts=experts_n, max_needs=experts_n)
    task = Task("en_routing", experts, needs, relevant)
    engine, rankings = run_task(task, encoders, store)
    report["en_routing"] = _routing_block(task, rankings, ROUTING_METRICS, "rr")
    report["reliability"]["en_routing_all_pairs"] = reliability(*all_pairs(rankings[ENGINE], task))
    cn_experts, cn_needs, labels = english_dev.cross_need_task(split="test", max_experts=experts_n, max_needs=experts_n)
    if [e.id for e in cn_experts] != [e.id for e in experts] or [n.id for n in cn_needs] != [n.id for n in needs]:
        _, rankings = run_task(Task("en_cross_need", cn_experts, cn_needs), encoders, store)
    report["en_cross_need"] = _cross_need_block(rankings, labels)
    if aggregations:
        report["aggregation_sweep"]["en_routing_mrr"] = _sweep(engine, task, lambda r: routing_values(r, task)["rr"])
    experts, needs, relevant = english_dev.title_to_abstract_task(split="test", size=2 * experts_n)
    task = Task("en_title_abstract", experts, needs, relevant, candidate_items=KNOWN_ITEM_CANDIDATES)
    _, rankings = run_task(task, encoders, store)
    report["en_title_abstract"] = _routing_block(task, rankings, ("rr@10", "acc@1"), "rr@10")


def demo_sets(report: dict, encoders, store, aggregations: bool) -> None:
    demo = load_demo()
    gains = eligible_gains(demo)
    task = Task("demo", demo.experts, demo.needs, gains=gains, attributes=demo.attributes)
    engine, rankings = run_task(task, encoders, store)
    report["demo"] = {"needs": len(demo.needs), "judgements": sum(len(g) for g in gains.values()),
                      **summarise({name: {"ndcg@10": ndcg_values(r, task)} for name, r in rankings.items()}, "ndcg@10")}
    cases = {case: [n.id for n in demo.needs if demo.hard_cases.get(n.id) == case] for case in sorted(set(demo.hard_cases.values()))}
    cases["en_need_zh_expert"] = [n.id for n in demo.needs
                                  if demo.hard_cases.get(n.id) == "cross_language" and detect_language(n.text()) == "en"]
    for case, ids in cases.items():
        if ids:
            values = {name: {"ndcg@10": ndcg_values(r, task, ids)} for name, r in rankings.items()}
            report[f"demo_{case}"] = {"needs": len(ids), **summarise(values, "ndcg@10")}
    report["reliability"]["demo_judged_pairs"] = reliability(*judged_pairs(rankings[ENGINE], task))
    if aggregations:
        report["aggregation_sweep"]["demo_ndcg@10"] = _sweep(engine, task, lambda r: ndcg_values(r, task))


def run(*, quick: bool, aggregations: bool, english_experts: int, store_path: Path) -> dict:
    store = EmbeddingStore(store_path, seeds=shipped_seeds())
    encoders, errors = load_channels(None)
    calibration = load_calibration()
    report: dict = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip() + f", {platform.python_version()}",
        "channels": [e.describe() for e in encoders], "channel_errors": errors,
        "config": {"aggregation": MatcherConfig().aggregation, "top_k": MatcherConfig().top_k},
        "calibration": calibration.fitted_on or ("none (relevance = score clipped to [0, 1])" if not calibration.x else ""),
        "reliability": {}, "aggregation_sweep": {},
    }
    chinese(report, encoders, store, quick, aggregations)
    english(report, encoders, store, min(english_experts, 40) if quick else english_experts, aggregations)
    demo_sets(report, encoders, store, aggregations)
    report["texts_embedded_this_run"] = store.encoded
    if not aggregations:
        del report["aggregation_sweep"]
    return report


BLOCKS = (
    ("csl_routing", "Chinese: CSL discipline routing", {"rr": "MRR", "acc@1": "acc@1", "acc@5": "acc@5"}),
    ("csl_title_abstract", "Chinese: CSL title -> abstract (known item)", {"rr@10": "MRR@10", "acc@1": "acc@1"}),
    ("csl_cross_need", "Chinese: one expert's scores across needs (own discipline vs others)", {"auc": "mean AUC"}),
    ("en_routing", "English: ML Anthology author routing (test half)", {"rr": "MRR", "acc@1": "acc@1", "acc@5": "acc@5"}),
    ("en_title_abstract", "English: title -> abstract (known item, test half)", {"rr@10": "MRR@10", "acc@1": "acc@1"}),
    ("en_cross_need", "English: one expert's scores across needs (own field vs others)", {"auc": "mean AUC"}),
    ("demo", "Demo judgements, all needs (zh + en)", {"ndcg@10": "nDCG@10"}),
    ("demo_en_need_zh_expert", "Cross-lingual: demo English needs whose best experts write in Chinese", {"ndcg@10": "nDCG@10"}),
    ("demo_cross_language", "Cross-lingual: demo hard case cross_language (both directions)", {"ndcg@10": "nDCG@10"}),
    ("demo_plant_floor_language", "Demo: plant-floor wording", {"ndcg@10": "nDCG@10"}),
    ("demo_conflict_of_interest", "Demo: conflict of interest", {"ndcg@10": "nDCG@10"}),
)


def _fmt(triple) -> str:
    if triple is None:
        return "-"
    mean, low, high = triple
    return f"{mean:.3f} [{low:.3f},{high:.3f}]"


def _size(block: dict) -> str:
    return ", ".join(f"{block[k]} {k}" for k in ("experts", "needs", "judgements") if k in block)


def _best_channel(block: dict) -> str | None:
    """The channel alone (not the baseline, not a fusion) with the best primary mean."""
    channels = {n: v[block["primary"]][0] for n, v in block["systems"].items() if n not in (BASELINE, ENGINE, ENGINE_TEXT)}
    channels = {n: m for n, m in channels.items() if m == m}  # nan (no labelled query) is no candidate
    return max(channels, key=channels.get) if channels else None


def print_table(report: dict) -> None:
    print(f"quality benchmark, {report['date']}, {report['machine']}")
    print("channels: " + ", ".join(f"{c['name']}={c['model']} reads {'+'.join(c['languages'])}" for c in report["channels"])
          + (f"; unavailable: {report['channel_errors']}" if report["channel_errors"] else ""))
    print(f"aggregation: {report['config']}; calibration: {report['calibration']}")
    for key, title, metrics in BLOCKS:
        block = report.get(key)
        if not block:
            continue
        primary = metrics[block["primary"]]
        print(f"\n{title} ({_size(block)})")
        print(f"{'system':<12}" + "".join(f"{label:<22}" for label in metrics.values()) + f"engine - system ({primary})")
        for name, values in block["systems"].items():
            delta = block["engine_minus"].get(name)
            print(f"{name:<12}" + "".join(f"{_fmt(values[m]):<22}" for m in metrics) + (_fmt(delta) if delta else ""))
        best = _best_channel(block)
        if best:
            print(f"engine - best channel alone ({best}, {primary}): {_fmt(block['engine_minus'][best])}")
    print("\nCalibrated relevance (engine): expected calibration error (10 bins); per band: pairs, share relevant [95%]")
    print(f"{'set':<24}{'pairs':>7}{'relevant':>9}{'ECE':>8}  " + "".join(f"{b:<32}" for b in ("strong", "medium", "weak")))
    for name, r in report["reliability"].items():
        cells = "".join(f"{str(b['pairs']) + ' ' + _fmt(b['share_relevant']):<32}" for b in r["bands"].values())
        print(f"{name:<24}{r['pairs']:>7}{r['relevant']:>9}{r['ece']:>8.3f}  {cells}")
    for task, values in report.get("aggregation_sweep", {}).items():
        print(f"\naggregation sweep, engine, {task}: " + "; ".join(f"{k} {_fmt(v)}" for k, v in values.items()))
    print(f"\ntexts embedded this run: {report['texts_embedded_this_run']}")


def _strip(obj):
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if not str(k).startswith("_")}
    if isinstance(obj, tuple):
        return [round(x, 4) for x in obj]
    return obj


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--quick", action="store_true", help="first 400 CSL papers, at most 40 English experts")
    parser.add_argument("--aggregations", action="store_true", help="also sweep the aggregation (max, top-2/3/5, mean)")
    parser.add_argument("--english-experts", type=int, default=200, metavar="N",
                        help="English experts (and needs) sampled from the test half; 2N abstracts for title -> abstract")
    parser.add_argument("--store", type=Path, default=DEFAULT_STORE, help=f"embedding store file kept between runs (default {DEFAULT_STORE})")
    args = parser.parse_args(argv)
    if args.english_experts < 1:
        parser.error("--english-experts must be a positive number of experts")
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    report = run(quick=args.quick, aggregations=args.aggregations, english_experts=args.english_experts, store_path=args.store)
    if args.json:
        json.dump(_strip(report), sys.stdout, ensure_ascii=False, indent=1)
        print()
    else:
        print_table(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
