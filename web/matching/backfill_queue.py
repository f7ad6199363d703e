"""Running a backfill job: its batches through Celery workers, or in this process.

Celery on RabbitMQ (README: why). Tasks are acknowledged late, one at a time per worker
(``acks_late``, prefetch 1, ``reject_on_worker_lost``): a worker killed with ``kill -9``
mid-batch drops its connection, the broker puts the unacknowledged batch back on the queue and
another (or the restarted) worker does it again; the batch's vectors are written before the
batch is marked done and a redone batch embeds only what the store lacks. The database, not
the broker, holds the job: if batches stop progressing (a broker restarted without its queue)
the driver enqueues the unfinished ones again.

Without ``MATCHER_BACKFILL_BROKER`` the driver embeds every batch itself (the embedded default).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

from celery import Celery
from flask import current_app

from models import BackfillJob, db

from .backfill import embed_batch, pending_batch_ids, worker_name

TASK = "matcher.embed_batch"


@functools.lru_cache(maxsize=8)
def celery_app(broker_url: str, queue: str) -> Celery:
    app = Celery("matcher-backfill", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1,
        task_default_queue=queue, task_ignore_result=True, broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False, worker_send_task_events=False, task_send_sent_event=False,
        broker_transport_options={"confirm_publish": True},
    )
    return app


def enqueue(batch_ids: list[int]) -> None:
    config = current_app.config
    app = celery_app(config["BACKFILL_BROKER_URL"], config["BACKFILL_QUEUE"])
    with app.producer_pool.acquire(block=True) as producer:
        for batch_id in batch_ids:
            app.send_task(TASK, args=[batch_id], queue=config["BACKFILL_QUEUE"], producer=producer)


def current(job_id: int) -> BackfillJob:
    db.session.rollback()  # a fresh read: workers elsewhere update the row
    job = db.session.get(BackfillJob, job_id)
    db.session.refresh(job)
    return job


def run_job(job_id: int, on_progress: Callable[[BackfillJob], None] = lambda job: None, *,
            poll_seconds: float = 1.0, requeue_after: float = 300.0, timeout: float | None = None) -> BackfillJob:
    """Embed the job's unfinished batches; returns the job once every batch is done (or at
    ``timeout``, still running). With a broker the workers embed and this only watches."""
    ids = pending_batch_ids(job_id)
    if not current_app.config.get("BACKFILL_BROKER_URL"):
        me = worker_name()
        for batch_id in ids:
            embed_batch(batch_id, worker=me)
            on_progress(current(job_id))
        return current(job_id)
    enqueue(ids)
    started = last_change = time.monotonic()
    last_done = -1
    while True:
        job = current(job_id)
        on_progress(job)
        if job.state != "embedding":
            return job
        now = time.monotonic()
        if timeout is not None and now - started > timeout:
            return job
        if job.done_texts != last_done:
            last_done, last_change = job.done_texts, now
        elif now - last_change > requeue_after:
            enqueue(pending_batch_ids(job_id))
            last_change = now
        db.session.rollback()
        time.sleep(poll_seconds)
