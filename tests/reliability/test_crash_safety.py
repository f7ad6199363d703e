"""kill -9 at any moment loses no acknowledged write; the index follows the database.

The real service (gunicorn with gunicorn.conf.py, the demo dataset, the index built by
``matcher indexer --once``) on a free loopback port; a client writes through the JSON API while
the server's process group, a standalone indexer, or a Celery backfill worker is killed with
SIGKILL and restarted. The database follows ``--db``: SQLite in the instance (3 rounds per kill),
or fresh PostgreSQL databases (2 rounds; ``make test`` runs this file in both halves). The
scenarios are :mod:`benchmarks.crash` (``python -m benchmarks.crash`` runs them longer) on
:mod:`benchmarks.harness`. ``MATCHER_CRASH_SEED`` repeats the kill moments of a failed run.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

from benchmarks import crash, harness
from benchmarks.crash_client import Api
from tests.conftest import unavailable

pytestmark = pytest.mark.slow

SEED = int(os.environ.get("MATCHER_CRASH_SEED") or random.SystemRandom().randrange(1 << 30))


@pytest.fixture(scope="module")
def backend(request) -> str:
    return request.config.getoption("--db")


@pytest.fixture(scope="module")
def template(tmp_path_factory, backend):
    """Migrated database, demo dataset and a full index, built once with the real CLI: SQLite in
    the instance, or (``--db postgresql``) a fresh PostgreSQL database dropped with the module."""
    try:
        crash.check_available(postgres=backend == "postgresql")
    except crash.Unavailable as exc:
        unavailable(str(exc))
    root = tmp_path_factory.mktemp("crash-template") / "instance"
    if backend != "postgresql":
        yield crash.prepare_template(root)
        return
    name = crash.POSTGRES.fresh_name("matcher_crash") + "_template"
    crash.POSTGRES.create(name)
    try:
        yield crash.prepare_template(root, crash.POSTGRES.url(name))
    finally:
        crash.POSTGRES.drop(name)


@pytest.fixture
def inst(template, tmp_path):
    """A fresh copy of the template (its own PostgreSQL database, dropped afterwards)."""
    url = crash.POSTGRES.url(crash.POSTGRES.fresh_name("matcher_crash")) if template.database_url else None
    try:
        yield crash.clone(template, tmp_path / "instance", url)
    finally:
        if url:
            crash.POSTGRES.drop(url.rsplit("/", 1)[1])


def rounds(backend: str) -> int:
    return 2 if backend == "postgresql" else 3


def assert_consistent(result: crash.LoopResult, report: dict) -> None:
    context = f"(MATCHER_CRASH_SEED={SEED}; logs in {result.log.parent})"
    ledger, database, index = result.ledger, report["database"], report["index"]
    assert not result.load_errors, f"the writing client failed {context}: {result.load_errors}"
    assert ledger.acks, f"no write was acknowledged {context}"
    assert not [r for r in ledger.rejected if r["status"] >= 500], f"server errors during the run {context}: {ledger.rejected[:10]}"
    assert not ledger.rejected, f"writes refused {context}: {ledger.rejected[:10]}"
    assert database["integrity_ok"], f"integrity check (SQLite PRAGMA / PostgreSQL amcheck): {database['integrity']} {context}"
    assert database["foreign_key_violations"] == 0, f"PRAGMA foreign_key_check found violations {context}"
    assert database["lost"] == 0, f"{database['lost']} of {len(ledger.acks)} acknowledged writes lost {context}: {database['lost_details']}"
    assert not result.unusable_after_kill, f"a kill left CURRENT on an unusable snapshot {context}: {result.unusable_after_kill}"
    assert not result.restarts_rebuilt, f"a restart after kill -9 threw the index away {context}: {result.restarts_rebuilt}"
    assert index["index_matches_db"], f"index and database disagree after draining {context}: {index['problems']}"


def test_kill9_of_the_server_loses_no_acknowledged_write(inst, backend, tmp_path):
    # Round 1 kills within 3 s of the first HTTP answer (requests in flight, model loading), round 2
    # within 3 s of the indexer thread's start (the backlog's drain), round 3 within 3 s of its first
    # published snapshot (small drains publishing every poll).
    result = crash.server_kill_loop(inst, rounds=rounds(backend), seed=SEED, workdir=tmp_path)
    report = crash.verify(inst, result)
    assert_consistent(result, report)
    assert all(r["acks"] for r in result.rounds[1:2]), result.rounds
    assert any(m.startswith("loaded") for m in result.start_messages), f"the indexer thread never started: {result.start_messages}"


def test_kill9_of_a_standalone_indexer_keeps_the_index_consistent(inst, backend, tmp_path):
    """Production layout: two gunicorn workers without an indexer thread, a standalone indexer killed."""
    result = crash.indexer_kill_loop(inst, rounds=rounds(backend), seed=SEED, workdir=tmp_path)
    report = crash.verify(inst, result)
    assert_consistent(result, report)
    assert any(r["lag_after"] < r["lag_before"] + r["acks"] for r in result.rounds), \
        f"the indexer never drained between kills: {result.rounds}"


@pytest.fixture
def broker_queue():
    """A private queue on the local RabbitMQ, deleted afterwards."""
    from benchmarks import backfill_workers as bw

    problem = bw.broker_problem()
    if problem:
        unavailable(f"backfill worker kill test NOT run: {problem}")
    queue = f"matcher-crash-{bw.private_queue()}"
    yield queue
    bw.delete_queue(queue)


def test_kill9_of_a_backfill_worker_mid_batch_loses_no_batch_and_embeds_nothing_twice(inst, tmp_path, broker_queue):
    """A model change (README: production): gunicorn and the indexer serve with the old model while
    ``matcher reindex`` and a Celery worker (README's command, ``MATCHER_BACKFILL_BROKER`` on the
    local RabbitMQ) embed every English text for the new one and the client writes; the worker is
    killed with SIGKILL while it holds a batch, twice, and started again each time; then the
    service restarts with the new model and its indexer publishes the job."""
    from benchmarks import backfill_workers as bw
    from benchmarks import crash_backfill

    inst.extra_env.update(crash_backfill.settings(broker_queue, bw.BROKER_URL))
    result = crash.worker_kill_loop(inst, rounds=2, seed=SEED, workdir=tmp_path)
    report = crash.verify(inst, result)
    assert_consistent(result, report)
    backfill, context = report["backfill"], f"(MATCHER_CRASH_SEED={SEED}; logs in {tmp_path})"
    assert not backfill["problems"], f"{backfill['problems']} {context}"
    assert backfill["completed"], f"the job did not complete (a batch lost?) {context}: {backfill}"
    assert backfill["state"] == "published", f"the restarted indexer did not publish the job {context}: {backfill}"
    assert backfill["lost"] == 0, f"planned texts missing from the store {context}: {backfill}"
    assert backfill["embedded_once"], f"texts embedded twice {context}: {backfill}"
    kills = [k for k in result.rounds if "batch" in k]
    assert len(kills) == 2, f"the job ran out of batches before two kills {context}: {result.rounds}"
    assert backfill["killed_mid_batch"] >= 1, f"no kill landed while a batch was held {context}: {kills}"
    assert backfill["killed_batches_redone"] == backfill["killed_mid_batch"], f"a killed batch was never done {context}: {backfill}"
    assert backfill["embedded_by_finished_batches"] > 0 and backfill["worker_processes"] == 3, backfill
    assert result.backfill["reindex_exit"] == 0, result.backfill["reindex"]
    from matcher.store import IndexStore

    models = {c["name"]: c["model"] for c in IndexStore(inst.index_dir).open_current().manifest["channels"]}
    assert models["st"] == "all-MiniLM-L6-v2-local", models  # the live index is the new model's


def damage(index_dir: Path, how: str) -> str:
    """Damage the live snapshot of a running installation; returns the expected rebuild reason."""
    snapshot = index_dir / (index_dir / "CURRENT").read_text(encoding="utf-8").strip()
    if how == "truncate":
        path = snapshot / "dense-e5" / "vectors.npy"
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        return "index unusable (IndexCorrupt"
    if how == "corrupt":  # same size: only the checksum tells
        path = snapshot / "items.json"
        data = bytearray(path.read_bytes())
        middle = len(data) // 2
        data[middle : middle + 64] = b"\xff" * 64
        path.write_bytes(bytes(data))
        return "index unusable (IndexCorrupt"
    if how == "delete":
        for path in sorted(index_dir.rglob("*"), reverse=True):
            if path.name != "indexer.lock":
                path.rmdir() if path.is_dir() else path.unlink()
        return "index missing"
    raise ValueError(how)


def test_a_damaged_index_is_rebuilt_on_restart_to_the_same_suggestions(inst, tmp_path):
    server = crash.serve(inst, harness.free_port(), tmp_path / "server.log")
    api = Api(server.url)
    try:
        server.start()
        server.wait_index(crash.START_TIMEOUT)
        status, body = api.call("POST", "/auth/login", body={"email": inst.coordinator, "password": inst.password})
        assert status == 200, body
        token = body["token"]
        need_ids = _sample_needs(inst)

        def suggestions() -> dict[int, list]:
            out = {}
            for need_id in need_ids:
                status, body = api.call("GET", f"/needs/{need_id}/suggestions?limit=10", token)
                assert status == 200, (need_id, status, body)
                out[need_id] = body["items"]
            return out

        clean = suggestions()  # the template's index is a clean full rebuild of this database
        assert any(clean.values()), clean
        for how in ("truncate", "corrupt", "delete"):
            # Damage the files of a started installation, not those its indexer is still verifying.
            assert server.wait_for_output(r"matcher\.indexer indexer: ", crash.START_TIMEOUT), server.tail()
            quarantined = len(list(inst.index_dir.glob("quarantine/snap-*/QUARANTINE_REASON")))
            reason = damage(inst.index_dir, how)
            assert suggestions() == clean, f"the running server stopped answering from memory after {how}"
            server.stop()
            server.start()
            report = server.wait_index(crash.START_TIMEOUT, accept=lambda r: r["index"]["built"] == "full" and "indexer: rebuilt" in server.output())
            index = report["index"]
            assert index["rebuild_reason"] and index["rebuild_reason"].startswith(reason), (how, index, server.tail())
            assert report["status"] == "ok" and report["index_lag"] == 0, report
            if how != "delete":
                now = len(list(inst.index_dir.glob("quarantine/snap-*/QUARANTINE_REASON")))
                assert now == quarantined + 1, f"the damaged snapshot was not quarantined after {how}"
            after = suggestions()
            assert after == clean, f"suggestions after the rebuild ({how}) differ from a clean rebuild:\n" + "\n".join(
                f"need {n}: {json.dumps([i['expert_id'] for i in clean[n]])} -> {json.dumps([i['expert_id'] for i in after[n]])}"
                for n in need_ids if after[n] != clean[n])
    except harness.HarnessError as exc:
        pytest.fail(str(exc))
    finally:
        server.stop()


def _sample_needs(inst: crash.Installation) -> list[int]:
    """Open demo needs: two English, two Chinese (the dense channel reads only English here)."""
    import sqlalchemy as sa

    with harness.connect(inst.url) as con:
        rows = con.execute(sa.text("SELECT id, title FROM needs WHERE status = 'open' ORDER BY id")).fetchall()
    english = [i for i, t in rows if t.isascii()][:2]
    chinese = [i for i, t in rows if not t.isascii()][:2]
    return english + chinese
