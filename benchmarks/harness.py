"""The real service on this machine, for the load and crash benchmarks and the browser tests:
free loopback ports, scratch databases (SQLite in the instance, or PostgreSQL databases created
and dropped on a server), fresh instance directories prepared with the project's own CLI, and
commands (gunicorn, the indexer) in their own process groups, started, waited for and stopped.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Variables that would point a started command at something other than the instance under test.
SCRUBBED_ENV = (
    "DATABASE_URL", "MATCHER_INDEX_DIR", "MATCHER_INDEXER", "MATCHER_ENV", "MATCHER_INSTANCE_DIR", "REDIS_URL",
    "RATELIMIT_STORAGE_URI", "MAIL_SERVER", "PROXY_COUNT", "WEB_CONCURRENCY", "GUNICORN_THREADS",
    "GUNICORN_CMD_ARGS", "SECRET_KEY", "PORT", "FLASK_APP", "MATCHER_INDEX_POLL_SECONDS", "MATCHER_BASE_URL",
    "MATCHER_TRUSTED_HOSTS", "MATCHER_EMBEDDING_STORE", "MATCHER_BACKFILL_BROKER", "MATCHER_BACKFILL_QUEUE",
    "MATCHER_BACKFILL_BATCH",
)
# The embedding model comes from an installed package or a local directory, never the network.
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
# No control socket: its default path (~/.gunicorn/gunicorn.ctl) is shared by every gunicorn of the user.
GUNICORN = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--no-control-socket", "wsgi:app"]
INDEXER = [sys.executable, "-m", "flask", "--app", "wsgi", "matcher", "indexer"]
EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
PHONE_RE = re.compile(r"(?<!\d)1\d{10}(?!\d)|(?<!\d)0\d{2,3}-?\d{7,8}(?!\d)")


class HarnessError(RuntimeError):
    """A command of the service failed or the server did not come up."""


def redact(text: str) -> str:
    """Log text without e-mail addresses and phone numbers (reports never carry contact details)."""
    return PHONE_RE.sub("<phone>", EMAIL_RE.sub("<email>", text))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(**settings: str) -> dict[str, str]:
    """This process's environment without the variables of ``SCRUBBED_ENV``, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
    env.update({"PYTHONUNBUFFERED": "1", **settings})
    return env


# -- databases -----------------------------------------------------------------------------------
@contextlib.contextmanager
def connect(url: str):
    """A connection to a database (SQLAlchemy URL, SQLite or PostgreSQL), disposed afterwards."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as con:
            yield con
    finally:
        engine.dispose()


class PostgresServer:
    """Scratch databases on a PostgreSQL server, created (optionally from a template) and
    dropped through an admin connection. ``admin`` is a SQLAlchemy URL or a libpq connection
    string; ``server_url`` is what the service's DATABASE_URL starts with (default: ``admin``)."""

    def __init__(self, admin: str, server_url: str | None = None) -> None:
        if "://" in admin:
            self.admin = sa.engine.make_url(admin).set(drivername="postgresql").render_as_string(hide_password=False)
        else:
            self.admin = admin
        self.base_url = sa.engine.make_url(server_url or admin)

    def url(self, name: str) -> str:
        return self.base_url.set(database=name).render_as_string(hide_password=False)

    @staticmethod
    def fresh_name(prefix: str) -> str:
        return f"{prefix}_{secrets.token_hex(4)}"

    def execute(self, sql: str, params: tuple = ()) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.admin, autocommit=True) as conn:
            cursor = conn.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    def reachable(self) -> str | None:
        """None when the server answers; else why not."""
        try:
            self.execute("SELECT 1")
        except Exception as exc:  # noqa: BLE001 - any failure means: not available here
            return f"{type(exc).__name__}: {exc}"
        return None

    def create(self, name: str, template: str | None = None) -> None:
        self.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))

    def drop(self, name: str) -> None:
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def backend_pids(self, name: str) -> list[int]:
        """Server processes connected to database ``name`` (empty when that cannot be asked)."""
        try:
            return [row[0] for row in self.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,))]
        except Exception:  # noqa: BLE001 - a figure left out, not a failure
            return []


# -- instances -----------------------------------------------------------------------------------
@dataclass
class Instance:
    """An instance directory (SQLite file, index, uploads, demo credentials) and its database:
    the SQLite file inside it, or ``database_url`` on PostgreSQL."""

    root: Path
    database_url: str | None = None

    @property
    def db_path(self) -> Path:
        return self.root / "matcher.db"

    @property
    def url(self) -> str:
        return self.database_url or f"sqlite:///{self.db_path}"

    @property
    def index_dir(self) -> Path:
        return self.root / "index"

    def env(self, **settings: str) -> dict[str, str]:
        """The environment of a command serving this instance (and nothing else)."""
        env = clean_env(MATCHER_INSTANCE_DIR=str(self.root), **settings)
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        return env

    def flask(self, *args: str, env: dict[str, str] | None = None, timeout: float = 900) -> str:
        """``flask --app wsgi ARGS`` on this instance; its standard output, or HarnessError."""
        command = [sys.executable, "-m", "flask", "--app", "wsgi", *args]
        done = subprocess.run(command, cwd=PROJECT_ROOT, env=env or self.env(), capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).splitlines()[-40:])
            raise HarnessError(f"`flask --app wsgi {' '.join(args)}` exited with {done.returncode}:\n{redact(tail)}")
        return done.stdout.strip()

    def set_up(self, *, env: dict[str, str] | None = None, index_env: dict[str, str] | None = None,
               timeout: float = 900) -> tuple[dict, list[str]]:
        """Migrate, load the demo dataset and build the index with the real CLI. Returns the
        demo credentials (``demo-credentials.json``) and the three commands' outputs."""
        self.root.mkdir(parents=True, exist_ok=True)
        outputs = [self.flask("db", "upgrade", env=env, timeout=timeout),
                   self.flask("demo", "load", env=env, timeout=timeout),
                   self.flask("matcher", "indexer", "--once", env=index_env or env, timeout=timeout)]
        if "rebuilt" not in outputs[2] and "loaded" not in outputs[2]:
            raise HarnessError(f"`matcher indexer --once` did not build the index: {outputs[2]}")
        credentials = json.loads((self.root / "demo-credentials.json").read_text(encoding="utf-8"))
        return credentials, outputs


# -- processes -----------------------------------------------------------------------------------
class Process:
    """A command in its own process group (session), output appended to a log file."""

    def __init__(self, command: list[str], env: dict[str, str], log: Path) -> None:
        self.command, self.env, self.log = command, env, log
        self.proc: subprocess.Popen | None = None
        self.offset = 0

    def start(self) -> None:
        self.offset = self.log.stat().st_size if self.log.exists() else 0
        with open(self.log, "ab") as handle:
            self.proc = subprocess.Popen(self.command, cwd=PROJECT_ROOT, env=self.env, stdout=handle, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def check_running(self, what: str = "while starting") -> None:
        if self.proc is not None and not self.running:
            raise HarnessError(f"{self.command[2]} exited with {self.proc.returncode} {what}:\n{redact(self.tail())}")

    def output(self) -> str:
        """What this run (since the last start) wrote to the log."""
        try:
            with open(self.log, "rb") as handle:
                handle.seek(self.offset)
                return handle.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    def wait_for_output(self, pattern: str, timeout: float) -> re.Match | None:
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern, re.MULTILINE)
        while time.monotonic() < deadline:
            found = regex.search(self.output())
            if found:
                return found
            if not self.running:
                return None
            time.sleep(0.05)
        return None

    def kill9(self) -> None:
        """SIGKILL to the whole process group (gunicorn master and workers, or the indexer)."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._wait_group_gone()

    def stop(self, timeout: float = 30, sig: signal.Signals = signal.SIGTERM) -> bool:
        """``sig`` to the process group (gunicorn stops gracefully on SIGTERM, the indexer on
        SIGINT), SIGKILL after ``timeout``. False when it had to be killed."""
        if self.proc is None:
            return True
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill9()
                return False
        self._wait_group_gone()
        return True

    def _wait_group_gone(self, timeout: float = 5.0) -> None:
        # Workers orphaned by the master's death are reaped by init; give them a moment.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.killpg(self.proc.pid, 0)
            except (ProcessLookupError, PermissionError):
                return
            time.sleep(0.05)


def indexer_process(inst: Instance, log: Path, **settings: str) -> Process:
    """The standalone ``flask --app wsgi matcher indexer`` of ``inst``."""
    return Process(INDEXER, inst.env(**settings), log)


class Server(Process):
    """gunicorn with ``gunicorn.conf.py`` on 127.0.0.1:``port``."""

    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        super().__init__(GUNICORN, {**env, "PORT": str(port)}, log)
        self.url = f"http://127.0.0.1:{port}"

    def wait_http(self, timeout: float) -> None:
        """Until a worker answers a cheap public endpoint (not /healthz: its first call loads the model)."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            self.check_running()
            try:
                with urllib.request.urlopen(f"{self.url}/api/v1/openapi.json", timeout=5) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except (OSError, http.client.HTTPException) as exc:
                last = f"{type(exc).__name__}: {exc}"
            time.sleep(0.05)
        raise HarnessError(f"the server did not answer within {timeout:.0f}s ({last}):\n{redact(self.tail())}")

    def health(self, timeout: float = 60) -> dict:
        """/healthz (raises on no answer or an error status)."""
        with urllib.request.urlopen(f"{self.url}/healthz", timeout=timeout) as response:  # noqa: S310
            return json.loads(response.read())

    def try_health(self, timeout: float = 10) -> dict | None:
        """/healthz, or None when it does not answer 200 with JSON."""
        try:
            return self.health(timeout)
        except (OSError, http.client.HTTPException, ValueError):
            return None

    def wait_index(self, timeout: float, accept: Callable[[dict], bool] | None = None, *, in_a_row: int = 1,
                   others: tuple[Process, ...] = ()) -> dict:
        """Until /healthz reports a loaded index (and ``accept(report)`` when given) ``in_a_row``
        times running (each answer comes from whichever worker took the connection; asking loads
        the index where missing), while this server and ``others`` keep running."""
        deadline = time.monotonic() + timeout
        report: dict = {}
        seen = 0
        while True:
            for process in (self, *others):
                process.check_running("during start-up")
            if time.monotonic() > deadline:
                raise HarnessError(f"the index was not loaded within {timeout:.0f}s (last /healthz: {report}):\n"
                                   f"{redact(self.tail())}")
            report = self.try_health(timeout=60) or {}
            if report.get("index", {}).get("loaded") and (accept is None or accept(report)):
                seen += 1
                if seen >= in_a_row:
                    return report
                time.sleep(0.05)
            else:
                seen = 0
                time.sleep(0.25)
