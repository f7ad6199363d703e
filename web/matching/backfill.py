"""Backfill: embed every text the embedding store lacks, in batches, as a resumable job.

A job is planned from the database (every expert item and open need, per configured dense
channel and role), keeps only the texts the store does not hold, and splits them into
``backfill_batches`` rows. Each batch is embedded by :func:`embed_batch` — in this process
(the embedded default) or by Celery workers on any machine (:mod:`.backfill_queue`) — which
writes the vectors to the store and then marks the batch done, updating the job's counters in
the same transaction. A batch redone after a crash finds its vectors already stored and embeds
nothing, so no text is embedded twice. The job row is the progress everyone reads; running
the command again resumes the unfinished job. When every batch is done the single index
writer rebuilds from the store (embedding nothing), publishes, and drops the key spaces no
snapshot or job uses any more.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import selectinload

from matcher.embstore import text_key
from matcher.engine import expert_item_texts
from matcher.text import detect_language
from models import BackfillBatch, BackfillJob, ExpertProfile, Need, NeedStatus, db, utcnow, write_transaction

from .channels import configured_channels, configured_store
from .records import expert_record, need_record

log = logging.getLogger("matcher.backfill")

OPEN_STATES = ("embedding", "embedded")


def spaces_of(encoders) -> list[str]:
    return sorted(f"{e.fingerprint}:{role}" for e in encoders for role in ("passage", "query"))


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def corpus_texts(encoders) -> dict[tuple[str, str], list[str]]:
    """(channel name, space) -> the distinct texts the index needs in it, from the database."""
    items: list[str] = []
    for profile in db.session.scalars(sa.select(ExpertProfile).options(selectinload(ExpertProfile.achievements))
                                      .order_by(ExpertProfile.id)):
        items += [item.dense_text for item in expert_item_texts(expert_record(profile))]
    needs = [need_record(n).text() for n in db.session.scalars(
        sa.select(Need).where(Need.status != NeedStatus.CLOSED).order_by(Need.id))]
    db.session.rollback()
    langs = {text: detect_language(text) for text in {*items, *needs}}
    out: dict[tuple[str, str], list[str]] = {}
    for encoder in encoders:
        for role, texts in (("passage", items), ("query", needs)):
            out[(encoder.name, f"{encoder.fingerprint}:{role}")] = list(dict.fromkeys(
                t for t in texts if encoder.covers(langs[t])))
    return out


def open_job() -> BackfillJob | None:
    return db.session.scalar(sa.select(BackfillJob).where(BackfillJob.state.in_(OPEN_STATES))
                             .order_by(BackfillJob.id.desc()))


def plan_job(reason: str, *, batch_size: int | None = None) -> tuple[BackfillJob, bool]:
    """The unfinished job for the configured channels (resumed), or a new one; ``True`` when
    resumed. Texts already in the store are not planned."""
    encoders, _errors = configured_channels()
    spec = current_app.config.get("MATCHER_EMBEDDING_MODEL", "") or ""
    spaces = spaces_of(encoders)
    job = open_job()
    if job is not None and job.state == "embedding" and job.spaces == spaces and job.model_spec == spec:
        with write_transaction():
            job.resumed_at, job.done_at_resume = utcnow(), job.done_texts
        return job, True
    size = batch_size or current_app.config.get("BACKFILL_BATCH", 64)
    store = configured_store()
    batches: list[BackfillBatch] = []
    for (channel, space), texts in corpus_texts(encoders).items():
        present = store.get_many(space, [text_key(t) for t in texts])
        missing = [t for t in texts if text_key(t) not in present]
        batches += [BackfillBatch(channel=channel, space=space, texts=missing[i:i + size], size=len(missing[i:i + size]))
                    for i in range(0, len(missing), size)]
    with write_transaction() as session:
        job = BackfillJob(state="embedding" if batches else "embedded", model_spec=spec, reason=reason,
                          channels=[e.name for e in encoders], spaces=spaces, message="",
                          total_texts=sum(b.size for b in batches), batches_total=len(batches))
        if not batches:
            job.finished_at = utcnow()
        session.add(job)
        session.flush()
        for batch in batches:
            batch.job_id = job.id
        session.add_all(batches)
    return job, False


def pending_batch_ids(job_id: int) -> list[int]:
    ids = list(db.session.scalars(sa.select(BackfillBatch.id).where(BackfillBatch.job_id == job_id,
                                                                     BackfillBatch.done.is_(False))
                                  .order_by(BackfillBatch.id)))
    db.session.rollback()
    return ids


def _encoder(spec: str, channel: str, space: str):
    from matcher.embedding import load_channels

    encoders, errors = load_channels(spec or None, (channel,))
    if not encoders:
        raise RuntimeError(f"dense channel {channel} cannot load here: {errors.get(channel)}")
    encoder = encoders[0]
    if f"{encoder.fingerprint}:{space.rsplit(':', 1)[1]}" != space:
        raise RuntimeError(f"this worker's {channel} model has fingerprint {encoder.fingerprint}, the batch is for {space}")
    return encoder


def embed_batch(batch_id: int, worker: str | None = None) -> int:
    """Embed one batch's texts that the store lacks, store them, mark the batch done; returns
    how many texts were embedded (0 for a batch already done or whose vectors are stored)."""
    batch = db.session.get(BackfillBatch, batch_id)
    if batch is None or batch.done:
        db.session.rollback()
        return 0
    job = db.session.get(BackfillJob, batch.job_id)
    spec, channel, space, texts, size = job.model_spec, batch.channel, batch.space, list(batch.texts), batch.size
    job_id = batch.job_id
    db.session.rollback()
    store = configured_store()
    keys = [text_key(t) for t in texts]
    present = store.get_many(space, keys)
    todo = {k: t for k, t in zip(keys, texts, strict=True) if k not in present}
    log.info("backfill batch %d: embedding %d of %d texts", batch_id, len(todo), len(texts))
    if todo:
        encoder = _encoder(spec, channel, space)
        role = space.rsplit(":", 1)[1]
        batch_texts = list(todo.values())
        vectors = encoder.encode_queries(batch_texts) if role == "query" else encoder.encode_passages(batch_texts)
        store.put_many(space, dict(zip(todo, vectors, strict=True)))
    now = utcnow()
    with write_transaction() as session:
        marked = session.execute(sa.update(BackfillBatch).where(BackfillBatch.id == batch_id, BackfillBatch.done.is_(False))
                                 .values(done=True, embedded=len(todo), texts=[], worker=(worker or worker_name())[:120],
                                         done_at=now)).rowcount
        if marked:
            job_row = BackfillJob.__table__.c
            session.execute(sa.update(BackfillJob).where(job_row.id == job_id).values(
                done_texts=job_row.done_texts + size, embedded_texts=job_row.embedded_texts + len(todo),
                batches_done=job_row.batches_done + 1, updated_at=now))
            session.execute(sa.update(BackfillJob).where(
                job_row.id == job_id, job_row.state == "embedding", job_row.batches_done >= job_row.batches_total)
                .values(state="embedded", finished_at=now))
    return len(todo) if marked else 0


def job_progress(job: BackfillJob | None) -> dict | None:
    """What the command's bar, ``/healthz``, ``matcher status`` and the dashboard show."""
    if job is None:
        return None
    now = utcnow()
    done_since = job.done_texts - job.done_at_resume
    elapsed = max((min(job.updated_at, now) - job.resumed_at).total_seconds(), 0.0)
    rate = done_since / elapsed if done_since > 0 and elapsed > 0 else None
    remaining = job.total_texts - job.done_texts
    return {
        "job": job.id, "state": job.state, "reason": job.reason, "channels": job.channels,
        "total": job.total_texts, "done": job.done_texts, "embedded": job.embedded_texts,
        "percent": round(100.0 * job.done_texts / job.total_texts, 1) if job.total_texts else 100.0,
        "batches": f"{job.batches_done}/{job.batches_total}",
        "rate_per_s": round(rate, 2) if rate else None,
        "eta_s": round(remaining / rate) if rate and job.state == "embedding" else None,
        "started_at": job.created_at.isoformat(), "updated_at": job.updated_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


def backfill_status() -> dict | None:
    """The open job, else the latest one if it ended within a day."""
    job = open_job() or db.session.scalar(sa.select(BackfillJob).where(
        BackfillJob.updated_at >= utcnow() - timedelta(days=1)).order_by(BackfillJob.id.desc()))
    report = job_progress(job)
    db.session.rollback()
    return report


def job_to_publish(spaces: list[str]) -> BackfillJob | None:
    """A fully embedded job for exactly these key spaces, waiting for the index writer."""
    job = db.session.scalar(sa.select(BackfillJob).where(BackfillJob.state == "embedded").order_by(BackfillJob.id.desc()))
    return job if job is not None and job.spaces == spaces else None


def mark_published(job_id: int, spaces: list[str]) -> int:
    """After the index writer published a snapshot from these spaces: the job is done and
    every key space that neither the snapshot nor an unfinished job uses is dropped."""
    with write_transaction():
        # Earlier embedded jobs for the same spaces are covered by this rebuild too.
        covered = [job.id for job in db.session.scalars(sa.select(BackfillJob).where(BackfillJob.state == "embedded"))
                   if job.spaces == spaces or job.id == job_id]
        db.session.execute(sa.update(BackfillJob).where(BackfillJob.id.in_(covered)).values(
            state="published", updated_at=utcnow(), finished_at=utcnow()))
        db.session.execute(sa.delete(BackfillBatch).where(BackfillBatch.job_id.in_(covered)))
    keep = set(spaces)
    for job in db.session.scalars(sa.select(BackfillJob).where(BackfillJob.state.in_(OPEN_STATES))):
        keep.update(job.spaces)
    db.session.rollback()
    dropped = configured_store().drop_spaces_except(sorted(keep))
    if dropped:
        log.info("dropped %d vectors of key spaces no longer in use", dropped)
    return dropped
