"""The matching engine: items of experts indexed in two channels, ranked per need.

An expert is a set of items (one per achievement, one for the profile text). For a need the
engine scores items in the lexical channel (BM25 with glossary expansion) and, where the model
covers both languages, the dense channel; aggregates item scores per expert; normalises each
channel per query; fuses them with structured features; applies hard constraints; explains.
"""

from __future__ import annotations

import dataclasses
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
from .lexical import LexicalIndex
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
        self._reset()
        for expert in experts:
            self.learn_terms(expert)
        docs: dict[int, list[str]] = {}
        expert_docs: dict[int, list[str]] = {}
        dense_texts: list[str] = []
        for expert in _progress(experts, progress, "tokenise experts"):
            whole: list[str] = []
            for item in expert_item_texts(expert):
                item_id = self._append_item(expert.id, item)
                docs[item_id] = self.item_tokens(item)
                whole.extend(docs[item_id])
                dense_texts.append(item.dense_text)
            if expert.id in self.expert_items:
                expert_docs[self._ordinal(expert.id)] = whole
        self.lexical.build(docs)
        self.expert_lexical.build(expert_docs)
        if self.vectors is not None:
            self.vectors.build(self._encode_items(dense_texts, self.item_dense_ok, progress=progress))
        self.set_needs(list(needs), progress=progress)

    def _append_item(self, expert_id: str, item: ItemText) -> int:
        item_id = len(self.item_expert)
        self.item_expert.append(expert_id)
        self.item_kind.append(item.kind)
        self.item_ref.append(item.ref)
        self.item_title.append(item.title)
        self.item_year.append(item.year)
        self.item_dense_ok.append(self.dense_covers(detect_language(item.dense_text)))
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
        vector = None
        if self.vectors is not None and self.dense_covers(lang):
            cached = self.need_vectors.get(need.id)
            if cached is not None and cached[0] == self.need_fingerprint(need):
                vector = cached[1]
            else:
                vector = self.embedder.encode([need.text()])[0]
        return Query(need=need, lang=lang, terms=terms, origins=origins, vector=vector)

    def _candidates(self, query: Query, lexical: np.ndarray, by_expert: np.ndarray, all_experts: bool) -> list[str]:
        if all_experts or self.expert_count <= self.config.score_all_below_experts:
            return list(self.expert_items)
        k = self.config.candidate_items
        found: set[str] = set()
        if len(lexical):
            top = np.argpartition(-lexical, min(k, len(lexical) - 1))[:k]
            found.update(self.item_expert[i] for i in top if lexical[i] > 0 and self.item_alive[i])
        if len(by_expert):
            top = np.argpartition(-by_expert, min(k, len(by_expert) - 1))[:k]
            found.update(self.expert_order[i] for i in top if by_expert[i] > 0)
        if query.vector is not None and self.vectors is not None:
            ids, _ = self.vectors.search(query.vector, k)
            found.update(self.item_expert[i] for i in ids if self.item_alive[i])
        return [e for e in found if e in self.expert_items]

    def rank(
        self,
        need: NeedRecord,
        attributes: AttributesSource | None = None,
        *,
        limit: int | None = 20,
        all_experts: bool = False,
        explain: bool = True,
        include_excluded: bool = False,
    ) -> list[Suggestion]:
        """Experts for ``need``, best first: up to ``limit`` eligible experts, then (with
        ``include_excluded``) up to ``limit`` experts a hard constraint rules out, each carrying
        its ``excluded`` reasons."""
        cfg = self.config
        query = self.prepare_query(need)
        n_items = len(self.item_expert)
        lexical = self.lexical.scores(query.terms, n_items) if n_items else np.zeros(0, dtype=np.float32)
        by_expert = self.expert_lexical.scores(query.terms, len(self.expert_order))
        candidates = self._candidates(query, lexical, by_expert, all_experts)
        if not candidates:
            return []
        lex_raw: dict[str, float] = {}
        dense_raw: dict[str, float] = {}
        item_scores: dict[str, list[tuple[int, float, float | None]]] = {}
        for expert_id in candidates:
            ids = self.expert_items[expert_id]
            lex_values = [float(lexical[i]) for i in ids]
            lex_raw[expert_id] = aggregate(lex_values, cfg.aggregation, cfg.top_k)
            dense_values: list[float | None] = [None] * len(ids)
            if query.vector is not None:
                ok = [i for i in ids if self.item_dense_ok[i]]
                if ok:
                    sims = self.vectors.similarities(query.vector, np.asarray(ok, dtype=np.int64))
                    by_id = dict(zip(ok, (float(s) for s in sims)))
                    dense_values = [by_id.get(i) for i in ids]
                    dense_raw[expert_id] = aggregate(list(by_id.values()), cfg.aggregation, cfg.top_k)
            item_scores[expert_id] = list(zip(ids, lex_values, dense_values))
        share = cfg.item_level_share
        item_norm = normalise_max(lex_raw)
        whole_norm = normalise_max({e: float(by_expert[self.expert_ordinal[e]]) for e in candidates})
        lex_norm = {e: share * item_norm[e] + (1 - share) * whole_norm[e] for e in candidates}
        dense_norm = self._dense_on_lexical_scale(dense_raw, lex_norm)
        attrs = _resolve_attributes(attributes, candidates)
        scored = [
            self._score_expert(query, e, lex_norm[e], dense_norm.get(e), attrs.get(e)) for e in candidates
        ]
        scored.sort(key=lambda s: (-s.score, s.expert_id))
        eligible = [s for s in scored if not s.excluded]
        excluded = [s for s in scored if s.excluded]
        if limit is not None:
            eligible, excluded = eligible[:limit], excluded[:limit]
        result = eligible + (excluded if include_excluded else [])
        if explain:
            lex_top = max(lex_raw.values(), default=0.0) or 1.0
            for suggestion in result:
                suggestion.evidence = self._evidence(query, item_scores[suggestion.expert_id], lex_top)
        return result

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
        cfg = self.config
        attrs = attrs or ExpertAttributes()
        if attrs.latest_year is None:
            years = [self.item_year[i] for i in self.expert_items[expert_id] if self.item_year[i]]
            attrs = dataclasses.replace(attrs, latest_year=max(years) if years else None)
        if dense is None:
            text = lex
            channel = [("lexical", lex, 1.0)]
        else:
            total = cfg.dense_weight + cfg.lexical_weight
            wd, wl = cfg.dense_weight / total, cfg.lexical_weight / total
            text = wd * dense + wl * lex
            channel = [("lexical", lex, wl), ("semantic", dense, wd)]
        reasons = [
            {"code": code, "value": round(value, 4), "weight": round(cfg.text_weight * w, 4),
             "contribution": round(cfg.text_weight * w * value, 4)}
            for code, value, w in channel
        ]
        values = features(self.taxonomy, query.need, attrs, cfg.recency_full_years, cfg.recency_zero_years)
        score = cfg.text_weight * text
        for code, weight in cfg.feature_weights.items():
            value = values.get(code, 0.0)
            score += weight * value
            reasons.append({"code": code, "value": round(value, 4), "weight": weight, "contribution": round(weight * value, 4)})
        flags = []
        if attrs.remaining_capacity == 0:
            flags.append("full_capacity")
        return Suggestion(expert_id=expert_id, score=round(float(score), 6), text_score=round(float(text), 6),
                          reasons=reasons, flags=flags, excluded=hard_constraints(query.need, attrs))

    def _evidence(self, query: Query, items: list[tuple[int, float, float | None]], lex_top: float) -> dict:
        def item_score(entry: tuple[int, float, float | None]) -> float:
            _, lex, dense = entry
            lex_part = lex / lex_top
            return lex_part if dense is None else 0.5 * lex_part + 0.5 * max(dense, 0.0)

        ranked = sorted(items, key=item_score, reverse=True)
        best = ranked[0]
        terms = []
        seen = set()
        weighted = sorted(query.terms.items(), key=lambda kv: (-kv[1], -self.lexical.idf(kv[0])))
        for item_id, _, _ in ranked[:2]:
            for token, _ in weighted:
                if token not in seen and token and not token.startswith("#") and self.lexical.contains(item_id, token):
                    seen.add(token)
                    entry = {"term": token}
                    if token in query.origins:
                        entry["via"] = query.origins[token]
                    terms.append(entry)
        return {
            "matched_terms": terms[:12],
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
