"""Backfill through real Celery workers on the local RabbitMQ, with a worker killed mid-batch.

    python -m benchmarks.backfill --json [--items 3000] [--channel e5] [--batch 50]

A fresh SQLite instance holds ``--items`` short real Chinese texts from CSL dev (titles, the
first clause of each abstract, the keyword lists; ``../shared/datasets/csl-dev``) as the
achievements of experts of five. A first backfill job over a third of them runs with one
worker; a second over the rest runs with two, and one of them is killed with ``kill -9`` while
it embeds a batch and started again. Then the index writer publishes from the store. Prints:

* ``items``: texts planned; ``lost``: planned texts missing from the store at the end (0);
* ``embedded_once``: no text was embedded twice — the texts embedded by finished batches add
  up to at most the texts stored (a batch redone after the kill embeds only what is missing);
* ``killed_mid_batch``: the batch the killed worker held was not done at the kill and was done
  later by another process;
* ``index_matches_db``: the published snapshot holds exactly the database's items and experts;
* ``throughput_1_worker`` / ``throughput_2_workers`` (texts/s, wall clock from enqueue to the
  last batch; the second includes the kill and the restart).

Uses a private queue (removed afterwards) and a temporary directory. Never asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
import time
from pathlib import Path

from benchmarks import backfill_workers as bw
from benchmarks.datasets import CSL_DIR, load_csl


def csl_texts(limit: int, directory: Path) -> list[str]:
    papers = load_csl(directory)
    texts = [p.title for p in papers]
    texts += [re.split(r"[，,；;。.]", p.abstract, maxsplit=1)[0][:80] for p in papers]
    texts += [" ; ".join(p.keywords) for p in papers]
    return [t for t in dict.fromkeys(t.strip() for t in texts) if len(t) >= 4][:limit]


def make_app(instance: Path, database_url: str, queue: str, channel: str):
    os.environ["MATCHER_ENV"] = "testing"
    from web import create_app

    return create_app({"TESTING": True, "INSTANCE_DIR": str(instance), "SQLALCHEMY_DATABASE_URI": database_url,
                       "INDEX_DIR": str(instance / "index"), "EMBEDDING_STORE": "database",
                       "MATCHER_DENSE_CHANNELS": channel, "BACKFILL_BROKER_URL": bw.BROKER_URL,
                       "BACKFILL_QUEUE": queue})


def add_experts(texts: list[str], start: int) -> None:
    from models import Achievement, AchievementKind, ExpertProfile, Role, User, write_transaction
    from models.base import AccountStatus

    with write_transaction() as session:
        for n in range(0, len(texts), 5):
            number = start + n
            user = User(email=f"bench{number}@backfill.example.cn", password_hash="x", name=f"专家{number}",
                        role=Role.EXPERT, status=AccountStatus.ACTIVE)
            profile = ExpertProfile(user=user, name=user.name)
            session.add_all([user, profile])
            session.flush()
            session.add_all([Achievement(expert_id=profile.id, kind=AchievementKind("paper"), title=t, abstract="",
                                         year=2020) for t in texts[n:n + 5]])


def kill_mid_batch(workers: list, job_id: int, total: int, tmp: Path, env: dict) -> dict:
    """Once a third of the job is done, ``kill -9`` the first worker while the batch it last
    started is not done yet; start it again at once."""
    from models import BackfillBatch, BackfillJob, db

    victim = workers[0]
    while True:
        job = db.session.get(BackfillJob, job_id)
        done, state = job.done_texts, job.state
        started = re.findall(r"backfill batch (\d+): embedding", victim.log())
        held = db.session.get(BackfillBatch, int(started[-1])) if started else None
        in_flight = held is not None and held.job_id == job_id and not held.done
        db.session.rollback()
        if state != "embedding":
            return {}
        if done >= total // 3 and in_flight:
            break
        time.sleep(0.05)
    victim.kill9()
    batch = db.session.get(BackfillBatch, held.id)
    killed = {"batch": batch.id, "done_at_kill": bool(batch.done), "killed_pid": victim.pid}
    db.session.rollback()
    workers[0] = bw.Worker(victim.name + "b", env, tmp / f"{victim.name}b.log").start()
    return killed


def run_phase(texts: list[str], start: int, workers: list, kill: bool, tmp: Path, env: dict) -> dict:
    from models import BackfillBatch, db
    from web.matching.backfill import plan_job
    from web.matching.backfill_queue import enqueue, run_job

    add_experts(texts, start)
    job, _ = plan_job(f"benchmark, {len(workers)} worker(s)")
    job_id, total = job.id, job.total_texts
    ids = [b for b in db.session.scalars(db.select(BackfillBatch.id).where(BackfillBatch.job_id == job_id))]
    db.session.rollback()
    started = time.perf_counter()
    enqueue(ids)
    killed: dict = {}
    if kill:
        killed = kill_mid_batch(workers, job_id, total, tmp, env)
    finished = run_job(job_id, poll_seconds=0.5, timeout=3600)
    seconds = time.perf_counter() - started
    if killed:
        batch = db.session.get(BackfillBatch, killed["batch"])
        killed["redone_by_other"] = bool(batch.done) and not batch.worker.endswith(f":{killed['killed_pid']}")
        db.session.rollback()
    return {"job": job_id, "texts": total, "state": finished.state, "seconds": round(seconds, 1),
            "per_s": round(total / seconds, 1) if seconds else None, "embedded": finished.embedded_texts,
            "killed": killed}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=3000)
    parser.add_argument("--channel", default="e5", help="dense channel the workers embed with (default e5)")
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--csl", type=Path, default=CSL_DIR if CSL_DIR.exists() else Path("/work/shared/datasets/csl-dev"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    problem = bw.broker_problem()
    if problem:
        raise SystemExit(f"benchmark not run: {problem}")
    texts = csl_texts(args.items, args.csl)
    queue = bw.private_queue()
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-backfill-") as directory:
        tmp = Path(directory)
        database_url = f"sqlite:///{tmp / 'matcher.db'}"
        app = make_app(tmp, database_url, queue, args.channel)
        env = bw.worker_env(database_url, tmp / "worker", queue, args.channel, MATCHER_BACKFILL_BATCH=str(args.batch))
        workers = []
        try:
            with app.app_context():
                from flask_migrate import upgrade

                upgrade()
                app.config["BACKFILL_BATCH"] = args.batch
                workers.append(bw.Worker("w1", env, tmp / "w1.log").start())
                workers[0].wait_for(" ready.")
                third = len(texts) // 3
                one = run_phase(texts[:third], 0, workers, False, tmp, env)
                workers.append(bw.Worker("w2", env, tmp / "w2.log").start())
                workers[1].wait_for(" ready.")
                two = run_phase(texts[third:], third, workers, True, tmp, env)
                report = summarise(app, texts, one, two)
        finally:
            for worker in workers:
                worker.stop()
            bw.delete_queue(queue)
    report.update({"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "channel": args.channel,
                   "batch": args.batch, "load_average_start": [round(x, 2) for x in load_start],
                   "load_average_end": [round(x, 2) for x in os.getloadavg()]})
    print(json.dumps(report, ensure_ascii=False, indent=None if args.json else 2))


def summarise(app, texts: list[str], one: dict, two: dict) -> dict:
    from models import BackfillJob, db
    from web.matching.backfill import spaces_of
    from web.matching.channels import configured_channels, configured_store
    from web.matching.indexing import expected_counts, publish_job
    from web.matching.search import index_status

    store = configured_store()
    space = next(s for s in spaces_of(configured_channels()[0]) if s.endswith(":passage"))
    planned = one["texts"] + two["texts"]
    stored = store.count(space)
    embedded = sum(j.embedded_texts for j in db.session.scalars(db.select(BackfillJob)))
    db.session.rollback()
    publish_job(two["job"])
    items, experts = expected_counts()
    db.session.rollback()
    status = index_status()
    return {
        "items": planned, "stored": stored, "lost": planned - stored,
        "embedded_by_finished_batches": embedded, "embedded_once": embedded <= stored,
        "killed_mid_batch": bool(two["killed"]) and not two["killed"]["done_at_kill"] and two["killed"]["redone_by_other"],
        "index_matches_db": status["items"] == items and status["experts"] == experts and status["loaded"],
        "index_items": status["items"], "db_items": items,
        "throughput_1_worker": one["per_s"], "throughput_2_workers": two["per_s"],
        "phases": [one, two],
    }


if __name__ == "__main__":
    main()
