"""Suggestions for the coordinator: the web side of the index (read-only).

Each process keeps one :class:`IndexReader`. It never writes index files; it notices a newly
published snapshot (the ``CURRENT`` pointer changes) and swaps in a fresh engine, so requests
in flight keep using the engine they started with.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass

from flask import current_app

from matcher import Engine, NeedRecord, Suggestion
from matcher.store import IndexCorrupt, IndexMissing, IndexStore
from models import ExpertProfile, Need, User, db

from ..access import is_staff
from ..domain.errors import NotFound, PermissionDenied
from .channels import new_engine
from .ranking import DEFAULT_VERSION
from .records import attributes_for, need_record

log = logging.getLogger("matcher.search")


class IndexNotReady(Exception):
    pass


class IndexReader:
    def __init__(self, index_dir: str, model_spec: str, check_every: float = 0.5) -> None:
        self.store = IndexStore(index_dir)
        self.model_spec = model_spec
        self.check_every = check_every
        self._engine: Engine | None = None
        self._snapshot: str | None = None
        self._manifest: dict = {}
        self._checked = 0.0
        self._lock = threading.Lock()
        self.last_error: str | None = None

    def engine(self) -> Engine:
        now = time.monotonic()
        if self._engine is None or now - self._checked >= self.check_every:
            self._checked = now
            if self.store.current_name() != self._snapshot:
                self._reload()
        if self._engine is None:
            raise IndexNotReady(self.last_error or "the index is being built")
        return self._engine

    def _reload(self) -> None:
        with self._lock:
            name = self.store.current_name()
            if name == self._snapshot and self._engine is not None:
                return
            try:
                snapshot = self.store.open_current()
                engine = new_engine(self.model_spec)
                engine.load_snapshot(snapshot)
            except (IndexMissing, IndexCorrupt, ValueError, OSError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("index not loaded: %s", self.last_error)
                return
            except Exception as exc:  # ModelMismatch and unexpected file contents
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("index not loaded: %s", self.last_error)
                return
            self._engine, self._snapshot, self._manifest = engine, snapshot.name, snapshot.manifest
            self.last_error = None
            log.info("index snapshot %s loaded (%s experts)", snapshot.name, snapshot.manifest.get("experts"))

    def status(self) -> dict:
        try:
            self.engine()
        except IndexNotReady:
            pass
        manifest = self._manifest
        return {
            "loaded": self._engine is not None,
            "snapshot": self._snapshot,
            "watermark": manifest.get("watermark"),
            "experts": manifest.get("experts"),
            "items": manifest.get("items"),
            "model": manifest.get("model"),
            "vector_index": manifest.get("vector_index"),
            "built": manifest.get("built"),
            "rebuild_reason": manifest.get("rebuild_reason"),
            "error": self.last_error,
        }


def reader() -> IndexReader:
    app = current_app._get_current_object()
    existing = app.extensions.get("matcher_reader")
    if existing is None:
        existing = IndexReader(app.config["INDEX_DIR"], app.config["MATCHER_EMBEDDING_MODEL"])
        app.extensions["matcher_reader"] = existing
    return existing


def index_status() -> dict:
    return reader().status()


@dataclass
class SuggestionView:
    suggestion: Suggestion
    expert: ExpertProfile
    ranker: str = DEFAULT_VERSION

    @property
    def excluded(self) -> list[str]:
        return self.suggestion.excluded


def suggest(actor: User, need_id: int, *, limit: int = 20, include_excluded: bool = False,
            hide: set[int] | frozenset[int] = frozenset()) -> list[SuggestionView]:
    """Ranked experts for a need with explanations; coordinators and administrators only.
    Experts ruled out by a hard constraint follow the eligible ones when ``include_excluded``;
    experts in ``hide`` (dismissed for this need) are left out, and the list is still
    ``limit`` long when the pool allows. The impression records what was shown."""
    if not is_staff(actor):
        raise PermissionDenied("only coordinators see suggestions")
    need = db.session.get(Need, need_id)
    if need is None:
        raise NotFound(f"need {need_id} does not exist")
    from .impressions import record_impression
    from .ranking import active_ranker

    version, weights = active_ranker()
    engine = reader().engine()
    if version != DEFAULT_VERSION:
        engine = engine.with_config(engine.config.with_weights(weights))
    ranked = rank_with_live_facts(engine, need_record(need), limit=limit + len(hide), include_excluded=include_excluded)
    if hide:
        kept = [s for s in ranked if int(s.expert_id) not in hide]
        ranked = [s for s in kept if not s.excluded][:limit] + [s for s in kept if s.excluded][:limit]
    record_impression(need.id, actor.id, version, ranked)
    ids = [int(s.expert_id) for s in ranked]
    profiles = {p.id: p for p in db.session.scalars(db.select(ExpertProfile).where(ExpertProfile.id.in_(ids)))}
    return [SuggestionView(s, profiles[int(s.expert_id)], version) for s in ranked if int(s.expert_id) in profiles]


def has_strong_match(views: list[SuggestionView]) -> bool:
    """Whether any eligible suggestion reaches the strong band (else the page says so)."""
    return any(v.suggestion.band == "strong" and not v.suggestion.excluded for v in views)


def rank_with_live_facts(engine: Engine, need: NeedRecord, *, limit: int | None = 20, include_excluded: bool = False,
                         explain: bool = True, restrict: set[str] | None = None) -> list[Suggestion]:
    """The engine's ranking with the live facts (capacity, conflicts, region) of exactly the
    candidates it names, read from the database before ranking starts."""
    query = engine.prepare_query(need)
    candidates = engine.candidates(query)
    if restrict is not None:
        candidates = [e for e in candidates if e in restrict]
    return engine.rank(need, attributes_for(candidates), limit=limit, include_excluded=include_excluded,
                       explain=explain, query=query, candidates=candidates)


def pair_scores(need_id: int, expert_ids: list[int]) -> dict[int, float]:
    """The engine's calibrated relevance of each (need, expert) pair, the chance the suggestion
    list shows (it does not depend on the other candidates): a proposed match stores this,
    never a number sent by the browser. Experts the engine does not hold (index not built yet,
    expert not indexed) are left out."""
    need = db.session.get(Need, need_id)
    if need is None or not expert_ids:
        return {}
    from .ranking import active_ranker

    try:
        engine = reader().engine()
    except IndexNotReady:
        return {}
    version, weights = active_ranker()
    if version != DEFAULT_VERSION:
        engine = engine.with_config(engine.config.with_weights(weights))
    candidates = sorted({str(expert_id) for expert_id in expert_ids} & set(engine.expert_items))
    if not candidates:
        return {}
    ranked = engine.rank(need_record(need), attributes_for(candidates), limit=None, include_excluded=True,
                         explain=False, candidates=candidates)
    return {int(s.expert_id): float(s.relevance) for s in ranked if math.isfinite(s.relevance)}


def warm_up(app) -> None:
    """Load the model and the index in the background so the first suggestion page is quick."""

    def target() -> None:
        with app.app_context():
            try:
                reader().engine()
            except IndexNotReady:
                pass

    threading.Thread(target=target, name="matcher-warm-up", daemon=True).start()
