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
from itertools import chain

import numpy as np

from .evidence import evidence_terms, matched_terms
from .fusion import band, fuse, lexical_value, load_calibration, pair_key, scale
from .records import ExpertAttributes, NeedRecord
from .scoring import AGGREGATIONS, aggregate, features, hard_constraints
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
        ``score_all_below_experts``, the best items and expert documents for the need's terms
        as read from the lexical indexes' impact-ordered prefixes (a bounded cost at any
        scale) and the nearest items of each dense channel."""
        cfg = self.config
        if all_experts or self.expert_count <= cfg.score_all_below_experts:
            return list(self.expert_items)
        k = cfg.candidate_items
        found: set[str] = set()
        for index, owners, alive in ((self.lexical, self.item_expert, self.item_alive),
                                     (self.expert_lexical, self.expert_order, None)):
            found.update(owners[i] for i in index.top_items(query.terms, k).tolist()
                         if i < len(owners) and (alive is None or alive[i]))
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
        table = self._candidate_table(query, candidates)
        attributes = attributes or {}
        scores, texts, rows = self._score_table(query, table, attributes)
        excluded_by = [hard_constraints(query.need, attributes.get(e) or _NO_ATTRIBUTES) for e in candidates]
        order = sorted(range(len(candidates)), key=lambda n: (-scores[n], candidates[n]))
        eligible = [n for n in order if not excluded_by[n]]
        excluded = [n for n in order if excluded_by[n]]
        if limit is not None:
            eligible, excluded = eligible[:limit], excluded[:limit]
        chosen = eligible + (excluded if include_excluded else [])
        item_parts = {candidates[n]: table.parts(n) for n in chosen}
        result = []
        for n in chosen:
            attrs = attributes.get(candidates[n]) or _NO_ATTRIBUTES
            suggestion = Suggestion(expert_id=candidates[n], score=scores[n], text_score=texts[n],
                                    flags=["full_capacity"] if attrs.remaining_capacity == 0 else [],
                                    excluded=excluded_by[n])
            result.append(self._finish(suggestion, *rows(n)))
        if explain:
            self._explain_all(query, result, item_parts)
        return result

    # -- scoring -------------------------------------------------------------------------------
    def _item_parts(self, query: Query, candidates: list[str]) -> dict[str, dict]:
        """Per candidate: its item ids, each item's lexical share and dense cosines, and the
        expert document's lexical share (the per-expert form of :meth:`_candidate_table`)."""
        table = self._candidate_table(query, candidates)
        return {e: table.parts(n) for n, e in enumerate(candidates)}

    def _candidate_table(self, query: Query, candidates: list[str]) -> CandidateTable:
        """The candidates' items in one array each: lexical shares, dense cosines (NaN where
        a channel does not read the item) and the expert documents' lexical shares."""
        lists = list(map(self.expert_items.__getitem__, candidates))
        counts = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
        item_ids = np.fromiter(chain.from_iterable(lists), dtype=np.int64, count=int(counts.sum()))
        lexical = self.lexical.scores_for(item_ids, query.terms) / np.float32(query.lexical_max)
        ordinals = np.fromiter(map(self.expert_ordinal.__getitem__, candidates), dtype=np.int64, count=len(candidates))
        whole = self.expert_lexical.scores_for(ordinals, query.terms) / np.float32(query.lexical_max)
        dense = {name: self.dense[name].similarity_array(vector, item_ids) for name, vector in query.vectors.items()}
        return CandidateTable(candidates, item_ids, counts, lexical, whole, dense)

    def _score_table(self, query: Query, table: CandidateTable, attributes: Mapping[str, ExpertAttributes]):
        """Every candidate's score and text score at once (the numbers :meth:`_score_expert`
        gives one expert, in the same order of operations), and a function giving what
        :meth:`_finish` needs for one candidate."""
        cfg = self.config
        n = len(table.experts)
        seg = table.segments
        lex_items = _segment_aggregate(table.lexical.astype(np.float64), seg, n, cfg.aggregation, cfg.top_k)
        raw_lexical = cfg.item_level_share * lex_items + (1 - cfg.item_level_share) * table.whole.astype(np.float64)
        raw_dense: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name, sims in table.dense.items():
            valid = ~np.isnan(sims)
            values = _segment_aggregate(sims[valid].astype(np.float64), seg[valid], n, cfg.aggregation, cfg.top_k)
            raw_dense[name] = (values, np.bincount(seg[valid], minlength=n) > 0)
        pairs = self._expert_pairs(query.lang, table)
        pair_array = np.asarray(pairs)
        text = np.zeros(n, dtype=np.float64)
        lexical_part = np.zeros(n, dtype=np.float64)
        semantic_part = np.full(n, np.nan, dtype=np.float64)
        text_w_rows: dict[str, tuple[dict[str, float], dict[str, float]]] = {}
        for pair in sorted(set(pairs)):
            rows = np.flatnonzero(pair_array == pair)
            scales = cfg.channel_scales.get(pair) or cfg.channel_scales["zh-zh"]
            power = cfg.lexical_power.get(pair, 1.0)
            share = raw_lexical[rows]
            if power != 1.0:
                share = np.maximum(0.0, share) ** power
            low, high = scales["lexical"]
            lexical_part[rows] = (share - low) / (high - low) if high > low else share
            present = [(c, w) for c, w in cfg.dense_shares.get(pair, {}).items() if w > 0 and c in raw_dense and c in scales]
            total = np.zeros(len(rows), dtype=np.float64)
            for c, w in present:
                total = total + np.where(raw_dense[c][1][rows], w, 0.0)
            semantic = np.zeros(len(rows), dtype=np.float64)
            safe = np.where(total > 0, total, 1.0)
            for c, w in present:
                low, high = scales[c]
                value = raw_dense[c][0][rows]
                value = (value - low) / (high - low) if high > low else value
                semantic = semantic + np.where(raw_dense[c][1][rows], value * (w / safe), 0.0)
            semantic_part[rows] = np.where(total > 0, semantic, np.nan)
            text_weights, feature_weights = cfg.score_weights(pair)
            scale_to = sum(text_weights.values())
            with_semantic = ~np.isnan(semantic_part[rows])
            acc = np.zeros(len(rows), dtype=np.float64)
            for part, w in text_weights.items():
                if part == "lexical":
                    acc = acc + _renormalised(w, text_weights, scale_to, with_semantic) * lexical_part[rows]
                elif part == "semantic":
                    acc = acc + np.where(with_semantic, _renormalised(w, text_weights, scale_to, with_semantic)
                                         * np.nan_to_num(semantic_part[rows]), 0.0)
            text[rows] = acc
            text_w_rows[pair] = (text_weights, feature_weights)
        keys, values_of = self._feature_keys(query, table, attributes)
        # the features' part of the score per distinct (facts, language pair): many candidates share both
        feature_sum: dict[tuple, float] = {}
        extra = np.empty(n, dtype=np.float64)
        for row, (key, pair) in enumerate(zip(keys, pairs, strict=True)):
            value = feature_sum.get((key, pair))
            if value is None:
                values = values_of[key]
                value = feature_sum[(key, pair)] = sum(w * values.get(code, 0.0) for code, w in text_w_rows[pair][1].items())
            extra[row] = value
        scores = [round(v, 6) for v in (text + extra).tolist()]
        texts = [round(v, 6) for v in text.tolist()]

        def details(row: int) -> tuple[dict, dict, dict, dict]:
            raw = {"lexical": float(raw_lexical[row])}
            raw.update({c: float(v[row]) for c, (v, has) in raw_dense.items() if has[row]})
            text_values = {"lexical": float(lexical_part[row])}
            if not np.isnan(semantic_part[row]):
                text_values["semantic"] = float(semantic_part[row])
            text_w = _present_weights(text_w_rows[pairs[row]][0], text_values)
            return raw, text_values, text_w, {"values": values_of[keys[row]], "weights": text_w_rows[pairs[row]][1]}

        return scores, texts, details

    def _expert_pairs(self, need_lang: str, table: CandidateTable) -> list[str]:
        """Each candidate's language pair: the need's language and the expert's (:func:`expert_langs`)."""
        langs = expert_langs(self.item_lang_codes(self.item_lang)[table.item_ids], table.segments, len(table.experts))
        by_code = [pair_key(need_lang, lang) for lang in _EXPERT_LANGS]
        return [by_code[code] for code in langs.tolist()]

    def _expert_lang(self, item_ids: list[int]) -> str:
        """One expert's language (:func:`expert_langs` of their items)."""
        codes = self.item_lang_codes(self.item_lang)[np.asarray(item_ids, dtype=np.int64)]
        return _EXPERT_LANGS[int(expert_langs(codes, np.zeros(len(codes), dtype=np.int64), 1)[0])]

    def _feature_keys(self, query: Query, table: CandidateTable, attributes: Mapping[str, ExpertAttributes]):
        """Each candidate's key of the facts its structured features read, and the features of
        each distinct key, computed once (many experts share a region, disciplines and capacity)."""
        cfg = self.config
        item_year = self.item_year
        years = np.fromiter((item_year[i] or 0 for i in table.item_ids.tolist()), dtype=np.int64, count=len(table.item_ids))
        latest = np.zeros(len(table.experts), dtype=np.int64)
        if len(years):
            np.maximum.at(latest, table.segments, years)
        keys, holder = [], {}
        for expert, indexed_year in zip(table.experts, latest.tolist(), strict=True):
            attrs = attributes.get(expert) or _NO_ATTRIBUTES
            latest_year = attrs.latest_year
            if latest_year is None:
                latest_year = indexed_year or None
            key = (attrs.discipline_codes, attrs.region, attrs.cooperation_modes, attrs.remaining_capacity, latest_year)
            keys.append(key)
            holder.setdefault(key, attrs)
        values_of = {key: features(self.taxonomy, query.need, attrs, key[4], cfg.recency_full_years, cfg.recency_zero_years)
                     for key, attrs in holder.items()}
        return keys, values_of

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
                      expert_lang: str | None = None) -> tuple[Suggestion, dict, dict, dict, dict]:
        """The expert's score (and what :meth:`_finish` needs to explain it); ``expert_lang``
        is :meth:`_expert_lang` of the expert's items when the caller already knows it."""
        cfg = self.config
        attrs = attrs or _NO_ATTRIBUTES
        ids = parts["items"]
        pair = pair_key(query.lang, expert_lang or self._expert_lang(ids))
        raw = self._channel_scores(parts)
        text_values = self.text_parts(pair, raw)
        text_weights, feature_weights = cfg.score_weights(pair)
        text_w = _present_weights(text_weights, text_values)
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


class CandidateTable:
    """The candidates of one need and their items, as flat arrays (see
    :meth:`RankingMixin._candidate_table`)."""

    def __init__(self, experts: list[str], item_ids: np.ndarray, counts: np.ndarray, lexical: np.ndarray,
                 whole: np.ndarray, dense: dict[str, np.ndarray]) -> None:
        self.experts, self.item_ids, self.counts = experts, item_ids, counts
        self.lexical, self.whole, self.dense = lexical, whole, dense
        self.starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64) if len(counts) else counts
        self.segments = np.repeat(np.arange(len(experts), dtype=np.int64), counts)

    def items_of(self, row: int) -> list[int]:
        start = int(self.starts[row])
        return self.item_ids[start:start + int(self.counts[row])].tolist()

    def parts(self, row: int) -> dict:
        """One candidate's items and scores in the per-expert form the explanations read."""
        start, stop = int(self.starts[row]), int(self.starts[row] + self.counts[row])
        ids = self.item_ids[start:stop].tolist()
        dense = {}
        for name, sims in self.dense.items():
            block = sims[start:stop]
            dense[name] = {i: float(v) for i, v in zip(ids, block.tolist(), strict=True) if v == v}
        return {"items": ids, "lexical": dict(zip(ids, self.lexical[start:stop].tolist(), strict=True)),
                "whole": float(self.whole[row]), "dense": dense}


_LANG_CODES = {"zh": 0, "en": 1}
_EXPERT_LANGS = ("zh", "en")


def item_lang_code(lang: str) -> int:
    """An item language's code for :func:`expert_langs` (0 zh, 1 en, 2 other)."""
    return _LANG_CODES.get(lang, 2)


def expert_langs(codes: np.ndarray, segments: np.ndarray, n: int) -> np.ndarray:
    """Each expert's language (0 zh, 1 en) from their items' language codes (0 zh, 1 en,
    2 other; ``segments`` names each item's expert, items in the expert's order): the more
    common of zh and en, the one seen first on a tie, zh when there is neither. The one home
    of this rule for a single expert and for all candidates at once."""
    zh, en = codes == 0, codes == 1
    count_zh, count_en = np.bincount(segments[zh], minlength=n), np.bincount(segments[en], minlength=n)
    position = np.arange(len(codes))
    first_zh, first_en = np.full(n, len(codes)), np.full(n, len(codes))
    np.minimum.at(first_zh, segments[zh], position[zh])
    np.minimum.at(first_en, segments[en], position[en])
    return ((count_en > count_zh) | ((count_en == count_zh) & (first_en < first_zh))).astype(np.int8)


def _segment_aggregate(values: np.ndarray, segments: np.ndarray, n: int, method: str, k: int) -> np.ndarray:
    """:func:`matcher.scoring.aggregate` of each segment's values (0 for an empty one), summing
    in the same order (largest first for top-k)."""
    out = np.zeros(n, dtype=np.float64)
    if not len(values):
        return out
    counts = np.bincount(segments, minlength=n)
    if method == "max":
        best = np.full(n, -np.inf)
        np.maximum.at(best, segments, values)
        return np.where(counts > 0, best, 0.0)
    if method == "mean":
        sums = np.bincount(segments, weights=values, minlength=n)
        return np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)
    if method == "topk":
        order = np.lexsort((-values, segments))
        ordered_segments, ordered = segments[order], values[order]
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        rank = np.arange(len(ordered)) - starts[ordered_segments]
        keep = rank < max(1, k)
        sums = np.bincount(ordered_segments[keep], weights=ordered[keep], minlength=n)
        taken = np.minimum(counts, max(1, k))
        return np.where(counts > 0, sums / np.maximum(taken, 1), 0.0)
    raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {method!r}")


def _present_weights(weights: Mapping[str, float], values: Mapping[str, float]) -> dict[str, float]:
    """The text parts' weights over the parts present in ``values``, renormalised to the sum of
    all of them (a missing semantic part leaves the text score on the same scale)."""
    present = {p: w for p, w in weights.items() if p in values}
    total = sum(present.values())
    scale_to = sum(weights.values())
    return {p: (w / total * scale_to if total > 0 else 0.0) for p, w in present.items()}


def _renormalised(weight: float, weights: Mapping[str, float], scale_to: float, with_semantic: np.ndarray) -> np.ndarray:
    """:func:`_present_weights` of one part for many experts at once (semantic where present)."""
    full = sum(w for p, w in weights.items() if p in ("lexical", "semantic"))
    lexical_only = weights.get("lexical", 0.0)
    total = np.where(with_semantic, full, lexical_only)
    return np.where(total > 0, weight / np.where(total > 0, total, 1.0) * scale_to, 0.0)
