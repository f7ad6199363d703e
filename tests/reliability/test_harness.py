"""The benchmark harness's own contracts: a stopped command leaves no process of its group behind,
started commands never see the caller's service settings, scratch databases come and go."""

from __future__ import annotations

import os
import sys

import pytest

from benchmarks import harness
from tests.conftest import POSTGRES_ADMIN_URL, unavailable

# A parent that ignores SIGTERM and a child in the same process group; both print their pid.
STUBBORN = (
    "import signal, subprocess, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "child = subprocess.Popen([sys.executable, '-c', "
    "'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)'])\n"
    "print('pids', child.pid, flush=True)\n"
    "time.sleep(600)\n"
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as handle:  # a zombie waiting for init counts as gone
        return handle.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_stop_kills_the_whole_group_of_a_command_that_ignores_sigterm(tmp_path):
    process = harness.Process([sys.executable, "-c", STUBBORN], harness.clean_env(), tmp_path / "stubborn.log")
    process.start()
    try:
        found = process.wait_for_output(r"^pids (\d+)$", timeout=60)
        assert found, process.tail()
        child = int(found.group(1))
        assert process.stop(timeout=1) is False  # SIGTERM ignored: it had to be killed
        assert not process.running
        assert not _alive(child), "the child of the stopped command is still running"
    finally:
        process.kill9()


def test_started_commands_do_not_inherit_service_settings(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgresql://elsewhere/production")
    monkeypatch.setenv("MATCHER_INDEX_DIR", "/srv/index")
    monkeypatch.setenv("SECRET_KEY", "not-for-tests")
    env = harness.Instance(tmp_path / "instance").env(MATCHER_ENV="development")
    assert {"DATABASE_URL", "MATCHER_INDEX_DIR", "SECRET_KEY"}.isdisjoint(env)
    assert env["MATCHER_INSTANCE_DIR"] == str(tmp_path / "instance")
    assert env["MATCHER_ENV"] == "development"
    on_postgres = harness.Instance(tmp_path / "other", "postgresql+psycopg://postgres@127.0.0.1:5432/scratch").env()
    assert on_postgres["DATABASE_URL"] == "postgresql+psycopg://postgres@127.0.0.1:5432/scratch"


def test_scratch_postgres_databases_are_created_from_a_template_and_dropped():
    server = harness.PostgresServer(POSTGRES_ADMIN_URL)
    problem = server.reachable()
    if problem:
        unavailable(f"PostgreSQL at {POSTGRES_ADMIN_URL} unreachable: {problem}")
    template, copy = server.fresh_name("matcher_harness") + "_template", server.fresh_name("matcher_harness")
    try:
        server.create(template)
        with harness.connect(server.url(template)) as con:
            con.exec_driver_sql("CREATE TABLE marker (id integer)")
            con.exec_driver_sql("INSERT INTO marker VALUES (7)")
            con.commit()
        server.create(copy, template=template)
        with harness.connect(server.url(copy)) as con:
            assert con.exec_driver_sql("SELECT id FROM marker").scalar() == 7
    finally:
        server.drop(copy)
        server.drop(template)
    names = {row[0] for row in server.execute("SELECT datname FROM pg_database")}
    assert not {template, copy} & names


@pytest.mark.parametrize("admin", ["host=127.0.0.1 port=5432 user=postgres dbname=postgres",
                                   "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"])
def test_database_urls_keep_the_servers_driver(admin):
    server = harness.PostgresServer(admin, "postgresql+psycopg://postgres@127.0.0.1:5432")
    assert server.url("matcher_x") == "postgresql+psycopg://postgres@127.0.0.1:5432/matcher_x"
