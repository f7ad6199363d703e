"""The crash benchmark's backfill layout (``--kill worker``): a model change embedded by a
Celery worker on the local RabbitMQ while the client writes, the worker killed with ``kill -9``
while it holds a batch and started again.

This is README's production path for a model change: the service (gunicorn without an indexer
thread and a standalone ``matcher indexer``) keeps running with the old settings while
``matcher reindex`` and the worker run with the new ones, then the indexer and gunicorn are
restarted with the new settings and the indexer publishes the job. Every command has
``MATCHER_BACKFILL_BROKER`` / ``MATCHER_BACKFILL_QUEUE`` (a private queue, deleted at the end)
in its environment. The new model is the packaged all-MiniLM-L6-v2 named by its directory in
``MATCHER_EMBEDDING_MODEL``: the same weights under another name, so another fingerprint and a
new key space of the ``st`` channel, and the job embeds every English text of the database
(the ``e5`` space is unchanged and complete). The worker is started with README's command.

What is checked afterwards (:func:`check_backfill`): the job completed and was published; no
batch was lost (every batch done once by the job's counters, every planned text in the store);
no text was embedded twice (the job's counter of texts embedded by finished batches against the
texts stored, as ``benchmarks.backfill`` does, and the workers' own logs: every finished run of
a batch, whichever process ran it, against the planned texts).
"""

from __future__ import annotations

import random
import re
import sys
import time
from collections import Counter
from typing import TYPE_CHECKING

import sqlalchemy as sa

from benchmarks.harness import HarnessError, Process, connect

if TYPE_CHECKING:
    from pathlib import Path

    from benchmarks.crash_instance import Installation

BATCH = 12  # texts per batch: 21 batches of the demo's English texts, so every round finds one to kill in
# The production command of README ("Backfill workers"), with the log level that shows the batches.
WORKER = [sys.executable, "-m", "celery", "-A", "web.matching.worker", "worker", "--pool", "solo", "-n", "embed1@%h",
          "-l", "INFO"]
REINDEX = [sys.executable, "-m", "flask", "--app", "wsgi", "matcher", "reindex", "--quiet"]
BATCH_START = re.compile(r"backfill batch (\d+): embedding (\d+) of (\d+) texts")
TASK_END = re.compile(r"Task matcher\.embed_batch\[[^\]]+\] (succeeded|retry|raised)")
TASK_RUNTIME = re.compile(r"Task matcher\.embed_batch\[[^\]]+\] succeeded in ([\d.]+)s: (\d+)")


def new_model(workdir: Path) -> dict[str, str]:
    """The settings of the model change: the packaged st model as a local directory of another
    name (a link in ``workdir``), as an operator names a downloaded model."""
    from matcher.embedding import default_model_path

    directory = workdir / "all-MiniLM-L6-v2-local"
    if not directory.exists():
        directory.symlink_to(default_model_path(), target_is_directory=True)
    return {"MATCHER_EMBEDDING_MODEL": str(directory)}


def settings(queue: str, broker: str) -> dict[str, str]:
    """What every command of the instance gets in its environment (README: production)."""
    return {"MATCHER_BACKFILL_BROKER": broker, "MATCHER_BACKFILL_QUEUE": queue, "MATCHER_BACKFILL_BATCH": str(BATCH)}


def worker_process(inst: Installation, log: Path, **settings: str) -> Process:
    """README: ``OMP_NUM_THREADS=1 celery -A web.matching.worker worker --pool solo -n embed1@%h``."""
    return Process(WORKER, inst.env(MATCHER_INDEXER="process", OMP_NUM_THREADS="1", **settings), log)


def reindex_process(inst: Installation, log: Path, **settings: str) -> Process:
    return Process(REINDEX, inst.env(MATCHER_INDEXER="process", **settings), log)


# -- the job, as the database holds it ----------------------------------------------------------------
def job_row(inst: Installation, job_id: int) -> dict:
    with connect(inst.url) as con:
        row = con.execute(sa.text(
            "SELECT state, total_texts, done_texts, embedded_texts, batches_total, batches_done FROM backfill_jobs "
            "WHERE id = :id"), {"id": job_id}).mappings().first()
    return dict(row) if row else {}


def batch_done(inst: Installation, batch_id: int) -> bool | None:
    """None once the batch row is gone (the index writer deletes a published job's batches)."""
    with connect(inst.url) as con:
        row = con.execute(sa.text("SELECT done FROM backfill_batches WHERE id = :id"), {"id": batch_id}).first()
    return None if row is None else bool(row[0])


def wait_for_plan(inst: Installation, reindex: Process, timeout: float) -> dict:
    """Once ``matcher reindex`` has planned its job (job and batches are written in one
    transaction): the job id and every batch's key space and text keys. Read before any
    worker runs, so no batch has been emptied yet."""
    from matcher.embstore import text_key

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reindex.check_running("while planning the job")
        with connect(inst.url) as con:
            job = con.execute(sa.text("SELECT id, state FROM backfill_jobs ORDER BY id DESC")).first()
            if job is not None:
                rows = con.execute(sa.text("SELECT id, space, size, texts FROM backfill_batches WHERE job_id = :id"),
                                   {"id": job[0]}).fetchall()
                break
        time.sleep(0.2)
    else:
        raise HarnessError(f"`matcher reindex` planned no job within {timeout:.0f}s:\n{reindex.tail()}")
    if job[1] != "embedding" or not rows:
        raise HarnessError(f"the backfill job has nothing to embed (state {job[1]}, {len(rows)} batches):\n{reindex.tail()}")
    from benchmarks.crash_checks import _json_list

    batches = {r[0]: {"space": r[1], "size": r[2], "keys": [text_key(t) for t in _json_list(r[3])]} for r in rows}
    if any(len(b["keys"]) != b["size"] for b in batches.values()):
        raise HarnessError("a batch was emptied before the plan was read")
    return {"job": job[0], "batches": batches, "texts": sum(b["size"] for b in batches.values())}


def held_batch(worker: Process, inst: Installation, job_id: int, rng: random.Random, window: float,
               timeout: float, rounds_left: int = 1) -> dict | None:
    """Wait until the worker starts embedding a batch (skipping one at random while the job has
    batches to spare for the rounds left), then a random delay from the start logged: below 0.6
    of the run time of this worker's last finished batch, or ``window`` before it finished two
    (its first batch also loads the model). Returns the batch, its texts, the delay and the
    batches that finished first (``missed``) once the task of a batch has not ended at its
    moment (whether the batch was done in the database then is for the caller to read after
    the kill); None when the job left the embedding state first."""
    row = job_row(inst, job_id)
    spare = row.get("batches_total", 0) - row.get("batches_done", 0) > 6 * rounds_left
    skip = rng.randrange(2) if spare else 0
    seen = missed = 0
    deadline = time.monotonic() + timeout
    asked = 0.0
    while time.monotonic() < deadline:
        worker.check_running("while embedding")
        output = worker.output()
        starts = [m for m in BATCH_START.finditer(output) if int(m.group(2))]
        if len(starts) > seen:
            seen = len(starts)
            if skip:
                skip -= 1
                continue
            start = starts[-1]
            batch, texts = int(start.group(1)), int(start.group(2))
            # The first finished batch of a process includes loading the model: not a batch's time.
            runtimes = [float(m.group(1)) for m in TASK_RUNTIME.finditer(output) if int(m.group(2))][1:]
            delay = rng.uniform(0.0, 0.6 * runtimes[-1] if runtimes else window)
            logged = _logged_at(output, start.start())
            time.sleep(max(0.0, delay - (time.time() - logged)) if logged else delay)
            if not TASK_END.search(worker.output()[start.end():]):  # the task has not ended: the worker holds it
                return {"batch": batch, "texts": texts, "delay": delay, "missed": missed}
            missed += 1
            continue
        if time.monotonic() - asked > 0.5:
            asked = time.monotonic()
            if job_row(inst, job_id).get("state") != "embedding":
                return None
        time.sleep(0.01)
    raise HarnessError(f"the worker took no batch within {timeout:.0f}s:\n{worker.tail()}")


def _logged_at(output: str, offset: int) -> float | None:
    """The time stamp (``2026-12-07T20:08:11.378Z``) of the log line at ``offset``, as epoch seconds."""
    from datetime import UTC, datetime

    line = output[output.rfind("\n", 0, offset) + 1:offset]
    found = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z", line)
    if not found:
        return None
    return datetime.fromisoformat(found.group(1)).replace(tzinfo=UTC).timestamp()


def wait_state(inst: Installation, job_id: int, state: str, watched: tuple[Process, ...], stall: float = 180.0,
               timeout: float = 1800.0) -> dict:
    """Until the job reaches ``state``; gives up (returning the last job row) when no batch was
    done for ``stall`` seconds (a worker restart with its model load takes well under that) or
    at ``timeout``. ``matcher reindex`` enqueues unfinished batches again only after 5 minutes
    without progress, so a batch the broker lost shows here as a stall."""
    started = last_change = time.monotonic()
    row: dict = {}
    last_done = -1
    while True:
        row = job_row(inst, job_id)
        now = time.monotonic()
        if row.get("state") == state or now - last_change > stall or now - started > timeout:
            return row
        if row.get("done_texts") != last_done:
            last_done, last_change = row.get("done_texts"), now
        for process in watched:  # a crash, not the harness's own kill -9 (a worker left dead shows as a stall)
            if process.proc is not None and (process.proc.poll() or 0) > 0:
                raise HarnessError(f"{' '.join(process.command[2:6])} exited with {process.proc.returncode}:\n"
                                   f"{process.tail()}")
        time.sleep(0.25)


# -- checks ---------------------------------------------------------------------------------------------
def batch_runs(outputs: list[str]) -> list[dict]:
    """Every run of a batch in the workers' logs (one output per worker process, in order):
    the batch, the texts it embedded, whether it finished (Celery logged the task's success)."""
    runs = []
    for number, text in enumerate(outputs):
        current = None
        for line in text.splitlines():
            start = BATCH_START.search(line)
            if start:
                current = {"process": number, "batch": int(start.group(1)), "embedded": int(start.group(2)),
                           "finished": False}
                runs.append(current)
                continue
            end = TASK_END.search(line)
            if end and current is not None:
                current["finished"] = end.group(1) == "succeeded"
                current = None
    return runs


def missing(inst: Installation, plan: dict) -> list[tuple[str, str]]:
    """The planned texts (key space, text key) that the store does not hold."""
    planned = Counter(b["space"] for b in plan["batches"].values())
    with connect(inst.url) as con:
        stored = {space: {r[0] for r in con.execute(sa.text("SELECT key FROM embedding_vectors WHERE space = :s"),
                                                    {"s": space})} for space in planned}
    return [(b["space"], k) for b in plan["batches"].values() for k in b["keys"] if k not in stored[b["space"]]]


def check_backfill(inst: Installation, plan: dict, outputs: list[str], kills: list[dict],
                   missing_when_embedded: list | None) -> dict:
    """The job completed and was published, no batch lost, no text embedded twice.
    ``missing_when_embedded``: planned texts the store lacked when the job said every batch was
    done (read then, because the new model's indexer embeds whatever is missing when it rebuilds)."""
    job = job_row(inst, plan["job"])
    lost = missing_when_embedded if missing_when_embedded is not None else missing(inst, plan)
    lost_at_end = missing(inst, plan)
    runs = batch_runs(outputs)
    finished = [r for r in runs if r["finished"]]
    by_finished_runs = sum(r["embedded"] for r in finished)
    twice = sorted(b for b, n in Counter(r["batch"] for r in finished if r["embedded"]).items() if n > 1)
    completed = (job.get("state") in ("embedded", "published") and job["batches_done"] == job["batches_total"] == len(plan["batches"])
                 and job["done_texts"] == job["total_texts"] == plan["texts"])
    embedded = job.get("embedded_texts", 0)
    mid_batch = [k for k in kills if k.get("batch") and k.get("done_at_kill") is False]
    redone = [k["batch"] for k in mid_batch
              if any(r["batch"] == k["batch"] and r["finished"] and r["process"] > k["process"] for r in runs)]
    problems = []
    if not completed:
        problems.append(f"job {plan['job']} did not complete: {job}")
    elif job["state"] != "published":
        problems.append(f"job {plan['job']} embedded but not published by the running indexer")
    if lost:
        when = "when the job was embedded" if missing_when_embedded is not None else "(the job never was)"
        problems.append(f"{len(lost)} planned texts missing from the store {when}, e.g. {lost[:3]}")
    if lost_at_end:
        problems.append(f"{len(lost_at_end)} planned texts missing from the store at the end, e.g. {lost_at_end[:3]}")
    if embedded > plan["texts"] - len(lost) or by_finished_runs > plan["texts"]:
        problems.append(f"texts embedded twice, or counted but not stored: finished batches embedded {embedded} (job) / {by_finished_runs} (worker logs) "
                        f"of {plan['texts']} planned, {plan['texts'] - len(lost)} stored")
    if twice:
        problems.append(f"batches whose texts were embedded by two finished runs: {twice[:10]}")
    missed = sorted({k["batch"] for k in mid_batch} - set(redone))
    if missed:
        problems.append(f"batches held by a killed worker never finished afterwards: {missed}")
    return {
        "job": plan["job"], "state": job.get("state"), "completed": completed, "texts": plan["texts"],
        "batches": f"{job.get('batches_done')}/{job.get('batches_total')}", "lost": len(lost),
        "lost_at_end": len(lost_at_end),
        "embedded_by_finished_batches": embedded, "embedded_by_finished_runs": by_finished_runs,
        "embedded_once": embedded <= plan["texts"] - len(lost) and by_finished_runs <= plan["texts"] and not twice,
        "interrupted_runs": sum(1 for r in runs if not r["finished"]),
        "texts_in_interrupted_runs": sum(r["embedded"] for r in runs if not r["finished"]),
        "killed_mid_batch": len(mid_batch), "killed_batches_redone": len(redone), "worker_processes": len(outputs),
        "problems": problems,
    }
