"""kill -9 at any moment loses no acknowledged write; the index follows the database.

The real service (gunicorn with gunicorn.conf.py, SQLite, the demo dataset, the index built by
``matcher indexer --once``) on a free loopback port; a client writes through the JSON API while
the server's process group, or a standalone indexer, is killed with SIGKILL and restarted.
The scenarios are :mod:`benchmarks.crash` (``python -m benchmarks.crash`` runs the server loop
longer) on :mod:`benchmarks.harness`. ``MATCHER_CRASH_SEED`` repeats the kill moments of a failed run.
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
def template(tmp_path_factory) -> crash.Installation:
    """Migrated database, demo dataset and a full index, built once with the real CLI."""
    try:
        crash.check_available()
    except crash.Unavailable as exc:
        unavailable(str(exc))
    return crash.prepare_template(tmp_path_factory.mktemp("crash-template") / "instance")


def assert_consistent(result: crash.LoopResult, report: dict) -> None:
    context = f"(MATCHER_CRASH_SEED={SEED}; logs in {result.log.parent})"
    ledger, database, index = result.ledger, report["database"], report["index"]
    assert not result.load_errors, f"the writing client failed {context}: {result.load_errors}"
    assert ledger.acks, f"no write was acknowledged {context}"
    assert not [r for r in ledger.rejected if r["status"] >= 500], f"server errors during the run {context}: {ledger.rejected[:10]}"
    assert not ledger.rejected, f"writes refused {context}: {ledger.rejected[:10]}"
    assert database["integrity_ok"], f"PRAGMA integrity_check: {database['integrity']} {context}"
    assert database["foreign_key_violations"] == 0, f"PRAGMA foreign_key_check found violations {context}"
    assert database["lost"] == 0, f"{database['lost']} of {len(ledger.acks)} acknowledged writes lost {context}: {database['lost_details']}"
    assert not result.unusable_after_kill, f"a kill left CURRENT on an unusable snapshot {context}: {result.unusable_after_kill}"
    assert not result.restarts_rebuilt, f"a restart after kill -9 threw the index away {context}: {result.restarts_rebuilt}"
    assert index["index_matches_db"], f"index and database disagree after draining {context}: {index['problems']}"


def test_kill9_of_the_server_loses_no_acknowledged_write(template, tmp_path):
    inst = crash.clone(template, tmp_path / "instance")
    # Round 1 kills within 3 s of the first HTTP answer (requests in flight, model loading), round 2
    # within 3 s of the indexer thread's start (the backlog's drain), round 3 within 3 s of its first
    # published snapshot (small drains publishing every poll).
    result = crash.server_kill_loop(inst, rounds=3, seed=SEED, workdir=tmp_path)
    report = crash.verify(inst, result)
    assert_consistent(result, report)
    assert all(r["acks"] for r in result.rounds[1:2]), result.rounds
    assert any(m.startswith("loaded") for m in result.start_messages), f"the indexer thread never started: {result.start_messages}"


def test_kill9_of_a_standalone_indexer_keeps_the_index_consistent(template, tmp_path):
    inst = crash.clone(template, tmp_path / "instance")
    result = crash.indexer_kill_loop(inst, rounds=3, seed=SEED, workdir=tmp_path)
    report = crash.verify(inst, result)
    assert_consistent(result, report)
    assert any(r["lag_after"] < r["lag_before"] + r["acks"] for r in result.rounds), \
        f"the indexer never drained between kills: {result.rounds}"


@pytest.fixture(scope="module")
def postgres_template(tmp_path_factory):
    """The same template on a fresh PostgreSQL database (dropped with the module)."""
    try:
        crash.check_available(postgres=True)
    except crash.Unavailable as exc:
        unavailable(str(exc))
    stem = crash.POSTGRES.fresh_name("matcher_crash")
    crash.POSTGRES.create(stem + "_template")
    try:
        yield crash.prepare_template(tmp_path_factory.mktemp("crash-pg-template") / "instance",
                                     crash.POSTGRES.url(stem + "_template")), stem
    finally:
        crash.POSTGRES.drop(stem + "_template")


@pytest.mark.parametrize("kill", ["server", "indexer"])
def test_kill9_on_postgresql_loses_no_acknowledged_write(postgres_template, tmp_path, kill):
    """The production database: the server (indexer thread) or the standalone indexer beside a
    two-worker gunicorn, killed at start-up and during the first drain."""
    template, stem = postgres_template
    inst = crash.clone(template, tmp_path / "instance", crash.POSTGRES.url(f"{stem}_{kill}"))
    try:
        loop = crash.server_kill_loop if kill == "server" else crash.indexer_kill_loop
        result = loop(inst, rounds=2, seed=SEED, workdir=tmp_path)
        report = crash.verify(inst, result)
        assert report["database"]["integrity"] == ["ok"], report["database"]["integrity"]  # amcheck on every B-tree index
        assert_consistent(result, report)
    finally:
        crash.POSTGRES.drop(f"{stem}_{kill}")


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


def test_a_damaged_index_is_rebuilt_on_restart_to_the_same_suggestions(template, tmp_path):
    inst = crash.clone(template, tmp_path / "instance")
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
