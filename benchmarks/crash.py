"""Crash safety: ``kill -9`` the real service while a client writes through the API.

    python -m benchmarks.crash --rounds 20 --json
    python -m benchmarks.crash --rounds 20 --db postgresql --kill indexer --json
    python -m benchmarks.crash --rounds 3 --kill worker --json

A fresh instance (SQLite, the demo dataset, the index built by ``matcher indexer --once``) is
served by gunicorn with ``gunicorn.conf.py`` (embedded default: one worker, the indexer as a
thread). A client writes continuously through the bearer-token API — needs created and edited
by an enterprise, profile edits and achievements (added, deleted) by two experts, proposals,
answers and outcomes of matches — and records every write the server acknowledged (2xx with
the returned id/state). Each round kills the server's process group with SIGKILL at a random
moment (shortly after it answers HTTP, or shortly after its indexer thread has started and is
draining) and starts it again. ``--kill indexer`` runs the production layout instead (gunicorn
with two workers and no indexer thread, a standalone ``flask --app wsgi matcher indexer``) and
kills the indexer. ``--kill worker`` adds to that layout a model change through a backfill on Celery and the
local RabbitMQ (``MATCHER_BACKFILL_BROKER``, a private queue deleted at the end): a ``matcher
reindex`` job runs while the client writes, its worker is killed while it holds a batch and
started again, and the service is restarted with the new model, whose indexer publishes the job
(:mod:`benchmarks.crash_backfill`). Afterwards:

* every acknowledged write is in the database (queried directly, not through the service);
* SQLite: ``PRAGMA integrity_check`` is ok and ``foreign_key_check`` finds nothing; PostgreSQL
  (``--db postgresql``, fresh databases dropped at the end): amcheck's ``bt_index_check`` passes on
  every B-tree index;
* after ``flask --app wsgi matcher indexer --once`` the live snapshot holds exactly the
  database's items: the item table (``items.json``) against experts/achievements, the counts of
  ``web.matching.indexing.expected_counts``, vectors/FAISS against the item table, need vectors
  against the open needs;
* ``--kill worker``: the job completed and was published, no batch was lost, no text was
  embedded twice (:func:`benchmarks.crash_backfill.check_backfill`).

Prints one JSON object (or a short text); never asserts. ``tests/reliability`` uses the same
harness and asserts. Modules: ``crash_client`` (the writing client and its ledger),
``crash_checks`` (database and index checks), ``crash_instance`` (the installation, its template
and servers), ``crash_backfill`` (the worker layout); the shared harness is ``benchmarks.harness``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import re
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.crash_checks import check_database, check_index, drain, outbox_lag, snapshot_usable
from benchmarks.crash_client import Ledger, WriteLoad
from benchmarks.crash_instance import (  # noqa: F401 - the instance's names, as tests read them from here
    POSTGRES,
    START_TIMEOUT,
    Installation,
    Unavailable,
    check_available,
    clone,
    prepare_template,
    serve,
    standalone_indexer,
)
from benchmarks.harness import (
    HarnessError,
    Process,
    free_port,
)


# -- scenarios -----------------------------------------------------------------------------------
@dataclass
class LoopResult:
    rounds: list[dict]
    ledger: Ledger
    load_errors: list[str]
    start_messages: list[str]
    unusable_after_kill: list[str]
    seconds: float
    log: Path
    backfill: dict | None = None  # --kill worker: the job's plan, the workers' logs, the kills

    @property
    def restarts_rebuilt(self) -> list[str]:
        return [m for m in self.start_messages if not m.startswith("loaded")]


INDEXER_START = r"(?:matcher\.indexer indexer: |^)(loaded snap-\S+|rebuilt [^\n]*)"


def _start_messages(text: str) -> list[str]:
    return [m.group(1) for m in re.finditer(INDEXER_START, text, re.MULTILINE)]


PHASES = ("start-up", "first drain", "steady")


def _kill_moment(proc: Process, inst: Installation, phase: str, rng: random.Random, window: float,
                 started_pattern: str) -> tuple[float, str]:
    """Wait for ``phase`` of the indexer's life, then a random delay; returns (delay, description).

    start-up: just after the process answers (server) or spawns (indexer): the model is loading;
    first drain: just after the indexer started, while it applies the backlog;
    steady: after the indexer published its first snapshot, small drains every poll."""
    if phase == "start-up":
        delay = rng.uniform(0.0, window)
        return delay, f"{delay:.2f}s into start-up"
    current = _current_snapshot(inst)
    if not proc.wait_for_output(started_pattern, START_TIMEOUT):
        return 0.0, "indexer never started"
    if phase == "steady":
        deadline = time.monotonic() + START_TIMEOUT
        while _current_snapshot(inst) == current and time.monotonic() < deadline and proc.running:
            time.sleep(0.05)
    delay = rng.uniform(0.0, window)
    return delay, f"{delay:.2f}s into {'the first drain' if phase == 'first drain' else 'steady draining'}"


def _current_snapshot(inst: Installation) -> str | None:
    from matcher.store import IndexStore

    return IndexStore(inst.index_dir).current_name()


@dataclass
class Kills:
    """What each kill of a loop left behind: the round's figures, the indexer's start messages,
    and whether CURRENT still named a usable snapshot."""

    inst: Installation
    details: list[dict] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    unusable: list[str] = field(default_factory=list)

    def record(self, number: int, killed: Process, what: str, **figures) -> None:
        self.messages += _start_messages(killed.output())
        problem = snapshot_usable(self.inst)
        if problem:
            self.unusable.append(f"round {number}: {problem}")
        self.details.append({"round": number, "kill": what, **figures})

    def result(self, load: WriteLoad, started: float, log: Path) -> LoopResult:
        return LoopResult(self.details, load.ledger, load.errors, self.messages, self.unusable,
                          time.monotonic() - started, log)


def server_kill_loop(inst: Installation, rounds: int, *, seed: int, workdir: Path, window: float = 3.0) -> LoopResult:
    """Serve with the embedded indexer thread; kill -9 the process group ``rounds`` times, in
    turn during start-up, during the indexer thread's first drain and during steady draining."""
    rng = random.Random(seed)
    started = time.monotonic()
    server = serve(inst, free_port(), workdir / "server.log")
    load = WriteLoad(inst, server.url, seed=seed)
    kills = Kills(inst)
    try:
        for number in range(1, rounds + 1):
            server.start()
            server.wait_http(START_TIMEOUT)
            if number == 1:
                load.start()
            before = len(load.ledger.acks)
            phase = PHASES[(number - 1) % len(PHASES)]
            delay, what = _kill_moment(server, inst, phase, rng, window, r"matcher\.indexer indexer: ")
            time.sleep(delay)
            server.kill9()
            kills.record(number, server, what, acks=len(load.ledger.acks) - before)
    finally:
        load.stop()
        server.kill9()
    return kills.result(load, started, server.log)


def indexer_kill_loop(inst: Installation, rounds: int, *, seed: int, workdir: Path, window: float = 3.0) -> LoopResult:
    """Production layout: gunicorn without an indexer thread (MATCHER_INDEXER=process) and a
    standalone ``matcher indexer`` killed with SIGKILL ``rounds`` times while writes go on."""
    rng = random.Random(seed)
    started = time.monotonic()
    server = serve(inst, free_port(), workdir / "server.log", indexer="process")
    indexer = standalone_indexer(inst, workdir / "indexer.log")
    load = WriteLoad(inst, server.url, seed=seed)
    kills = Kills(inst)
    try:
        server.start()
        server.wait_http(START_TIMEOUT)
        load.start()
        for number in range(1, rounds + 1):
            before = len(load.ledger.acks)
            lag_before = outbox_lag(inst)
            indexer.start()
            phase = PHASES[(number - 1) % len(PHASES)]
            delay, what = _kill_moment(indexer, inst, phase, rng, 8.0 if phase == "start-up" else window, INDEXER_START)
            time.sleep(delay)
            if not indexer.running:
                raise HarnessError(f"the indexer exited by itself:\n{indexer.tail()}")
            indexer.kill9()
            kills.record(number, indexer, what, acks=len(load.ledger.acks) - before, lag_before=lag_before,
                         lag_after=outbox_lag(inst))
    finally:
        load.stop()
        indexer.kill9()
        server.kill9()
    return kills.result(load, started, server.log)


def worker_kill_loop(inst: Installation, rounds: int, *, seed: int, workdir: Path, window: float = 1.5) -> LoopResult:
    """The indexer layout plus a model change through a backfill (README: production):
    gunicorn and the indexer run with the old settings while ``matcher reindex`` plans the job
    with the new ones and the client writes; a Celery worker (new settings; ``inst.extra_env``
    names the broker and queue) is killed with SIGKILL ``rounds`` times at a random moment while
    it holds a batch, each time started again, and finishes the job; then the indexer and
    gunicorn are restarted with the new settings and the indexer publishes the job."""
    from benchmarks import crash_backfill as cb

    if "MATCHER_BACKFILL_BROKER" not in inst.extra_env:
        raise HarnessError("--kill worker needs the broker in the instance's environment (crash_backfill.settings)")
    rng = random.Random(seed)
    started = time.monotonic()
    port = free_port()
    new = cb.new_model(workdir)
    server = serve(inst, port, workdir / "server.log", indexer="process")
    indexer = standalone_indexer(inst, workdir / "indexer.log")
    worker = cb.worker_process(inst, workdir / "worker.log", **new)
    reindex = cb.reindex_process(inst, workdir / "reindex.log", **new)
    load = WriteLoad(inst, server.url, seed=seed)
    kills = Kills(inst)
    outputs: list[str] = []  # each worker process's log, in order
    plan: dict = {}
    embedded: dict = {}
    published: dict = {}
    missing_when_embedded: list | None = None
    try:
        server.start()
        indexer.start()
        server.wait_http(START_TIMEOUT)
        reindex.start()
        plan = cb.wait_for_plan(inst, reindex, START_TIMEOUT)
        load.start()  # the job runs while the client writes
        for number in range(1, rounds + 1):
            before = len(load.ledger.acks)
            worker.start()
            held = cb.held_batch(worker, inst, plan["job"], rng, window, START_TIMEOUT * 2, rounds + 1 - number)
            if held is None:
                kills.details.append({"round": number, "kill": "none: no batch was left", "acks": len(load.ledger.acks) - before})
                break
            worker.kill9()
            done = cb.batch_done(inst, held["batch"])
            outputs.append(worker.output())
            kills.record(number, worker, f"{held['delay']:.2f}s into batch {held['batch']} ({held['texts']} texts)",
                         acks=len(load.ledger.acks) - before, batch=held["batch"], done_at_kill=done,
                         process=len(outputs) - 1, batches_finished_first=held["missed"])
        if not worker.running:  # (still running when the loop found no batch left)
            worker.start()  # started again once more: it finishes the job
        embedded = cb.wait_state(inst, plan["job"], "embedded", (worker, reindex, indexer))
        if embedded.get("state") == "embedded" and reindex.proc is not None:
            with contextlib.suppress(Exception):  # the command ends (the running indexer holds the lock)
                reindex.proc.wait(timeout=60)
        if embedded.get("state") == "embedded":
            missing_when_embedded = cb.missing(inst, plan)
            # The new settings everywhere: the indexer first (it publishes the job), then gunicorn.
            inst.extra_env.update(new)
            indexer.stop(sig=signal.SIGINT)
            indexer = standalone_indexer(inst, workdir / "indexer-new.log")
            indexer.start()
            published = cb.wait_state(inst, plan["job"], "published", (indexer,), stall=START_TIMEOUT, timeout=START_TIMEOUT)
            server.stop()
            server = serve(inst, port, workdir / "server-new.log", indexer="process")
            server.start()
            server.wait_http(START_TIMEOUT)
            time.sleep(2.0)  # writes through the restarted server
    finally:
        load.stop()
        if worker.running:
            worker.stop()
            outputs.append(worker.output())
        reindex.kill9()
        indexer.kill9()
        server.kill9()
    result = kills.result(load, started, server.log)
    result.backfill = {"plan": plan, "outputs": outputs, "embedded": embedded, "published": published,
                       "missing_when_embedded": missing_when_embedded,
                       "reindex_exit": reindex.proc.returncode, "reindex": reindex.output().strip()[-600:],
                       "new_indexer": indexer.output().strip()[-1500:]}
    return result


def verify(inst: Installation, result: LoopResult) -> dict:
    """Database first (as the crash left it), then the indexer drains, then the index against the database."""
    started = time.monotonic()
    database = check_database(inst, result.ledger)
    lag = outbox_lag(inst)
    drained = time.monotonic()
    runs, outputs = drain(inst, result.log.parent)
    result.start_messages += [m for out in outputs for m in _start_messages(out)]  # the first start after the last kill
    checked = time.monotonic()
    index = check_index(inst)
    backfill = None
    if result.backfill is not None:
        from benchmarks.crash_backfill import check_backfill

        backfill = check_backfill(inst, result.backfill["plan"], result.backfill["outputs"],
                                  [k for k in result.rounds if "batch" in k], result.backfill["missing_when_embedded"])
        backfill["reindex_exit"] = result.backfill["reindex_exit"]
        if backfill["reindex_exit"] != 0:
            backfill["problems"].append(f"`matcher reindex` exited with {backfill['reindex_exit']}: {result.backfill['reindex']}")
    return {"database": database, "lag_before_drain": lag, "drain": runs, "drain_output": outputs, "index": index,
            "backfill": backfill, "seconds": {"database_check": round(drained - started, 1), "drain": round(checked - drained, 1),
                        "index_check": round(time.monotonic() - checked, 1)}}


def problems(result: LoopResult, report: dict) -> list[str]:
    """Everything that went wrong, one line each."""
    database = report["database"]
    found = [f"integrity_check: {database['integrity']}"] if not database["integrity_ok"] else []
    if database["foreign_key_violations"]:
        found.append(f"foreign_key_check: {database['foreign_key_violations']} violations")
    found += [f"lost: {x}" for x in database["lost_details"]]
    found += [f"index: {x}" for x in report["index"]["problems"]]
    found += [f"index unusable after a kill: {x}" for x in result.unusable_after_kill]
    found += [f"client: {e}" for e in result.load_errors]
    found += [f"rejected: {r}" for r in result.ledger.rejected[:10]]
    if report.get("backfill"):
        found += [f"backfill: {x}" for x in report["backfill"]["problems"]]
    return found


def summary(rounds: int, result: LoopResult, report: dict, seed: int, seconds: float) -> dict:
    ledger = result.ledger
    return {
        "rounds": rounds,
        "acknowledged": len(ledger.acks),
        "lost": report["database"]["lost"],
        "integrity_ok": report["database"]["integrity_ok"],
        "index_matches_db": report["index"]["index_matches_db"],
        "writes": ledger.attempts,
        "unknown_outcome": ledger.unknown,
        "rejected": len(ledger.rejected),
        "server_errors": ledger.server_errors,
        "acknowledged_by_kind": dict(Counter(a["op"] for a in ledger.acks)),
        "restarts_loaded": sum(1 for m in result.start_messages if m.startswith("loaded")),
        "restarts_rebuilt": result.restarts_rebuilt,
        "unusable_after_kill": result.unusable_after_kill,
        "lag_before_drain": report["lag_before_drain"],
        "drain": report["drain"],
        "index": {k: report["index"].get(k) for k in ("snapshot", "built", "items", "experts", "achievements", "watermark")},
        "problems": problems(result, report),
        **({"backfill": report["backfill"]} if report.get("backfill") else {}),
        "kills": result.rounds,
        "seed": seed,
        "phase_seconds": {"kill_loop": round(result.seconds, 1), **report["seconds"]},
        "seconds": round(seconds, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20, help="server kills (default 20)")
    parser.add_argument("--seed", type=int, default=None, help="random seed of the kill moments and the writes")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--keep", action="store_true", help="keep the instance directory and logs")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite",
                        help="sqlite (the embedded default) or postgresql (fresh databases on MATCHER_TEST_POSTGRES, "
                             "default 127.0.0.1:5432, dropped at the end)")
    parser.add_argument("--kill", choices=("server", "indexer", "worker"), default="server",
                        help="server: kill -9 gunicorn with its indexer thread; indexer: kill -9 a standalone "
                             "`matcher indexer` beside a gunicorn without one (the production layout); worker: that "
                             "layout plus a `matcher reindex` job on Celery workers (local RabbitMQ), a worker "
                             "killed -9 while it holds a batch")
    parser.add_argument("--broker", default="amqp://guest:guest@127.0.0.1:5672//",
                        help="--kill worker: the RabbitMQ the workers use (a private queue, deleted at the end)")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 30)
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="matcher-crash-"))
    databases: list[str] = []  # PostgreSQL: the template's and the instance's
    queue = f"matcher-crash-{secrets.token_hex(5)}" if args.kill == "worker" else None
    try:
        check_available(postgres=args.db == "postgresql", broker=args.broker if queue else None)
        if args.db == "postgresql":
            stem = POSTGRES.fresh_name("matcher_crash")
            databases = [stem + "_template", stem]
            POSTGRES.create(databases[0])
        urls = [POSTGRES.url(name) for name in databases] or [None, None]
        template = prepare_template(workdir / "template", urls[0])
        prepared = time.monotonic() - started
        inst = clone(template, workdir / "instance", urls[1])
        if queue:
            from benchmarks.crash_backfill import settings

            inst.extra_env.update(settings(queue, args.broker))
        loop = {"server": server_kill_loop, "indexer": indexer_kill_loop, "worker": worker_kill_loop}[args.kill]
        result = loop(inst, args.rounds, seed=seed, workdir=workdir)
        out = {"db": args.db, "kill": args.kill,
               **summary(args.rounds, result, verify(inst, result), seed, time.monotonic() - started)}
        out["phase_seconds"] = {"prepare": round(prepared, 1), **out["phase_seconds"]}
    except (Unavailable, HarnessError) as exc:
        out = {"rounds": args.rounds, "db": args.db, "kill": args.kill, "error": f"{type(exc).__name__}: {exc}", "seed": seed}
    finally:
        if queue:
            from benchmarks.backfill_workers import delete_queue

            with contextlib.suppress(Exception):
                delete_queue(queue, args.broker)
        for name in reversed(databases):
            with contextlib.suppress(Exception):
                POSTGRES.drop(name)
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=1))
    else:
        for key, value in out.items():
            print(f"{key:>22}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
