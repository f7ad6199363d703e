"""The pieces of :mod:`benchmarks.quality`: its tasks, its systems and their metrics.

A *system* scores every (need, expert) pair of a task. Every engine row is the same
:class:`matcher.Engine`, built once per task with all dense channels, scored with other weights
(``Engine.with_config``): a channel alone is the engine with that channel's fusion weight 1, the
others 0 and the structured features off. Plain BM25 (bm25s, default jieba, one document per
expert) is the external baseline.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from matcher import Engine, ExpertAttributes, ExpertRecord, MatcherConfig, NeedRecord

from .metrics import (
    bootstrap,
    expected_calibration_error,
    ndcg_at,
    paired_bootstrap_delta,
    reciprocal_rank_any,
    roc_auc,
)

ENGINE = "engine"
ENGINE_TEXT = "engine_text"  # the engine with the structured features off
BASELINE = "bm25_plain"


@dataclass
class Task:
    name: str
    experts: list[ExpertRecord]
    needs: list[NeedRecord]
    relevant: dict[str, set[str]] = field(default_factory=dict)  # need -> relevant experts
    gains: dict[str, dict[str, int]] = field(default_factory=dict)  # need -> expert -> grade (demo)
    attributes: dict[str, ExpertAttributes] | None = None
    # Known-item tasks (metrics on the top 10 only): score just the engine's own candidates,
    # this many items from each channel (>= 10 keeps every channel's top 10 exact).
    candidate_items: int | None = None


@dataclass
class Ranking:
    """One system's scores for one need over every eligible expert, best first."""

    order: list[str]
    score: dict[str, float]
    relevance: dict[str, float] = field(default_factory=dict)
    band: dict[str, str] = field(default_factory=dict)


Rankings = dict[str, Ranking]  # need id -> ranking


def _ranking(scores: dict[str, float]) -> Ranking:
    return Ranking(sorted(scores, key=lambda e: (-scores[e], e)), scores)


# -- systems -----------------------------------------------------------------------------------
def system_configs(base: MatcherConfig, dense_channels: list[str]) -> dict[str, MatcherConfig]:
    """Each channel alone (features off), the engine's text fusion alone, and the engine."""
    pairs = list(base.fusion_weights)
    off = {name: 0.0 for name in base.feature_weights}
    configs = {"lexical": dataclasses.replace(
        base, fusion_weights={p: {"lexical": 1.0, "semantic": 0.0} for p in pairs}, feature_weights=off)}
    for name in dense_channels:
        configs[name] = dataclasses.replace(
            base, fusion_weights={p: {"lexical": 0.0, "semantic": 1.0} for p in pairs},
            dense_shares={p: {name: 1.0} for p in pairs}, feature_weights=off,
            channel_scales=_scales_for(base.channel_scales, name))
    configs[ENGINE_TEXT] = dataclasses.replace(base, feature_weights=off)
    configs[ENGINE] = base
    return configs


def _scales_for(scales: dict[str, dict[str, tuple[float, float]]], channel: str) -> dict[str, dict[str, tuple[float, float]]]:
    """The engine's scales, plus for a language pair the engine does not use ``channel`` on
    (e.g. MiniLM on Chinese) that channel's scale from another pair: a positive linear map
    changes neither a need's ranking nor one expert's order of needs, so the channel alone is
    still measured there."""
    fallback = next((pair[channel] for pair in scales.values() if channel in pair), None)
    if fallback is None:
        return scales
    return {p: {channel: fallback, **values} for p, values in scales.items()}


def plain_bm25(experts: list[ExpertRecord]) -> Callable[[NeedRecord], dict[str, float]]:
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

    def score(need: NeedRecord) -> dict[str, float]:
        query = [t for t in tokens(need.text()) if t in retriever.vocab_dict]
        values = retriever.get_scores(query) if query else np.zeros(len(ids))
        return dict(zip(ids, (float(v) for v in values), strict=True))

    return score


def build_engine(task: Task, encoders, store) -> Engine:
    engine = Engine(MatcherConfig(), encoders, store=store)
    engine.build(task.experts, task.needs)
    return engine


def channels_reading(engine: Engine, needs: list[NeedRecord]) -> list[str]:
    """Dense channels that read at least half of the needs: alone, a channel scores 0 on a need
    it cannot read, so on a set mostly in another language its row would measure nothing."""
    from matcher.text import detect_language

    langs = [detect_language(n.text()) for n in needs]
    return [name for name, channel in engine.dense.items() if 2 * sum(channel.reads(lang) for lang in langs) >= len(langs)]


def score_systems(engine: Engine, task: Task, configs: dict[str, MatcherConfig], *,
                  baseline: bool = True) -> dict[str, Rankings]:
    """Rankings of every need for every system; the need's query is prepared once."""
    clones = {name: engine.with_config(config) for name, config in configs.items()}
    out: dict[str, Rankings] = {name: {} for name in ([BASELINE] if baseline else []) + list(clones)}
    bm25 = plain_bm25(task.experts) if baseline else None
    shortlist = None
    if task.candidate_items:
        shortlist = engine.with_config(dataclasses.replace(engine.config, score_all_below_experts=0,
                                                           candidate_items=task.candidate_items))
    for need in task.needs:
        query = engine.prepare_query(need)
        candidates = shortlist.candidates(query) if shortlist is not None else None
        if bm25 is not None:
            out[BASELINE][need.id] = _ranking(bm25(need))
        for name, clone in clones.items():
            suggestions = clone.rank(need, task.attributes, limit=None, explain=False, query=query, candidates=candidates)
            out[name][need.id] = Ranking([s.expert_id for s in suggestions], {s.expert_id: s.score for s in suggestions},
                                         {s.expert_id: s.relevance for s in suggestions},
                                         {s.expert_id: s.band for s in suggestions})
    return out


# -- metrics -----------------------------------------------------------------------------------
def routing_values(rankings: Rankings, task: Task, cutoff: int | None = None) -> dict[str, list[float]]:
    """Per need: reciprocal rank of the best-ranked relevant expert (``rr``, and ``rr@10``),
    hit at 1 and at 5."""
    values: dict[str, list[float]] = {"rr": [], "rr@10": [], "acc@1": [], "acc@5": []}
    for need in task.needs:
        order, relevant = rankings[need.id].order, task.relevant[need.id]
        values["rr"].append(reciprocal_rank_any(order, relevant))
        values["rr@10"].append(reciprocal_rank_any(order, relevant, cutoff=10))
        values["acc@1"].append(float(bool(relevant & set(order[:1]))))
        values["acc@5"].append(float(bool(relevant & set(order[:5]))))
    return values


def cross_need_values(rankings: Rankings, labels: dict[str, dict[str, int]]) -> list[float]:
    """Per labelled expert: AUC of that expert's scores over its labelled needs (own field
    above others?); an expert missing from a need's ranking scores 0 there."""
    values = []
    for expert, row in sorted(labels.items()):
        pos = [rankings[n].score.get(expert, 0.0) for n, y in row.items() if y]
        neg = [rankings[n].score.get(expert, 0.0) for n, y in row.items() if not y]
        auc = roc_auc(pos, neg)
        if not np.isnan(auc):
            values.append(auc)
    return values


def csl_cross_need_labels(task: Task) -> dict[str, dict[str, int]]:
    """For each CSL expert (one discipline): 1 on the needs of its own discipline, 0 on all others."""
    return {e.id: {n.id: int(e.id in task.relevant[n.id]) for n in task.needs} for e in task.experts}


def ndcg_values(rankings: Rankings, task: Task, need_ids: list[str] | None = None) -> list[float]:
    ids = need_ids if need_ids is not None else [n.id for n in task.needs]
    return [ndcg_at(rankings[i].order, task.gains[i], 10) for i in ids]


def judged_pairs(rankings: Rankings, task: Task) -> tuple[list[float], list[bool], list[str]]:
    """(calibrated relevance, judged relevant (grade >= 2), band) of every judged eligible pair."""
    probabilities, outcomes, bands = [], [], []
    for need_id, grades in task.gains.items():
        ranking = rankings[need_id]
        for expert, grade in sorted(grades.items()):
            if expert in ranking.relevance:
                probabilities.append(ranking.relevance[expert])
                outcomes.append(grade >= 2)
                bands.append(ranking.band[expert])
    return probabilities, outcomes, bands


def all_pairs(rankings: Rankings, task: Task) -> tuple[list[float], list[bool], list[str]]:
    """(relevance, relevant, band) of every scored pair of a routing task."""
    probabilities, outcomes, bands = [], [], []
    for need in task.needs:
        ranking = rankings[need.id]
        for expert in ranking.order:
            probabilities.append(ranking.relevance[expert])
            outcomes.append(expert in task.relevant[need.id])
            bands.append(ranking.band[expert])
    return probabilities, outcomes, bands


def reliability(probabilities: list[float], outcomes: list[bool], bands: list[str]) -> dict:
    """Expected calibration error (10 bins) and, per band, pairs, share relevant (95% interval
    over pairs) and mean stated relevance."""
    out: dict = {"pairs": len(outcomes), "relevant": int(sum(outcomes)),
                 "ece": round(expected_calibration_error(probabilities, outcomes, 10), 4), "bands": {}}
    for name in ("strong", "medium", "weak"):
        idx = [i for i, b in enumerate(bands) if b == name]
        out["bands"][name] = {"pairs": len(idx),
                              "share_relevant": bootstrap([float(outcomes[i]) for i in idx]) if idx else None,
                              "mean_relevance": round(float(np.mean([probabilities[i] for i in idx])), 4) if idx else None}
    return out


def summarise(values: dict[str, dict[str, list[float]]], primary: str) -> dict:
    """{system: {metric: (mean, low, high)}} and, on the primary metric, the paired interval of
    engine minus each other system; the raw per-query values are kept under ``_values``."""
    systems = {name: {metric: bootstrap(v) for metric, v in per.items()} for name, per in values.items()}
    engine = values.get(ENGINE, {}).get(primary)
    deltas = {name: paired_bootstrap_delta(engine, per[primary])
              for name, per in values.items() if engine is not None and name != ENGINE}
    return {"primary": primary, "systems": systems, "engine_minus": deltas, "_values": values}
