"""The matching engine: items of experts indexed in a lexical channel and in dense channels.

An expert is a set of items (one per achievement, one for the profile text). The lexical
channel is BM25 with glossary expansion; each dense channel (see :mod:`matcher.embedding`)
holds vectors of the items in the languages it reads. This module builds, updates, saves and
loads the index; :mod:`matcher.ranking` scores needs against it.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from .config import MatcherConfig
from .dense import DenseChannel
from .discovery import NeedRankingMixin, NeedSuggestion
from .embedding import Encoder
from .embstore import EmbeddingStore, shipped_seeds
from .glossary import Glossary, default_glossary
from .items import ItemText, ListAsArray, PreparedItem, expert_item_texts
from .lexical import LexicalIndex, TermCounts
from .ranking import Query, RankingMixin, Suggestion, item_lang_code
from .records import ExpertRecord, NeedRecord
from .store import IndexStore, Snapshot
from .taxonomy import Taxonomy, load_taxonomy
from .text import TextProcessor, detect_language

log = logging.getLogger("matcher.engine")

__all__ = ["Engine", "ModelMismatch", "NeedSuggestion", "Query", "Suggestion", "expert_item_texts"]


class ModelMismatch(Exception):
    """The stored index was built with other dense channels or models; rebuild it."""


def _as_encoders(channels: Encoder | Iterable[Encoder] | None) -> list[Encoder]:
    if channels is None:
        return []
    if isinstance(channels, Encoder):
        return [channels]
    return list(channels)


class Engine(RankingMixin, NeedRankingMixin):
    def __init__(
        self,
        config: MatcherConfig | None = None,
        channels: Encoder | Iterable[Encoder] | None = None,
        *,
        glossary: Glossary | None = None,
        taxonomy: Taxonomy | None = None,
        store: EmbeddingStore | None = None,
    ) -> None:
        self.config = config or MatcherConfig()
        self.encoders = _as_encoders(channels)
        self.store = store if store is not None else EmbeddingStore(None, seeds=shipped_seeds())
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
        self.item_lang: list[str] = []
        self.item_lang_codes = ListAsArray(np.int8, item_lang_code)  # item_lang as numpy codes
        self.item_alive: list[bool] = []
        self.expert_items: dict[str, list[int]] = {}
        cfg = self.config
        self.lexical = LexicalIndex(k1=cfg.bm25_k1, b=cfg.bm25_b, prefix_length=cfg.lexical_prefix)
        # One BM25 document per expert (all items together); ids are positions in expert_order.
        self.expert_lexical = LexicalIndex(k1=cfg.bm25_k1, b=cfg.bm25_b, prefix_length=cfg.lexical_prefix)
        self.expert_order: list[str] = []
        self.expert_ordinal: dict[str, int] = {}
        self.dense = {e.name: DenseChannel(e, self.store, exact_max=cfg.exact_index_max_vectors, nprobe=cfg.ivf_nprobe,
                                           batch_size=cfg.encode_batch_size) for e in self.encoders}
        # Prepared need queries (the reverse direction, :mod:`matcher.discovery`); they read
        # the lexical statistics, so every change of the expert side empties the cache.
        self.need_queries: dict[NeedRecord, Query] = {}

    def with_config(self, config: MatcherConfig) -> Engine:
        """This engine's indexes, scored with other weights (e.g. a learned ranker); the
        indexes are shared, not copied, so this is cheap."""
        clone = copy.copy(self)
        clone.config = config
        return clone

    # -- model facts ---------------------------------------------------------------------------
    def channels(self) -> list[dict]:
        """What each dense channel is (stored in the manifest; a change forces a rebuild)."""
        return [e.describe() for e in self.encoders]

    @property
    def model_name(self) -> str:
        return "+".join(f"{e.name}:{e.model}" for e in self.encoders) or "none"

    def dense_covers(self, lang: str) -> bool:
        return any(e.covers(lang) for e in self.encoders)

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
        """Index everything from scratch (vectors come through the embedding store)."""
        experts = list(experts)
        for expert in experts:
            self.learn_terms(expert)
        items = [(expert.id, item) for expert in experts for item in expert_item_texts(expert)]
        entries = (PreparedItem(expert_id, item, self.item_tokens(item))
                   for expert_id, item in _progress(items, progress, "tokenise items"))
        self.bulk_load(entries)
        texts = [item.dense_text for _, item in items]
        for channel in self.dense.values():
            channel.build(texts, self.item_lang, progress=progress)
        self.set_needs(list(needs))

    def bulk_load(self, entries: Iterable[PreparedItem], vectors: dict[str, np.ndarray] | None = None) -> None:
        """Index prepared items (replacing the whole index); with ``vectors`` (channel name ->
        one row per entry, computed elsewhere, e.g. by backfill workers) the dense channels
        are built from them. ``entries`` may be a generator: each item's tokens are reduced
        to term counts as it arrives."""
        self._reset()
        counts = TermCounts()
        owners: list[int] = []
        for entry in entries:
            item_id = self._append_item(entry.expert_id, entry.item)
            counts.add(item_id, entry.tokens)
            owners.append(self._ordinal(entry.expert_id))
        self.lexical.build_from_counts(counts)
        self.expert_lexical.build_from_counts(counts, groups=np.asarray(owners, dtype=np.int64),
                                              keys=list(range(len(self.expert_order))))
        del counts
        for name, matrix in (vectors or {}).items():
            channel = self.dense[name]
            if len(matrix) != len(self.item_expert):
                raise ValueError(f"bulk_load: {len(matrix)} {name} vectors for {len(self.item_expert)} items")
            channel.covered = [channel.reads(lang) for lang in self.item_lang]
            channel.vectors.build(matrix)

    def _append_item(self, expert_id: str, item: ItemText) -> int:
        item_id = len(self.item_expert)
        self.item_expert.append(expert_id)
        self.item_kind.append(item.kind)
        self.item_ref.append(item.ref)
        self.item_title.append(item.title)
        self.item_year.append(item.year)
        self.item_lang.append(detect_language(item.dense_text))
        self.item_alive.append(True)
        self.expert_items.setdefault(expert_id, []).append(item_id)
        return item_id

    def upsert_expert(self, expert: ExpertRecord) -> None:
        """Replace one expert's items (incremental: delta segment + FAISS add/remove)."""
        self.remove_expert(expert.id)  # also empties the prepared need queries
        self.learn_terms(expert)
        items = expert_item_texts(expert)
        if not items:
            return
        new_ids = [self._append_item(expert.id, item) for item in items]
        whole: list[str] = []
        for item_id, item in zip(new_ids, items, strict=True):
            tokens = self.item_tokens(item)
            self.lexical.set(item_id, tokens)
            whole.extend(tokens)
        self.expert_lexical.set(self._ordinal(expert.id), whole)
        for channel in self.dense.values():
            channel.add(new_ids, [item.dense_text for item in items], [self.item_lang[i] for i in new_ids])

    def _ordinal(self, expert_id: str) -> int:
        if expert_id not in self.expert_ordinal:
            self.expert_ordinal[expert_id] = len(self.expert_order)
            self.expert_order.append(expert_id)
        return self.expert_ordinal[expert_id]

    def remove_expert(self, expert_id: str) -> None:
        self.need_queries.clear()
        if expert_id in self.expert_ordinal:
            self.expert_lexical.remove(self.expert_ordinal[expert_id])
        old = self.expert_items.pop(expert_id, [])
        for item_id in old:
            self.item_alive[item_id] = False
            self.lexical.remove(item_id)
        if old:
            for channel in self.dense.values():
                channel.remove(old)

    @property
    def needs_compaction(self) -> bool:
        dead = len(self.item_alive) - self.live_item_count
        delta = max(self.lexical.delta_size, self.expert_lexical.delta_size)
        return delta > self.config.lexical_compact_at or dead > max(1000, 0.3 * len(self.item_alive))

    def set_needs(self, needs: list[NeedRecord]) -> None:
        """Embed needs once (through the store) so that suggestions do not re-encode them."""
        for channel in self.dense.values():
            channel.set_needs([(n.id, n.text()) for n in needs if channel.reads(detect_language(n.text()))])

    def upsert_need(self, need: NeedRecord) -> None:
        self.remove_need(need.id)
        self.set_needs([need])

    def remove_need(self, need_id: str) -> None:
        for channel in self.dense.values():
            channel.need_vectors.pop(need_id, None)

    # -- persistence ---------------------------------------------------------------------------
    def save(self, store: IndexStore, *, watermark: int, extra: dict | None = None) -> Snapshot:
        def writer(directory: Path) -> list[str]:
            with open(directory / "items.json", "w", encoding="utf-8") as handle:
                json.dump({"expert": self.item_expert, "kind": self.item_kind, "ref": self.item_ref,
                           "title": self.item_title, "year": self.item_year, "lang": self.item_lang,
                           "alive": self.item_alive, "expert_order": self.expert_order,
                           "expert_terms": sorted(self.expert_terms)}, handle, ensure_ascii=False)
            files = ["items.json", *self.lexical.save(directory), *self.expert_lexical.save(directory, prefix="expert_lexical")]
            for channel in self.dense.values():
                files += channel.save(directory)
            return files

        manifest = {
            "model": self.model_name,
            "channels": self.channels(),
            "watermark": int(watermark),
            "experts": self.expert_count,
            "items": self.live_item_count,
            "vector_index": {name: c.vectors.kind for name, c in self.dense.items()},
            **(extra or {}),
        }
        return store.write(writer, manifest)

    def load_snapshot(self, snapshot: Snapshot) -> None:
        manifest = snapshot.manifest
        if manifest.get("channels") != self.channels():
            stored = ", ".join(f"{c.get('name')}:{c.get('model')}" for c in manifest.get("channels") or []) or manifest.get("model")
            raise ModelMismatch(f"index built with dense channels [{stored}], engine uses [{self.model_name}]")
        path = snapshot.path
        self._reset()
        with open(path / "items.json", encoding="utf-8") as handle:
            items = json.load(handle)
        columns = ("expert", "kind", "ref", "title", "year", "lang", "alive")
        if len({len(items[k]) for k in columns}) != 1:
            raise ValueError("item columns have different lengths")
        self.item_expert, self.item_kind, self.item_ref, self.item_title, self.item_year, self.item_lang, self.item_alive = (
            items[k] for k in columns)
        for item_id, (expert_id, alive) in enumerate(zip(self.item_expert, self.item_alive, strict=True)):
            if alive:
                self.expert_items.setdefault(expert_id, []).append(item_id)
        self.text.add_terms(items.get("expert_terms", []))
        self.expert_terms = set(items.get("expert_terms", []))
        self.expert_order = items["expert_order"]
        self.expert_ordinal = {e: i for i, e in enumerate(self.expert_order)}
        self.lexical = LexicalIndex.load(path, prefix_length=self.config.lexical_prefix)
        self.expert_lexical = LexicalIndex.load(path, prefix="expert_lexical", prefix_length=self.config.lexical_prefix)
        for channel in self.dense.values():
            channel.load(path, len(self.item_expert))
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


def _progress(iterable, enabled: bool, desc: str):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc)
