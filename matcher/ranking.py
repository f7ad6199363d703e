"""Scoring a need against the index: candidates, expert-level channel scores, fusion,
structured features, hard constraints, calibrated relevance and explanations.

Every score is a function of the need and one expert alone (see :mod:`matcher.fusion`), so
it means the same on every need. Live facts about experts (capacity, conflicts, region) are
passed in by the caller for the candidates :meth:`RankingMixin.candidates` names; the engine
never calls back into a database while ranking.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from .evidence import evidence_terms, matched_terms
from .fusion import band, fuse, lexical_value, load_calibration, pair_key, scale
from .records import ExpertAttributes, NeedRecord
from .scoring import aggregate, features, hard_constraints
from .text import detect_language, normalise


@dataclass
class Query:
    need: NeedRecord
    lang: str
    terms: dict[str, float]
    origins: dict[str, str]  # token added by expansion -> phrase of the need it came from
    vectors: dict[str, np.ndarray]  # dense channel -> query vector (channels that read the need)
    lexical_max: float = 1.0  # the best BM25 any document could reach for these terms

    @property
    def vector(self) -> np.ndarray | None:
        """The first dense channel's vector (for callers that know of one channel)."""
        return next(iter(self.vectors.values()), None)


@dataclass
class Suggestion:
    expert_id: str
    score: float
    text_score: float
    relevance: float = 0.0  # calibrated probability that the expert is relevant
    band: str = "weak"
    reasons: list[dict] = field(default_factory=list)
    evidence: dict = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    channels: dict[str, float] = field(default_factory=dict)  # raw expert-level score per channel


_NO_ATTRIBUTES = ExpertAttributes()


class RankingMixin:
    """Query-time half of :class:`matcher.engine.Engine`."""

    # -- queries -------------------------------------------------------------------------------
    def prepare_query(self, need: NeedRecord) -> Query:
        text = normalise(need.text())
        lang = detect_language(text)
        counts = Counter(self.text.tokens(need.title) + self.text.tokens(need.description))
        terms = {token: 1.0 + 0.5 * float(np.log(count)) for token, count in counts.items()}
        origins: dict[str, str] = {}
        for expansion in self.glossary.expand(text):
            weight = self.config.translation_weight if expansion.kind == "translation" else self.config.synonym_weight
            for token in self.text.tokens(expansion.target, normalised=True):
                if token not in terms or (token in origins and terms[token] < weight):
                    terms[token] = weight
                    origins[token] = expansion.source
        limit = max(self.config.term_prune_min_docs, self.config.term_prune_share * self.lexical.n_docs)
        frequent = {t for t in terms if self.lexical.doc_frequency(t) > limit}
        if frequent and len(frequent) < len(terms):
            terms = {t: w for t, w in terms.items() if t not in frequent}
            origins = {t: o for t, o in origins.items() if t in terms}
        vectors = {name: channel.query_vector(need.id, need.text())
                   for name, channel in self.dense.items() if channel.reads(lang)}
        return Query(need=need, lang=lang, terms=terms, origins=origins, vectors=vectors,
                     lexical_max=self._lexical_max(terms, origins))

    def _lexical_max(self, terms: dict[str, float], origins: dict[str, str]) -> float:
        """What a document matching every one of the need's own words would score: the
        denominator that makes the lexical channel a share, the same whatever the other
        experts. Expansions are optional (they add, never dilute); a word no document holds
        counts with the idf of a word one document holds."""
        rare = self.lexical.idf_of_frequency(1)
        total = sum(w * (self.lexical.idf(t) if self.lexical.doc_frequency(t) else rare)
                    for t, w in terms.items() if t not in origins)
        return total if total > 0 else 1.0

    def candidates(self, query: Query, *, all_experts: bool = False) -> list[str]:
        """Experts worth scoring for the query: every expert in a small index; above
        ``score_all_below_experts``, the best items and expert documents for the need's most
        informative terms and the nearest items of each dense channel."""
        cfg = self.config
        if all_experts or self.expert_count <= cfg.score_all_below_experts:
            return list(self.expert_items)
        k = cfg.candidate_items
        short: dict[str, float] = {}
        postings = 0
        for term in sorted((t for t in query.terms if self.lexical.doc_frequency(t) > 0),
                           key=lambda t: (-query.terms[t] * self.lexical.idf(t), t)):
            cost = self.lexical.doc_frequency(term)
            if len(short) >= cfg.candidate_min_terms and postings + cost > cfg.candidate_postings:
                continue
            short[term] = query.terms[term]
            postings += cost
        found: set[str] = set()
        for index, owners, alive in ((self.lexical, self.item_expert, self.item_alive),
                                     (self.expert_lexical, self.expert_order, None)):
            scores = index.scores(short, len(owners))
            if len(scores):
                top = np.argpartition(-scores, min(k, len(scores) - 1))[:k]
                found.update(owners[i] for i in top if scores[i] > 0 and (alive is None or alive[i]))
        for name, vector in query.vectors.items():
            ids, _ = self.dense[name].vectors.search(vector, k)
            found.update(self.item_expert[i] for i in ids if self.item_alive[i])
        return sorted(e for e in found if e in self.expert_items)

    def rank(self, need: NeedRecord, attributes: Mapping[str, ExpertAttributes] | None = None, *, limit: int | None = 20,
             all_experts: bool = False, explain: bool = True, include_excluded: bool = False,
             query: Query | None = None, candidates: list[str] | None = None) -> list[Suggestion]:
        """Experts for ``need``, best first: up to ``limit`` eligible experts, then (with
        ``include_excluded``) up to ``limit`` experts a hard constraint rules out, each carrying
        its ``excluded`` reasons. ``attributes`` holds the live facts of (at least) the
        candidates; an expert missing from it is scored without them."""
        query = query or self.prepare_query(need)
        candidates = candidates if candidates is not None else self.candidates(query, all_experts=all_experts)
        if not candidates:
            return []
        item_parts = self._item_parts(query, candidates)
        attributes = attributes or {}
        weights: dict[str, tuple[dict[str, float], dict[str, float]]] = {}
        scored = [self._score_expert(query, e, item_parts[e], attributes.get(e), weights) for e in candidates]
        eligible = sorted((s for s in scored if not s[0].excluded), key=lambda s: (-s[0].score, s[0].expert_id))
        excluded = sorted((s for s in scored if s[0].excluded), key=lambda s: (-s[0].score, s[0].expert_id))
        if limit is not None:
            eligible, excluded = eligible[:limit], excluded[:limit]
        result = [self._finish(*s) for s in eligible + (excluded if include_excluded else [])]
        if explain:
            self._explain_all(query, result, item_parts)
        return result

    # -- scoring -------------------------------------------------------------------------------
    def _item_parts(self, query: Query, candidates: list[str]) -> dict[str, dict]:
        """Per candidate: its item ids, each item's lexical share and dense cosines, and the
        expert document's lexical share."""
        item_ids = np.fromiter((i for e in candidates for i in self.expert_items[e]), dtype=np.int64)
        lexical = dict(zip(item_ids.tolist(), (self.lexical.scores_for(item_ids, query.terms) / query.lexical_max).tolist(),
                           strict=True))
        ordinals = np.fromiter((self.expert_ordinal[e] for e in candidates), dtype=np.int64, count=len(candidates))
        whole = dict(zip(candidates, (self.expert_lexical.scores_for(ordinals, query.terms) / query.lexical_max).tolist(),
                         strict=True))
        dense = {name: self.dense[name].similarities(vector, item_ids.tolist()) for name, vector in query.vectors.items()}
        return {e: {"items": self.expert_items[e], "lexical": lexical, "whole": whole[e], "dense": dense} for e in candidates}

    def _expert_lang(self, item_ids: list[int]) -> str:
        """The most common of zh / en among the items (the first seen on a tie), else zh."""
        counts: dict[str, int] = {}
        item_lang = self.item_lang
        for i in item_ids:
            lang = item_lang[i]
            if lang == "zh" or lang == "en":
                counts[lang] = counts.get(lang, 0) + 1
        return max(counts, key=counts.__getitem__) if counts else "zh"

    def _channel_scores(self, parts: dict) -> dict[str, float]:
        cfg = self.config
        ids = parts["items"]
        lex_items = aggregate([parts["lexical"][i] for i in ids], cfg.aggregation, cfg.top_k)
        raw = {"lexical": cfg.item_level_share * lex_items + (1 - cfg.item_level_share) * parts["whole"]}
        for name, sims in parts["dense"].items():
            values = [sims[i] for i in ids if i in sims]
            if values:
                raw[name] = aggregate(values, cfg.aggregation, cfg.top_k)
        return raw

    def text_parts(self, pair: str, raw: Mapping[str, float]) -> dict[str, float]:
        """The scaled lexical and semantic parts of the text score for raw channel scores."""
        cfg = self.config
        scales = cfg.channel_scales.get(pair) or cfg.channel_scales["zh-zh"]
        power = cfg.lexical_power.get(pair, 1.0)
        parts = {"lexical": scale(lexical_value(raw["lexical"], power), scales["lexical"])}
        dense_raw = {c: v for c, v in raw.items() if c != "lexical" and c in scales}
        semantic, used = fuse(dense_raw, scales, cfg.dense_shares.get(pair, {}))
        if used:
            parts["semantic"] = semantic
        return parts

    def _score_expert(self, query: Query, expert_id: str, parts: dict, attrs: ExpertAttributes | None,
                      weights: dict | None = None) -> tuple[Suggestion, dict, dict, dict, dict]:
        """The expert's score (and what :meth:`_finish` needs to explain it). ``weights``
        caches the weights per language pair within one ranking."""
        cfg = self.config
        attrs = attrs or _NO_ATTRIBUTES
        ids = parts["items"]
        pair = pair_key(query.lang, self._expert_lang(ids))
        raw = self._channel_scores(parts)
        text_values = self.text_parts(pair, raw)
        cached = weights.get(pair) if weights is not None else None
        if cached is None:
            cached = cfg.score_weights(pair)
            if weights is not None:
                weights[pair] = cached
        text_weights, feature_weights = cached
        present = {p: w for p, w in text_weights.items() if p in text_values}
        total = sum(present.values())
        scale_to = sum(text_weights.values())
        text_w = {p: (w / total * scale_to if total > 0 else 0.0) for p, w in present.items()}
        text = sum(text_w[p] * text_values[p] for p in text_w)
        latest_year = attrs.latest_year
        if latest_year is None:
            latest_year = max((self.item_year[i] for i in ids if self.item_year[i]), default=None)
        values = features(self.taxonomy, query.need, attrs, latest_year, cfg.recency_full_years, cfg.recency_zero_years)
        score = text + sum(w * values.get(code, 0.0) for code, w in feature_weights.items())
        suggestion = Suggestion(expert_id=expert_id, score=round(float(score), 6), text_score=round(float(text), 6),
                                flags=["full_capacity"] if attrs.remaining_capacity == 0 else [],
                                excluded=hard_constraints(query.need, attrs))
        return suggestion, raw, text_values, text_w, {"values": values, "weights": feature_weights}

    @staticmethod
    def _finish(suggestion: Suggestion, raw: dict, text_values: dict, text_w: dict, feature: dict) -> Suggestion:
        """Calibrated relevance, band, reasons and raw channel scores: only for the experts
        returned, not for every candidate."""
        values, feature_weights = feature["values"], feature["weights"]
        suggestion.relevance = round(load_calibration().probability(suggestion.score), 4)
        suggestion.band = band(suggestion.relevance)
        suggestion.reasons = [{"code": p, "value": round(text_values[p], 4), "weight": round(w, 4),
                               "contribution": round(w * text_values[p], 4)} for p, w in text_w.items()]
        suggestion.reasons += [{"code": code, "value": round(values.get(code, 0.0), 4), "weight": round(w, 4),
                                "contribution": round(w * values.get(code, 0.0), 4)} for code, w in feature_weights.items()]
        suggestion.channels = {c: round(float(v), 4) for c, v in raw.items()}
        return suggestion

    # -- explanation ---------------------------------------------------------------------------
    def _item_relevance(self, query: Query, parts: dict, item_id: int) -> float:
        """One item's score on the scale of the fused text score (for ordering evidence)."""
        raw = {"lexical": parts["lexical"][item_id]}
        for name, sims in parts["dense"].items():
            if item_id in sims:
                raw[name] = sims[item_id]
        pair = pair_key(query.lang, self.item_lang[item_id])
        values = self.text_parts(pair, raw)
        weights, _ = self.config.score_weights(pair)
        present = {p: w for p, w in weights.items() if p in values}
        total = sum(present.values()) or 1.0
        return sum(w / total * values[p] for p, w in present.items())

    def _explain_all(self, query: Query, suggestions: list[Suggestion], item_parts: dict[str, dict]) -> None:
        """Evidence for each suggestion (see :meth:`_explain`), looking the need's terms up in
        all their closest items at once."""
        ranked = {s.expert_id: sorted(item_parts[s.expert_id]["items"],
                                      key=lambda i, p=item_parts[s.expert_id]: (-self._item_relevance(query, p, i), i))
                  for s in suggestions}
        found = self.lexical.tokens_in(sorted({i for r in ranked.values() for i in r[:2]}), list(query.terms))
        terms = evidence_terms(query, self.lexical.idf, self.text.user_terms)
        for suggestion in suggestions:
            self._explain(query, suggestion, item_parts[suggestion.expert_id], ranked[suggestion.expert_id], found, terms)

    def _explain(self, query: Query, suggestion: Suggestion, parts: dict, ranked: list[int] | None = None,
                 found: dict[int, set[str]] | None = None, terms: list[str] | None = None) -> None:
        """Evidence: the expert's items most relevant to this need first, and the need's terms
        found in the closest ones (function words, bare numbers and stray characters left out)."""
        if ranked is None:
            ranked = sorted(parts["items"], key=lambda i: (-self._item_relevance(query, parts, i), i))
        if found is None:
            found = self.lexical.tokens_in(ranked[:2], list(query.terms))
        matched = matched_terms(query, ranked[:2], found, self.lexical.idf, self.text.user_terms, terms)
        best = ranked[0]
        suggestion.evidence = {
            "matched_terms": matched,
            "best_item": {"kind": self.item_kind[best], "ref": self.item_ref[best], "title": self.item_title[best],
                          "year": self.item_year[best], "score": round(max(0.0, min(1.0, self._item_relevance(query, parts, best))), 4)},
            "item_order": [self.item_ref[i] for i in ranked if self.item_ref[i]],
        }
