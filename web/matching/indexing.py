"""The single index writer: drains the outbox into the engine and publishes snapshots.

Exactly one indexer runs per index directory (an exclusive ``flock`` on ``indexer.lock``; on
PostgreSQL also an advisory lock, for indexers on several machines sharing one database).

Crash safety: a drain applies rows, publishes a snapshot atomically, and only then marks those
rows processed. A crash before the snapshot leaves the rows unprocessed (re-applied next time,
idempotently); a crash after it leaves them unprocessed too, and re-applying is harmless.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from matcher import Engine
from matcher.engine import ModelMismatch, expert_item_texts
from matcher.store import IndexCorrupt, IndexMissing, IndexStore
from models import Achievement, ExpertProfile, Need, NeedStatus, OutboxEntry, db, utcnow

from .channels import new_engine
from .records import expert_record, need_record

log = logging.getLogger("matcher.indexer")

ADVISORY_LOCK_KEY = 7_300_214  # arbitrary constant shared by every indexer of this service
BATCH = 500


class IndexerBusy(RuntimeError):
    pass


class Indexer:
    def __init__(self, index_dir: str, model_spec: str, *, progress: bool = False) -> None:
        self.store = IndexStore(index_dir)
        self.model_spec = model_spec
        self.progress = progress
        self.engine: Engine | None = None
        self.watermark = 0
        self._lock_file = None
        self._pg_conn = None

    # -- exclusivity ---------------------------------------------------------------------------
    def acquire(self) -> None:
        Path(self.store.root).mkdir(parents=True, exist_ok=True)
        handle = open(Path(self.store.root) / "indexer.lock", "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise IndexerBusy(f"another indexer holds {self.store.root}/indexer.lock") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._lock_file = handle
        if db.engine.dialect.name == "postgresql":
            conn = db.engine.connect()
            got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_LOCK_KEY}).scalar()
            conn.commit()
            if not got:
                conn.close()
                self.release()
                raise IndexerBusy("another indexer holds the PostgreSQL advisory lock")
            self._pg_conn = conn

    def release(self) -> None:
        if self._pg_conn is not None:
            try:
                self._pg_conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_KEY})
                self._pg_conn.close()
            except sa.exc.SQLAlchemyError:
                pass
            self._pg_conn = None
        if self._lock_file is not None:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None

    # -- start-up ------------------------------------------------------------------------------
    def new_engine(self) -> Engine:
        return new_engine(self.model_spec)

    def start(self) -> str:
        """Load the live snapshot, or quarantine it and rebuild; returns what happened."""
        engine = self.new_engine()
        try:
            snapshot = self.store.open_current()
            engine.load_snapshot(snapshot)
            problem = self._disagreement(engine, int(snapshot.manifest.get("watermark", 0)))
        except IndexMissing:
            return self.rebuild("index missing")
        except (IndexCorrupt, ModelMismatch, ValueError, KeyError, OSError, EOFError) as exc:
            self.store.quarantine(f"{type(exc).__name__}: {exc}")
            return self.rebuild(f"index unusable ({type(exc).__name__}: {exc})")
        if problem:
            self.store.quarantine(problem)
            return self.rebuild(f"index stale ({problem})")
        self.engine, self.watermark = engine, int(snapshot.manifest.get("watermark", 0))
        return f"loaded {snapshot.name}"

    def _disagreement(self, engine: Engine, watermark: int) -> str | None:
        processed = db.session.scalar(sa.select(sa.func.max(OutboxEntry.id)).where(OutboxEntry.processed_at.is_not(None))) or 0
        db.session.rollback()
        if processed > watermark:
            return f"watermark {watermark} is behind processed outbox row {processed}"
        expected_items, expected_experts = expected_counts()
        pending = db.session.scalar(sa.select(sa.func.count()).where(OutboxEntry.processed_at.is_(None))) or 0
        db.session.rollback()
        if pending == 0 and (engine.live_item_count != expected_items or engine.expert_count != expected_experts):
            return (f"index holds {engine.live_item_count} items of {engine.expert_count} experts, "
                    f"database {expected_items} items of {expected_experts} experts")
        return None

    # -- full rebuild --------------------------------------------------------------------------
    def rebuild(self, reason: str = "requested") -> str:
        """Index everything in the database; the outbox rows seen are marked processed."""
        started = time.perf_counter()
        engine = self.new_engine()
        # Outbox rows are read before the data: every row seen describes a change the data read
        # below already contains, so marking exactly these rows processed is safe.
        pending_ids = list(db.session.scalars(sa.select(OutboxEntry.id).where(OutboxEntry.processed_at.is_(None))))
        max_seen = db.session.scalar(sa.select(sa.func.max(OutboxEntry.id))) or 0
        experts = [expert_record(p) for p in db.session.scalars(
            sa.select(ExpertProfile).options(selectinload(ExpertProfile.achievements)).order_by(ExpertProfile.id))]
        needs = [need_record(n) for n in db.session.scalars(sa.select(Need).where(Need.status != NeedStatus.CLOSED))]
        db.session.rollback()
        engine.build(experts, needs, progress=self.progress)
        watermark = max(self.watermark, max_seen)
        engine.save(self.store, watermark=watermark, extra={"built": "full", "rebuild_reason": reason})
        self._mark_processed(pending_ids)
        self.engine, self.watermark = engine, watermark
        message = f"rebuilt {engine.expert_count} experts / {engine.live_item_count} items in {time.perf_counter() - started:.1f}s ({reason})"
        log.info(message)
        return message

    # -- incremental drain ---------------------------------------------------------------------
    def drain(self) -> int:
        """Apply unprocessed outbox rows; returns how many rows were applied."""
        if self.engine is None:
            raise RuntimeError("start() the indexer first")
        rows = list(db.session.execute(
            sa.select(OutboxEntry.id, OutboxEntry.entity, OutboxEntry.entity_id)
            .where(OutboxEntry.processed_at.is_(None)).order_by(OutboxEntry.id).limit(BATCH)
        ))
        if not rows:
            db.session.rollback()
            return 0
        experts = sorted({entity_id for _, entity, entity_id in rows if entity == "expert"})
        needs = sorted({entity_id for _, entity, entity_id in rows if entity == "need"})
        for expert_id in experts:
            profile = db.session.scalar(sa.select(ExpertProfile).options(selectinload(ExpertProfile.achievements))
                                        .where(ExpertProfile.id == expert_id))
            if profile is None:
                self.engine.remove_expert(str(expert_id))
            else:
                self.engine.upsert_expert(expert_record(profile))
        for need_id in needs:
            need = db.session.get(Need, need_id)
            if need is None or need.status == NeedStatus.CLOSED:
                self.engine.remove_need(str(need_id))
            else:
                self.engine.upsert_need(need_record(need))
        db.session.rollback()
        ids = [row_id for row_id, _, _ in rows]
        if self.engine.needs_compaction:
            self.rebuild("compaction")
            return len(ids)
        self.watermark = max(self.watermark, max(ids))
        self.engine.save(self.store, watermark=self.watermark, extra={"built": "incremental"})
        self._mark_processed(ids)
        return len(ids)

    def publish_backfill(self) -> str | None:
        """If a backfill job for this engine's key spaces has every batch embedded: rebuild
        from the store (embedding nothing), publish, then drop unused key spaces."""
        from .backfill import job_to_publish, mark_published, spaces_of

        encoders = self.engine.encoders if self.engine is not None else self.new_engine().encoders
        spaces = spaces_of(encoders)
        job = job_to_publish(spaces)
        job_id = job.id if job is not None else None
        db.session.rollback()
        if job_id is None:
            return None
        message = self.rebuild(f"backfill job {job_id}")
        mark_published(job_id, spaces)
        return message

    def _mark_processed(self, ids: list[int]) -> None:
        now = utcnow()
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            db.session.execute(sa.update(OutboxEntry).where(OutboxEntry.id.in_(chunk)).values(processed_at=now))
        db.session.commit()

    def run(self, stop: threading.Event, poll_seconds: float = 1.0, on_error: Callable[[Exception], None] | None = None) -> None:
        while not stop.is_set():
            try:
                self.publish_backfill()
                applied = self.drain()
            except Exception as exc:  # keep the loop alive; the error is logged and retried
                db.session.rollback()
                log.exception("indexer drain failed")
                if on_error:
                    on_error(exc)
                applied = 0
            if applied == 0:
                stop.wait(poll_seconds)


def expected_counts() -> tuple[int, int]:
    """(items, experts) the index should hold, by the engine's own rule for items."""
    achievements = dict(db.session.execute(
        sa.select(Achievement.expert_id, sa.func.count()).group_by(Achievement.expert_id)).all())
    items = experts = 0
    for pid, areas, keywords, summary in db.session.execute(
        sa.select(ExpertProfile.id, ExpertProfile.research_areas, ExpertProfile.keywords, ExpertProfile.summary)
    ):
        from matcher import ExpertRecord

        probe = ExpertRecord(id=str(pid), summary=summary or "", research_areas=tuple(areas or ()), keywords=tuple(keywords or ()))
        count = len(expert_item_texts(probe)) + achievements.get(pid, 0)
        if count:
            items += count
            experts += 1
    return items, experts


def start_indexer_thread(app) -> threading.Thread:
    """Embedded default: the indexer as a daemon thread of the single server process."""
    stop = threading.Event()

    def target() -> None:
        with app.app_context():
            indexer = Indexer(app.config["INDEX_DIR"], app.config["MATCHER_EMBEDDING_MODEL"])
            while not stop.is_set():  # a worker being replaced may still hold the lock for a moment
                try:
                    indexer.acquire()
                    break
                except IndexerBusy as exc:
                    log.warning("indexer thread waiting: %s", exc)
                    stop.wait(5.0)
            else:
                return
            try:
                log.info("indexer: %s", indexer.start())
                indexer.run(stop, app.config["INDEX_POLL_SECONDS"])
            finally:
                indexer.release()
                db.session.remove()

    thread = threading.Thread(target=target, name="matcher-indexer", daemon=True)
    thread.stop_event = stop  # type: ignore[attr-defined]
    thread.start()
    return thread


def publish_job(job_id: int) -> str:
    """Publish a finished backfill now if no indexer runs; else the running one does."""
    from flask import current_app

    indexer = Indexer(current_app.config["INDEX_DIR"], current_app.config["MATCHER_EMBEDDING_MODEL"])
    try:
        indexer.acquire()
    except IndexerBusy:
        return f"backfill job {job_id}: the running indexer publishes a snapshot from the store at its next poll"
    try:
        return indexer.publish_backfill() or f"backfill job {job_id}: nothing to publish (not for the configured model)"
    finally:
        indexer.release()
