"""Backfill through real Celery workers on the local RabbitMQ (never a mock of it).

Each test has its own queue (removed afterwards) and its own database; workers are real
processes started with the production command. Without the broker the tests say plainly that
they could not run (a failure under MATCHER_REQUIRE_ALL=1, as in CI).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from benchmarks import backfill_workers as bw
from benchmarks.harness import OFFLINE, PROJECT_ROOT, clean_env
from tests.conftest import make_app, unavailable

pytestmark = pytest.mark.slow

WORDS = ("vibration damping in titanium alloy forgings", "lychee flower induction under girdling",
         "streptococcus vaccine trials in tilapia farms", "wear of cutting tools in dry machining",
         "fault diagnosis of rolling bearings from acoustic signals", "drying kinetics of tea leaves")


def english_texts(n: int, tag: str) -> list[str]:
    """Distinct English titles with abstracts (MiniLM, the ``st`` channel, reads English)."""
    return [f"Study {tag}-{i} of {WORDS[i % len(WORDS)]}. We measured {WORDS[(i * 7 + 3) % len(WORDS)]} "
            f"and compared it with {WORDS[(i * 5 + 1) % len(WORDS)]} over {i % 13 + 2} seasons of field trials."
            for i in range(n)]


@pytest.fixture
def queue():
    problem = bw.broker_problem()
    if problem:
        unavailable(f"backfill worker tests NOT run: {problem}")
    name = bw.private_queue()
    yield name
    bw.delete_queue(name)


@pytest.fixture
def queued_app(tmp_path, database_url, queue):
    app = make_app(tmp_path, database_url, EMBEDDING_STORE="database", MATCHER_DENSE_CHANNELS="st",
                   BACKFILL_BROKER_URL=bw.BROKER_URL, BACKFILL_QUEUE=queue, BACKFILL_BATCH=50)
    yield app
    with app.app_context():
        from models import db

        db.session.remove()
        db.engine.dispose()


def add_achievements(app, factory, texts: list[str]):
    from models import Achievement, AchievementKind, write_transaction

    expert = factory.user(role="expert", keywords=["vibration"])
    with app.app_context(), write_transaction() as session:
        session.add_all([Achievement(expert_id=expert.expert_id, kind=AchievementKind("paper"), title=t, abstract="",
                                     year=2022) for t in texts])
    return expert


def start_worker(name, tmp_path, database_url, queue, pool="solo"):
    worker = bw.Worker(name, bw.worker_env(database_url, tmp_path / f"{name}-inst", queue, "st"),
                       tmp_path / f"{name}.log", pool=pool).start()
    worker.wait_for(" ready.")
    return worker


def stored(app, space: str) -> int:
    from web.matching.channels import configured_store

    with app.app_context():
        return configured_store().count(space)


def test_a_worker_embeds_the_batches_and_the_indexer_publishes_them(queued_app, factory, database_url, queue, tmp_path):
    from web.matching.backfill import job_progress, plan_job
    from web.matching.backfill_queue import run_job
    from web.matching.channels import configured_store
    from web.matching.indexing import publish_job

    texts = english_texts(120, "a")
    add_achievements(queued_app, factory, texts)
    with queued_app.app_context():
        job, resumed = plan_job("test")
        assert not resumed and job.total_texts >= 120 and job.state == "embedding"
        job_id = job.id
    client = queued_app.test_client()
    before = client.get("/healthz").get_json()["backfill"]
    assert before["state"] == "embedding" and before["done"] == 0 and before["total"] == job.total_texts
    worker = start_worker("w1", tmp_path, database_url, queue)
    try:
        with queued_app.app_context():
            finished = run_job(job_id, timeout=300)
            assert finished.state == "embedded", worker.log()[-2000:]
            assert finished.embedded_texts == finished.total_texts == finished.done_texts
            from models import BackfillBatch, BackfillJob, db

            workers = set(db.session.scalars(sa.select(BackfillBatch.worker).where(BackfillBatch.job_id == job_id)))
            assert workers == {f"{__import__('socket').gethostname()}:{worker.pid}"}  # the worker did it, not this process
            space = next(s for s in finished.spaces if s.endswith(":passage"))
            assert configured_store().count(space) == finished.total_texts  # no need in this database: passages only
            store = configured_store()
            encoded_before = store.encoded
            message = publish_job(job_id)
            assert "backfill job" in message and store.encoded == encoded_before  # the rebuild embedded nothing
            assert job_progress(db.session.get(BackfillJob, job_id))["state"] == "published"
    finally:
        worker.stop()
    status = client.get("/healthz").get_json()
    assert status["index"]["rebuild_reason"] == f"backfill job {job_id}" and status["index"]["items"] >= 120
    assert status["backfill"]["state"] == "published" and status["backfill"]["done"] == job.total_texts



def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_killed_workers_batch_is_redone_by_another_and_nothing_is_embedded_twice(queued_app, factory, database_url,
                                                                                     queue, tmp_path):
    from models import BackfillBatch, BackfillJob, db
    from web.matching.backfill import plan_job
    from web.matching.backfill_queue import enqueue, run_job

    add_achievements(queued_app, factory, english_texts(400, "k"))
    with queued_app.app_context():
        job, _ = plan_job("test", batch_size=1000)  # one big batch: the kill lands in the middle of it
        job_id, total, space = job.id, job.total_texts, next(s for s in job.spaces if s.endswith(":passage"))
        batch_ids = list(db.session.scalars(sa.select(BackfillBatch.id).where(BackfillBatch.job_id == job_id)))
        assert len(batch_ids) == 1
        enqueue(batch_ids)
    # prefork: the parent acknowledges a task early unless acks_late (solo sends no ack until the task ends)
    first = start_worker("w1", tmp_path, database_url, queue, pool="prefork")
    try:
        first.wait_for("backfill batch ", timeout=120)  # it has read the batch and is embedding it
        time.sleep(0.5)
        first.kill9()
    finally:
        first.stop()
    with queued_app.app_context():
        batch = db.session.get(BackfillBatch, batch_ids[0])
        assert not batch.done, "the batch finished before the kill; the test needs a bigger batch"
        assert stored(queued_app, space) == 0  # the killed worker stored nothing
    # RabbitMQ put the unacknowledged batch back when the worker's connection dropped.
    wait_until(lambda: bw.queue_depth(queue) == 1, 30, "the batch back on the queue")
    status = queued_app.test_cli_runner().invoke(args=["matcher", "status"])
    progress = json.loads(status.output[status.output.index("{"):])["backfill"]
    assert progress["state"] == "embedding" and progress["done"] == 0 and progress["total"] == total
    second = start_worker("w2", tmp_path, database_url, queue)
    try:
        with queued_app.app_context():
            finished = run_job(job_id, timeout=300)
            assert finished.state == "embedded", second.log()[-2000:]
            batch = db.session.get(BackfillBatch, batch_ids[0])
            assert batch.worker.endswith(f":{second.pid}")
            job = db.session.get(BackfillJob, job_id)
            assert job.embedded_texts == job.done_texts == total  # each text embedded once, by the second worker
    finally:
        second.stop()
    assert stored(queued_app, space) == total


def test_reindex_resumes_where_it_stopped_after_kill_9(tmp_path, database_url, factory, app):
    from models import BackfillJob, db

    texts = english_texts(240, "r")
    add_achievements(app, factory, texts)
    env = clean_env(MATCHER_ENV="testing", DATABASE_URL=database_url, MATCHER_INSTANCE_DIR=str(tmp_path / "cli"),
                    MATCHER_EMBEDDING_STORE="database", MATCHER_DENSE_CHANNELS="st", **OFFLINE)
    log = open(tmp_path / "reindex.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "matcher", "reindex", "--batch-size", "20"],
                            cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)

    def progress():
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT done_texts, total_texts FROM backfill_jobs")).first()

    try:
        done, total = wait_until(lambda: (row := progress()) and row[0] >= 60 and row, 300, "some batches done")
    finally:
        __import__("os").killpg(proc.pid, 9)
        proc.wait()
        log.close()
    killed_at, total = progress()
    assert 0 < killed_at < total, (killed_at, total)
    resumed_app = make_app(tmp_path / "again", database_url, EMBEDDING_STORE="database", MATCHER_DENSE_CHANNELS="st",
                           INDEX_DIR=str(tmp_path / "cli" / "index"))
    result = resumed_app.test_cli_runner().invoke(args=["matcher", "reindex", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "resuming backfill job 1" in result.output and "backfill job 1 embedded" in result.output
    with resumed_app.app_context():
        job = db.session.get(BackfillJob, 1)
        assert job.state == "published" and job.done_texts == total
        assert job.embedded_texts <= total  # a batch stored just before the kill was not embedded again
        from web.matching.channels import configured_store

        assert configured_store().count(next(s for s in job.spaces if s.endswith(":passage"))) == total
        db.session.remove()
        db.engine.dispose()
    engine.dispose()
