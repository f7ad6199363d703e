"""The matching engine: items of experts indexed in two channels, ranked per need.

An expert is a set of items (one per achievement, one for the profile text). For a need the
engine scores items in the lexical channel (BM25 with glossary expansion) and, where the model
covers both languages, the dense channel; aggregates item scores per expert; normalises each
channel per query; fuses them with structured features; applies hard constraints; explains.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .config import MatcherConfig
from .embedding import Embedder
from .glossary import Glossary, default_glossary
from .lexical import LexicalIndex, TermCounts
from .records import ExpertAttributes, ExpertRecord, NeedRecord
from .scoring import aggregate, features, hard_constraints, normalise_max, normalise_minmax
from .store import IndexStore, Snapshot
from .taxonomy import Taxonomy, load_taxonomy
from .text import TextProcessor, detect_language, normalise
from .vectors import VectorIndex

log = logging.getLogger("matcher.engine")

AttributesSource = Mapping[str, ExpertAttributes] | Callable[[list[str]], Mapping[str, ExpertAttributes]]


class ModelMismatch(Exception):
    """The stored index was built with another embedding model; rebuild it."""


@dataclass
class ItemText:
    kind: str  # "profile" or an achievement kind
    ref: str  # achievement id, "" for the profile
    title: str
    year: int | None
    fields: dict[str, str]  # title / keywords / body
    dense_text: str


@dataclass
class PreparedItem:
    expert_id: str
    item: ItemText
    tokens: list[str]


@dataclass
class Query:
    need: NeedRecord
    lang: str
    terms: dict[str, float]
    origins: dict[str, str]  # token added by expansion -> phrase of the need it came from
    vector: np.ndarray | None


@dataclass
class Suggestion:
    expert_id: str
    score: float
    text_score: float
    reasons: list[dict] = field(default_factory=list)
    evidence: dict = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)


def expert_item_texts(expert: ExpertRecord) -> list[ItemText]:
    items: list[ItemText] = []
    areas = " ; ".join(expert.research_areas)
    keywords = " ; ".join(expert.keywords)
    if areas or keywords or expert.summary:
        items.append(
            ItemText(
                kind="profile",
                ref="",
                title=areas or keywords or expert.summary[:60],
                year=None,
                fields={"title": "", "keywords": f"{areas} ; {keywords}", "body": expert.summary},
                dense_text=". ".join(p for p in (areas, keywords, expert.summary) if p),
            )
        )
    for achievement in expert.achievements:
        items.append(
            ItemText(
                kind=achievement.kind or "paper",
                ref=achievement.id,
                title=achievement.title,
                year=achievement.year,
                fields={"title": achievement.title, "keywords": "", "body": achievement.abstract},
                dense_text=f"{achievement.title}. {achievement.abstract}".strip(". "),
            )
        )
    return items


class Engine:
    def __init__(
        self,
        config: MatcherConfig | None = None,
        embedder: Embedder | None = None,
        *,
        glossary: Glossary | None = None,
        taxonomy: Taxonomy | None = None,
    ) -> None:
        self.config = config or MatcherConfig()
        self.embedder = embedder
        self.glossary = glossary if glossary is not None else default_glossary()
        self.taxonomy = taxonomy or load_taxonomy()
        self.text = _shared_text_processor(self.glossary, self.taxonomy, self.config.cjk_bigrams)
        self.expert_terms: set[str] = set()
        self._reset()

    def _reset(self) -> None:
        self.item_expert: list[str] = []
        self.item_kind: list[str] = []
        self.item_ref: list[str] = []
        self.item_title: list[str] = []
        self.item_year: list[int | None] = []
        self.item_dense_ok: list[bool] = []
        self.item_alive: list[bool] = []
        self.expert_items: dict[str, list[int]] = {}
        self.lexical = LexicalIndex(k1=self.config.bm25_k1, b=self.config.bm25_b)
        # One BM25 document per expert (all items together); ids are positions in expert_order.
        self.expert_lexical = LexicalIndex(k1=self.config.bm25_k1, b=self.config.bm25_b)
        self.expert_order: list[str] = []
        self.expert_ordinal: dict[str, int] = {}
        self.vectors = VectorIndex(self.embedder.dim, exact_max=self.config.exact_index_max_vectors,
                                   nprobe=self.config.ivf_nprobe) if self.embedder else None
        self.need_vectors: dict[str, tuple[str, np.ndarray]] = {}

    def with_config(self, config: MatcherConfig) -> Engine:
        """This engine's indexes, scored with other weights (e.g. a learned ranker); the
        indexes are shared, not copied, so this is cheap."""
        clone = copy.copy(self)
        clone.config = config
        return clone

    # -- model facts ---------------------------------------------------------------------------
    @property
    def model_name(self) -> str:
        return self.embedder.name if self.embedder else "none"

    @property
    def model_dim(self) -> int:
        return self.embedder.dim if self.embedder else 0

    def dense_covers(self, lang: str) -> bool:
        return self.embedder is not None and self.embedder.covers_language(lang)

    @property
    def expert_count(self) -> int:
        return len(self.expert_items)

    @property
    def live_item_count(self) -> int:
        return sum(len(ids) for ids in self.expert_items.values())

    # -- tokens --------------------------------------------------------------------------------
    def learn_terms(self, expert: ExpertRecord) -> None:
        new = {t for t in (*expert.keywords, *expert.research_areas) if t and t not in self.expert_terms}
        if new:
            self.expert_terms.update(new)
            self.text.add_terms(new)

    def item_tokens(self, item: ItemText) -> list[str]:
        weights = self.config.field_weights
        tokens: list[str] = []
        for name, repeat in (("title", weights.title), ("keywords", weights.keywords), ("body", weights.body)):
            text = item.fields.get(name, "")
            if text and repeat > 0:
                tokens.extend(self.text.tokens(text) * repeat)
        return tokens

    # -- building ------------------------------------------------------------------------------
    def build(self, experts: Iterable[ExpertRecord], needs: Iterable[NeedRecord] = (), *, progress: bool = False) -> None:
        """Index everything from scratch."""
        experts = list(experts)
        for expert in experts:
            self.learn_terms(expert)
        items = [(expert.id, item) for expert in experts for item in expert_item_texts(expert)]
        covered = [self.dense_covers(detect_language(item.dense_text)) for _, item in items]
        vectors = None
        if self.embedder is not None:
            vectors = self._encode_items([item.dense_text for _, item in items], covered, progress=progress)
        entries = (PreparedItem(expert_id, item, self.item_tokens(item))
                   for expert_id, item in _progress(items, progress, "tokenise items"))
        self.bulk_load(entries, vectors, covered)
        self.set_needs(list(needs), progress=progress)

    def bulk_load(self, entries: Iterable[PreparedItem], vectors: np.ndarray | None, dense_ok: Iterable[bool]) -> None:
        """Index prepared items whose tokens and vectors were computed elsewhere (a full
        rebuild, or embedding backfills run by workers); replaces the whole index. ``entries``
        may be a generator: each item's tokens are reduced to term counts as it arrives."""
        self._reset()
        counts = TermCounts()
        owners: list[int] = []
        for entry, ok in zip(entries, dense_ok, strict=True):
            item_id = self._append_item(entry.expert_id, entry.item, dense_ok=ok)
            counts.add(item_id, entry.tokens)
            owners.append(self._ordinal(entry.expert_id))
        self.lexical.build_from_counts(counts)
        self.expert_lexical.build_from_counts(counts, groups=np.asarray(owners, dtype=np.int64),
                                              keys=list(range(len(self.expert_order))))
        del counts
        if self.vectors is not None:
            if vectors is None or len(vectors) != len(self.item_expert):
                raise ValueError("bulk_load needs one vector per entry when the engine has a dense model")
            self.vectors.build(vectors)

    def _append_item(self, expert_id: str, item: ItemText, *, dense_ok: bool | None = None) -> int:
        item_id = len(self.item_expert)
        self.item_expert.append(expert_id)
        self.item_kind.append(item.kind)
        self.item_ref.append(item.ref)
        self.item_title.append(item.title)
        self.item_year.append(item.year)
        if dense_ok is None:
            dense_ok = self.dense_covers(detect_language(item.dense_text))
        self.item_dense_ok.append(dense_ok)
        self.item_alive.append(True)
        self.expert_items.setdefault(expert_id, []).append(item_id)
        return item_id

    def upsert_expert(self, expert: ExpertRecord) -> None:
        """Replace one expert's items (incremental: delta segment + FAISS add/remove)."""
        self.remove_expert(expert.id)
        self.learn_terms(expert)
        items = expert_item_texts(expert)
        if not items:
            return
        new_ids = [self._append_item(expert.id, item) for item in items]
        whole: list[str] = []
        for item_id, item in zip(new_ids, items):
            tokens = self.item_tokens(item)
            self.lexical.set(item_id, tokens)
            whole.extend(tokens)
        self.expert_lexical.set(self._ordinal(expert.id), whole)
        if self.vectors is not None:
            covered = [self.item_dense_ok[i] for i in new_ids]
            added = self.vectors.add(self._encode_items([item.dense_text for item in items], covered))
            if list(added) != new_ids:
                raise RuntimeError("vector ids and item ids diverged")

    def _encode_items(self, texts: list[str], covered: list[bool], *, progress: bool = False) -> np.ndarray:
        """Vectors for items; texts in a language the model does not cover are not encoded
        (their vector stays zero and the dense channel ignores them)."""
        vectors = np.zeros((len(texts), self.model_dim), dtype=np.float32)
        todo = [i for i, ok in enumerate(covered) if ok]
        if todo:
            encoded = self.embedder.encode([texts[i] for i in todo], batch_size=self.config.encode_batch_size, progress=progress)
            vectors[todo] = encoded
        return vectors

    def _ordinal(self, expert_id: str) -> int:
        if expert_id not in self.expert_ordinal:
            self.expert_ordinal[expert_id] = len(self.expert_order)
            self.expert_order.append(expert_id)
        return self.expert_ordinal[expert_id]

    def remove_expert(self, expert_id: str) -> None:
        if expert_id in self.expert_ordinal:
            self.expert_lexical.remove(self.expert_ordinal[expert_id])
        old = self.expert_items.pop(expert_id, [])
        for item_id in old:
            self.item_alive[item_id] = False
            self.lexical.remove(item_id)
        if old and self.vectors is not None:
            self.vectors.remove(old)

    @property
    def needs_compaction(self) -> bool:
        dead = len(self.item_alive) - self.live_item_count
        delta = max(self.lexical.delta_size, self.expert_lexical.delta_size)
        return delta > self.config.lexical_compact_at or dead > max(1000, 0.3 * len(self.item_alive))

    @staticmethod
    def need_fingerprint(need: NeedRecord) -> str:
        return hashlib.sha256(need.text().encode("utf-8")).hexdigest()[:16]

    def set_needs(self, needs: list[NeedRecord], *, progress: bool = False) -> None:
        """Embed needs once so that suggestions do not re-encode them."""
        if self.embedder is None:
            return
        todo = [n for n in needs if self.dense_covers(detect_language(n.text()))]
        if not todo:
            return
        vectors = self.embedder.encode([n.text() for n in todo], batch_size=self.config.encode_batch_size, progress=progress)
        for need, vector in zip(todo, vectors):
            self.need_vectors[need.id] = (self.need_fingerprint(need), vector)

    def upsert_need(self, need: NeedRecord) -> None:
        self.need_vectors.pop(need.id, None)
        self.set_needs([need])

    def remove_need(self, need_id: str) -> None:
        self.need_vectors.pop(need_id, None)

    # -- queries -------------------------------------------------------------------------------
    def prepare_query(self, need: NeedRecord) -> Query:
        text = normalise(need.text())
        lang = detect_language(text)
        terms: dict[str, float] = {}
        counts: dict[str, int] = {}
        for token in self.text.tokens(need.title, normalised=False) + self.text.tokens(need.description):
            counts[token] = counts.get(token, 0) + 1
        for token, count in counts.items():
            terms[token] = 1.0 + 0.5 * np.log(count)
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
        vector = None
        if self.vectors is not None and self.dense_covers(lang):
            cached = self.need_vectors.get(need.id)
            if cached is not None and cached[0] == self.need_fingerprint(need):
                vector = cached[1]
            else:
                vector = self.embedder.encode([need.text()])[0]
        return Query(need=need, lang=lang, terms=terms, origins=origins, vector=vector)

    def _candidates(self, query: Query) -> list[str]:
        """Experts worth scoring: the best items and expert documents for the need's most
        informative terms, and the nearest items in the vector index."""
        cfg = self.config
        k = cfg.candidate_items
        known = [t for t in query.terms if self.lexical.doc_frequency(t) > 0]
        short: dict[str, float] = {}
        postings = 0
        for term in sorted(known, key=lambda t: (-query.terms[t] * self.lexical.idf(t), t)):
            cost = self.lexical.doc_frequency(term)
            if len(short) >= cfg.candidate_min_terms and postings + cost > cfg.candidate_postings:
                continue
            short[term] = query.terms[term]
            postings += cost
        found: set[str] = set()
        items = self.lexical.scores(short, len(self.item_expert))
        if len(items):
            top = np.argpartition(-items, min(k, len(items) - 1))[:k]
            found.update(self.item_expert[i] for i in top if items[i] > 0 and self.item_alive[i])
        experts = self.expert_lexical.scores(short, len(self.expert_order))
        if len(experts):
            top = np.argpartition(-experts, min(k, len(experts) - 1))[:k]
            found.update(self.expert_order[i] for i in top if experts[i] > 0)
        if query.vector is not None and self.vectors is not None:
            ids, _ = self.vectors.search(query.vector, k)
            found.update(self.item_expert[i] for i in ids if self.item_alive[i])
        return sorted(e for e in found if e in self.expert_items)

    def rank(
        self,
        need: NeedRecord,
        attributes: AttributesSource | None = None,
        *,
        limit: int | None = 20,
        all_experts: bool = False,
        explain: bool = True,
        include_excluded: bool = False,
        query: Query | None = None,
    ) -> list[Suggestion]:
        """Experts for ``need``, best first: up to ``limit`` eligible experts, then (with
        ``include_excluded``) up to ``limit`` experts a hard constraint rules out, each carrying
        its ``excluded`` reasons."""
        cfg = self.config
        query = query or self.prepare_query(need)
        small = all_experts or self.expert_count <= cfg.score_all_below_experts
        if small:
            candidates = list(self.expert_items)
            lexical = self.lexical.scores(query.terms, len(self.item_expert))
            by_expert = self.expert_lexical.scores(query.terms, len(self.expert_order))
        else:
            candidates = self._candidates(query)
            item_ids = np.fromiter((i for e in candidates for i in self.expert_items[e]), dtype=np.int64)
            lexical = np.zeros(len(self.item_expert), dtype=np.float32)
            lexical[item_ids] = self.lexical.scores_for(item_ids, query.terms)
            ordinals = np.fromiter((self.expert_ordinal[e] for e in candidates), dtype=np.int64, count=len(candidates))
            by_expert = np.zeros(len(self.expert_order), dtype=np.float32)
            by_expert[ordinals] = self.expert_lexical.scores_for(ordinals, query.terms)
        if not candidates:
            return []
        lex_raw: dict[str, float] = {}
        dense_raw: dict[str, float] = {}
        item_scores: dict[str, list[tuple[int, float, float | None]]] = {}
        for expert_id in candidates:
            ids = self.expert_items[expert_id]
            lex_values = lexical[ids].tolist()
            lex_raw[expert_id] = aggregate(lex_values, cfg.aggregation, cfg.top_k)
            dense_values: list[float | None] = [None] * len(ids)
            if query.vector is not None:
                ok = [i for i in ids if self.item_dense_ok[i]]
                if ok:
                    sims = self.vectors.similarities(query.vector, np.asarray(ok, dtype=np.int64)).tolist()
                    by_id = dict(zip(ok, sims))
                    dense_values = [by_id.get(i) for i in ids]
                    dense_raw[expert_id] = aggregate(sims, cfg.aggregation, cfg.top_k)
            item_scores[expert_id] = list(zip(ids, lex_values, dense_values))
        share = cfg.item_level_share
        item_norm = normalise_max(lex_raw)
        whole_norm = normalise_max({e: float(by_expert[self.expert_ordinal[e]]) for e in candidates})
        lex_norm = {e: share * item_norm[e] + (1 - share) * whole_norm[e] for e in candidates}
        dense_norm = self._dense_on_lexical_scale(dense_raw, lex_norm)
        eligible, excluded = self._score_in_bounds(query, candidates, lex_norm, dense_norm, attributes, limit)
        if limit is not None:
            eligible, excluded = eligible[:limit], excluded[:limit]
        result = eligible + (excluded if include_excluded else [])
        for suggestion in result:
            self._reasons(suggestion)
        if explain and result:
            self._explain(query, result, item_scores, max(lex_raw.values(), default=0.0) or 1.0)
        return result

    def _text_score(self, lex: float, dense: float | None) -> tuple[float, list[tuple[str, float, float]]]:
        if dense is None:
            return lex, [("lexical", lex, 1.0)]
        total = self.config.dense_weight + self.config.lexical_weight
        wd, wl = self.config.dense_weight / total, self.config.lexical_weight / total
        return wd * dense + wl * lex, [("lexical", lex, wl), ("semantic", dense, wd)]

    def _score_in_bounds(self, query, candidates, lex_norm, dense_norm, attributes, limit):
        """Full scores (features, constraints) for candidates in order of text score, stopping
        once no remaining candidate can reach the ``limit``-th eligible score: the structured
        features add at most their summed weights, so the bound is exact. Attributes are
        fetched only for the experts actually scored, in batches."""
        cfg = self.config
        text = {e: self._text_score(lex_norm[e], dense_norm.get(e))[0] for e in candidates}
        order = sorted(candidates, key=lambda e: (-text[e], e))
        headroom = sum(cfg.feature_weights.values())
        batch = len(order) if limit is None else max(3 * limit, 60)
        eligible: list[Suggestion] = []
        excluded: list[Suggestion] = []
        position = 0
        while position < len(order):
            chunk = order[position : position + batch]
            position += batch
            attrs = _resolve_attributes(attributes, chunk)
            for expert_id in chunk:
                suggestion = self._score_expert(query, expert_id, lex_norm[expert_id], dense_norm.get(expert_id), attrs.get(expert_id))
                (excluded if suggestion.excluded else eligible).append(suggestion)
            if limit is not None and len(eligible) >= limit and position < len(order):
                eligible.sort(key=lambda s: (-s.score, s.expert_id))
                if cfg.text_weight * text[order[position]] + headroom < eligible[limit - 1].score:
                    break
        eligible.sort(key=lambda s: (-s.score, s.expert_id))
        excluded.sort(key=lambda s: (-s.score, s.expert_id))
        return eligible, excluded

    @staticmethod
    def _dense_on_lexical_scale(dense_raw: dict[str, float], lex_norm: dict[str, float]) -> dict[str, float]:
        """Dense scores mapped onto the lexical range of the experts the model can read.

        When the model reads only some experts (an English-only model and mostly Chinese
        profiles), raw or min-max dense scores would lift those experts above the others. On
        the lexical scale of their own group, the dense channel reorders the experts it can
        read without inflating them against the rest."""
        if not dense_raw:
            return {}
        unit = normalise_minmax(dense_raw)
        low = min(lex_norm[e] for e in dense_raw)
        high = max(lex_norm[e] for e in dense_raw)
        return {e: low + unit[e] * (high - low) for e in dense_raw}

    def _score_expert(self, query: Query, expert_id: str, lex: float, dense: float | None, attrs: ExpertAttributes | None) -> Suggestion:
        """Score, flags and hard-constraint reasons; ``reasons`` are filled in later, only for
        the suggestions actually returned (see :meth:`_reasons`)."""
        cfg = self.config
        attrs = attrs or _NO_ATTRIBUTES
        latest_year = attrs.latest_year
        if latest_year is None:
            latest_year = max((self.item_year[i] for i in self.expert_items[expert_id] if self.item_year[i]), default=None)
        text, _ = self._text_score(lex, dense)
        values = features(self.taxonomy, query.need, attrs, latest_year, cfg.recency_full_years, cfg.recency_zero_years)
        score = cfg.text_weight * text + sum(weight * values.get(code, 0.0) for code, weight in cfg.feature_weights.items())
        suggestion = Suggestion(expert_id=expert_id, score=round(float(score), 6), text_score=round(float(text), 6),
                                flags=["full_capacity"] if attrs.remaining_capacity == 0 else [],
                                excluded=hard_constraints(query.need, attrs))
        suggestion.reasons = [(lex, dense, values)]  # raw parts; turned into reason dicts by _reasons
        return suggestion

    def _reasons(self, suggestion: Suggestion) -> None:
        """Each channel and feature with its value, weight and contribution (they sum to the score)."""
        cfg = self.config
        lex, dense, values = suggestion.reasons[0]
        _, channel = self._text_score(lex, dense)
        reasons = [
            {"code": code, "value": round(value, 4), "weight": round(cfg.text_weight * w, 4),
             "contribution": round(cfg.text_weight * w * value, 4)}
            for code, value, w in channel
        ]
        for code, weight in cfg.feature_weights.items():
            value = values.get(code, 0.0)
            reasons.append({"code": code, "value": round(value, 4), "weight": weight, "contribution": round(weight * value, 4)})
        suggestion.reasons = reasons

    def _explain(self, query: Query, suggestions: list[Suggestion], item_scores: dict, lex_top: float) -> None:
        """Evidence for each suggestion: its closest items and the need's terms found in them."""

        def item_score(entry: tuple[int, float, float | None]) -> float:
            _, lex, dense = entry
            lex_part = lex / lex_top
            return lex_part if dense is None else 0.5 * lex_part + 0.5 * max(dense, 0.0)

        best_items = {s.expert_id: sorted(item_scores[s.expert_id], key=item_score, reverse=True)[:2] for s in suggestions}
        terms = [t for t in query.terms if t and not t.startswith("#")]
        idf = {t: self.lexical.idf(t) for t in terms}
        terms.sort(key=lambda t: (-query.terms[t], -idf[t], t))
        found = self.lexical.tokens_in([entry[0] for items in best_items.values() for entry in items], terms)
        for suggestion in suggestions:
            ranked = best_items[suggestion.expert_id]
            matched: list[dict] = []
            seen: set[str] = set()
            for item_id, _, _ in ranked:
                for token in terms:
                    if token in found.get(item_id, ()) and token not in seen:
                        seen.add(token)
                        entry = {"term": token}
                        if token in query.origins:
                            entry["via"] = query.origins[token]
                        matched.append(entry)
            best = ranked[0]
            suggestion.evidence = {
                "matched_terms": _drop_contained(matched)[:12],
                "best_item": {
                    "kind": self.item_kind[best[0]],
                    "ref": self.item_ref[best[0]],
                    "title": self.item_title[best[0]],
                    "year": self.item_year[best[0]],
                    "score": round(item_score(best), 4),
                },
            }

    # -- persistence ---------------------------------------------------------------------------
    def save(self, store: IndexStore, *, watermark: int, extra: dict | None = None) -> Snapshot:
        def writer(directory: Path) -> list[str]:
            files = ["items.json"]
            with open(directory / "items.json", "w", encoding="utf-8") as handle:
                json.dump(
                    {
                        "expert": self.item_expert,
                        "kind": self.item_kind,
                        "ref": self.item_ref,
                        "title": self.item_title,
                        "year": self.item_year,
                        "dense_ok": self.item_dense_ok,
                        "alive": self.item_alive,
                        "expert_order": self.expert_order,
                        "expert_terms": sorted(self.expert_terms),
                    },
                    handle,
                    ensure_ascii=False,
                )
            files += self.lexical.save(directory)
            files += self.expert_lexical.save(directory, prefix="expert_lexical")
            if self.vectors is not None:
                files += self.vectors.save(directory)
                need_ids = sorted(self.need_vectors)
                with open(directory / "needs.json", "w", encoding="utf-8") as handle:
                    json.dump({"ids": need_ids, "fingerprints": [self.need_vectors[i][0] for i in need_ids]}, handle)
                matrix = np.stack([self.need_vectors[i][1] for i in need_ids]) if need_ids else np.zeros((0, self.model_dim), np.float32)
                np.save(directory / "needs.npy", matrix.astype(np.float32))
                files += ["needs.json", "needs.npy"]
            return files

        manifest = {
            "model": self.model_name,
            "dim": self.model_dim,
            "watermark": int(watermark),
            "experts": self.expert_count,
            "items": self.live_item_count,
            "vector_index": self.vectors.kind if self.vectors is not None else "none",
            **(extra or {}),
        }
        return store.write(writer, manifest)

    def load_snapshot(self, snapshot: Snapshot) -> None:
        manifest = snapshot.manifest
        if manifest.get("model") != self.model_name or int(manifest.get("dim", -1)) != self.model_dim:
            raise ModelMismatch(
                f"index built with {manifest.get('model')} (dim {manifest.get('dim')}), "
                f"engine uses {self.model_name} (dim {self.model_dim})"
            )
        path = snapshot.path
        self._reset()
        with open(path / "items.json", encoding="utf-8") as handle:
            items = json.load(handle)
        self.item_expert = items["expert"]
        self.item_kind = items["kind"]
        self.item_ref = items["ref"]
        self.item_title = items["title"]
        self.item_year = items["year"]
        self.item_dense_ok = items["dense_ok"]
        self.item_alive = items["alive"]
        lengths = {len(items[k]) for k in ("expert", "kind", "ref", "title", "year", "dense_ok", "alive")}
        if len(lengths) != 1:
            raise ValueError("item columns have different lengths")
        for item_id, (expert_id, alive) in enumerate(zip(self.item_expert, self.item_alive)):
            if alive:
                self.expert_items.setdefault(expert_id, []).append(item_id)
        self.expert_terms = set()
        self.text.add_terms(items.get("expert_terms", []))
        self.expert_terms.update(items.get("expert_terms", []))
        self.expert_order = items["expert_order"]
        self.expert_ordinal = {e: i for i, e in enumerate(self.expert_order)}
        self.lexical = LexicalIndex.load(path)
        self.expert_lexical = LexicalIndex.load(path, prefix="expert_lexical")
        if self.embedder is not None:
            self.vectors = VectorIndex.load(path, self.model_dim, exact_max=self.config.exact_index_max_vectors,
                                            nprobe=self.config.ivf_nprobe)
            if self.vectors.size != len(self.item_expert):
                raise ValueError(f"{self.vectors.size} vectors for {len(self.item_expert)} items")
            with open(path / "needs.json", encoding="utf-8") as handle:
                needs = json.load(handle)
            matrix = np.load(path / "needs.npy")
            if len(matrix) != len(needs["ids"]):
                raise ValueError("need vectors and need ids disagree")
            self.need_vectors = {i: (fp, matrix[n]) for n, (i, fp) in enumerate(zip(needs["ids"], needs["fingerprints"]))}
        if manifest.get("items") != self.live_item_count or manifest.get("experts") != self.expert_count:
            raise ValueError("manifest counts disagree with the item table")


_NO_ATTRIBUTES = ExpertAttributes()


def _drop_contained(terms: list[dict]) -> list[dict]:
    """Search-mode segmentation yields both 链球菌病 and 链球菌; show only the longest."""
    words = [t["term"] for t in terms]
    return [t for t in terms if not any(t["term"] != w and t["term"] in w for w in words)]


_PROCESSORS: dict[tuple[int, int, bool], TextProcessor] = {}
_PROCESSORS_LOCK = threading.Lock()


def _shared_text_processor(glossary: Glossary, taxonomy: Taxonomy, cjk_bigrams: bool) -> TextProcessor:
    """One segmenter per process and vocabulary: building jieba's dictionary with thousands of
    domain terms takes over a second, and every reload of the index would pay it again.
    Terms learned from expert keywords are shared too, which only makes segmentation agree
    between the engines of one process."""
    key = (id(glossary), id(taxonomy), cjk_bigrams)
    with _PROCESSORS_LOCK:
        processor = _PROCESSORS.get(key)
        if processor is None:
            terms = set(glossary.terms)
            for term in list(taxonomy.industries.values()) + list(taxonomy.disciplines.values()):
                terms.add(term.zh)
            processor = TextProcessor(terms, cjk_bigrams=cjk_bigrams)
            _PROCESSORS[key] = processor
        return processor


def _resolve_attributes(source: AttributesSource | None, expert_ids: list[str]) -> Mapping[str, ExpertAttributes]:
    if source is None:
        return {}
    if callable(source):
        return source(expert_ids)
    return source


def _progress(iterable, enabled: bool, desc: str):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc)
