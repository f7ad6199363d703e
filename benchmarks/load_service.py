"""The load benchmark's service: a temporary instance (SQLite, or a fresh PostgreSQL database),
gunicorn and, in the production shape, the standalone indexer; and where the CPU went."""

from __future__ import annotations

import argparse
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from benchmarks.harness import INDEXER, Instance, PostgresServer, Process, Server, free_port, redact

LOG_PROBLEM_RE = re.compile(r" (ERROR|CRITICAL) |\[(ERROR|CRITICAL)\]|WORKER TIMEOUT")
LOG_WARNING_RE = re.compile(r" WARNING |\[WARNING\]")
LOG_EXCEPTION_RE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Timeout)\b.*")  # a traceback's last line


def log(message: str) -> None:
    print(f"[load] {message}", file=sys.stderr, flush=True)


class Service:
    """The temporary instance, its database, gunicorn and (production shape) the indexer."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="matcher-load-"))
        self.instance = Instance(self.tmp / "instance")
        self.server_log = self.tmp / "server.log"
        self.indexer_log = self.tmp / "indexer.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.postgres = PostgresServer(args.pg_admin, args.pg_url) if args.db == "postgresql" else None
        self.database: str | None = None
        self.server: Server | None = None
        self.processes: list[tuple[str, Process]] = []
        self.notes: list[str] = []
        self.workers = 1
        self.production = args.db == "postgresql"
        self._env: dict[str, str] = {}

    # -- environment -----------------------------------------------------------------------------
    def server_env(self) -> dict[str, str]:
        settings = {"PORT": str(self.port)}
        if self.production:
            settings.update({"MATCHER_ENV": "production", "MATCHER_INDEXER": "process",
                             "SECRET_KEY": secrets.token_urlsafe(48), "MATCHER_BASE_URL": f"http://127.0.0.1:{self.port}"})
            if self.args.workers:
                settings["WEB_CONCURRENCY"] = str(self.args.workers)
            if self.args.redis_url and _reachable(self.args.redis_url):
                settings["REDIS_URL"] = self.args.redis_url
            else:
                self.notes.append("rate limiter counters in memory (per worker): Redis not used or not reachable")
        else:
            settings.update({"MATCHER_ENV": "development", "MATCHER_INDEXER": "thread"})
        if self.args.gunicorn_args:
            settings["GUNICORN_CMD_ARGS"] = self.args.gunicorn_args
        return self.instance.env(**settings)

    # -- set-up ----------------------------------------------------------------------------------
    def create_database(self) -> None:
        self.database = self.postgres.fresh_name("matcher_load")
        self.postgres.create(self.database)
        self.instance.database_url = self.postgres.url(self.database)
        log(f"created database {self.database}")

    def drop_database(self) -> None:
        if not self.database:
            return
        try:
            self.postgres.drop(self.database)
            log(f"dropped database {self.database}")
        except Exception as exc:  # noqa: BLE001 - reported; the run's result stands
            log(f"could not drop database {self.database}: {exc}")

    def prepare(self) -> tuple[str, float]:
        """Database, migrations, demo data (development settings) and the index (server settings)."""
        started = time.perf_counter()
        if self.postgres:
            self.create_database()
        self._env = self.server_env()
        demo_env = self.instance.env(PORT=str(self.port), MATCHER_ENV="development")
        credentials, outputs = self.instance.set_up(env=demo_env, index_env=self._env, timeout=1800)
        log(outputs[1].splitlines()[-1])
        log(outputs[2].replace("\n", "; "))
        return credentials["password"], time.perf_counter() - started

    def start(self) -> float:
        started = time.perf_counter()
        self.server = Server(self._env, self.port, self.server_log)
        self.server.start()
        self.processes.append(("gunicorn", self.server))
        if self.production:
            indexer = Process(INDEXER, self._env, self.indexer_log)
            indexer.start()
            self.processes.append(("indexer", indexer))
            self.workers = self.args.workers or (os.cpu_count() or 1) * 2 + 1
        # Ready: the index is loaded by every worker, seen enough times in a row.
        others = tuple(p for name, p in self.processes if name != "gunicorn")
        self.server.wait_index(self.args.start_timeout, in_a_row=4 * self.workers + 4, others=others)
        return time.perf_counter() - started

    def health(self) -> dict | None:
        return self.server.try_health(timeout=10) if self.server else None


    # -- after the run ---------------------------------------------------------------------------
    def wait_for_index(self, timeout: float) -> tuple[float | None, int | None]:
        """Seconds until /healthz reports index_lag 0 (None: not within ``timeout``), and the lag
        at the first look."""
        started = time.monotonic()
        first = None
        while True:
            report = self.health() or {}
            lag = report.get("index_lag")
            if first is None and lag is not None:
                first = lag
            elapsed = time.monotonic() - started
            if lag == 0:
                return round(elapsed, 2), first
            if elapsed > timeout:
                return None, first
            time.sleep(0.25)

    def log_problems(self, limit: int = 10) -> dict:
        """ERROR/CRITICAL records of the server and indexer logs (the first distinct ones, with the
        exception line of their tracebacks) and WARNING records."""
        errors, warnings, error_lines, warning_lines = 0, 0, [], []
        for path in (self.server_log, self.indexer_log):
            if not path.exists():
                continue
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                problem = LOG_PROBLEM_RE.search(line)
                errors += bool(problem)
                if problem or LOG_EXCEPTION_RE.match(line):
                    text = redact(line)[:400]
                    if text not in error_lines and len(error_lines) < limit:
                        error_lines.append(text)
                elif LOG_WARNING_RE.search(line):
                    warnings += 1
                    if len(warning_lines) < 5:
                        warning_lines.append(redact(line)[:400])
        return {"server_log_errors": errors, "server_log_error_examples": error_lines,
                "server_log_warnings": warnings, "server_log_warning_examples": warning_lines}

    # -- tear-down -------------------------------------------------------------------------------
    def stop(self) -> None:
        for name, process in reversed(self.processes):
            if not process.running:
                continue
            # gunicorn stops gracefully on SIGTERM; the indexer on Ctrl-C (SIGINT).
            if not process.stop(timeout=40, sig=signal.SIGINT if name == "indexer" else signal.SIGTERM):
                log(f"{name} (pid {process.pid}) did not stop; killed its process group")
        self.processes.clear()

    def close(self) -> None:
        try:
            self.stop()
        finally:
            self.drop_database()
            if self.args.keep:
                log(f"kept {self.tmp} (server.log, instance)")
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)


def _reachable(url: str) -> bool:
    match = re.match(r"^\w+://(?:[^@/]*@)?([^:/]+)(?::(\d+))?", url)
    if not match:
        return False
    try:
        with socket.create_connection((match.group(1), int(match.group(2) or 6379)), timeout=2):
            return True
    except OSError:
        return False


def _process_table() -> dict[int, list[str]]:
    """/proc/<pid>/stat fields after the command name, by pid."""
    stats: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                text = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            stats[int(entry)] = text[text.rindex(")") + 2:].split()
    return stats


def _tree(pids: list[int], stats: dict[int, list[str]]) -> list[int]:
    """These processes and their live descendants."""
    children: dict[int, list[int]] = defaultdict(list)
    for pid, fields in stats.items():
        children[int(fields[1])].append(pid)
    found, todo = [], list(pids)
    while todo:
        pid = todo.pop()
        if pid in stats and pid not in found:
            found.append(pid)
            todo.extend(children[pid])
    return found


def _cpu_by_pid(pids: list[int], stats: dict[int, list[str]]) -> dict[int, float]:
    """CPU seconds (user + system, with reaped children's) of each process."""
    ticks = os.sysconf("SC_CLK_TCK")
    return {pid: sum(int(x) for x in stats[pid][11:15]) / ticks for pid in pids if pid in stats}


def _pss_mb(pids: list[int]) -> float:
    """Proportional set size of these processes (shared pages divided among them)."""
    total_kb = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total_kb += int(line.split()[1])
        except OSError:
            continue
    return round(total_kb / 1024, 1)


def _machine_busy_seconds() -> float:
    """CPU time all processes of the machine used (every core), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """Where the CPU went during the run: server, indexer, database backends of this run, load
    generator, and everything else on the machine."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.start = self.sample()

    def _database_pids(self) -> list[int]:
        if not self.service.database:
            return []
        return self.service.postgres.backend_pids(self.service.database)

    def sample(self) -> dict:
        stats = _process_table()
        procs = {name: process.pid for name, process in self.service.processes}
        server = _tree([procs["gunicorn"]], stats) if "gunicorn" in procs else []
        indexer = _tree([procs["indexer"]], stats) if "indexer" in procs else []
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "server": sum(_cpu_by_pid(server, stats).values()),
            "indexer": sum(_cpu_by_pid(indexer, stats).values()),
            "database": _cpu_by_pid(self._database_pids(), stats),
            "load_generator": usage.ru_utime + usage.ru_stime,
            "machine": _machine_busy_seconds(),
            "wall": time.monotonic(),
            "pss_mb": _pss_mb(server + indexer),
        }

    def report(self) -> dict:
        end = self.sample()
        delta = {k: end[k] - self.start[k] for k in ("server", "indexer", "load_generator", "machine", "wall")}
        # Backends that ended during the run are missed; those that started count from zero.
        database = sum(cpu - self.start["database"].get(pid, 0.0) for pid, cpu in end["database"].items())
        ours = delta["server"] + delta["indexer"] + delta["load_generator"] + database
        return {
            "wall_s": round(delta["wall"], 1),
            "available_s": round(delta["wall"] * (os.cpu_count() or 1), 1),
            "server_s": round(delta["server"], 1),
            "indexer_process_s": round(delta["indexer"], 1),
            "database_backends_s": round(database, 1) if self.service.database else None,
            "load_generator_s": round(delta["load_generator"], 1),
            "other_processes_s": round(max(0.0, delta["machine"] - ours), 1),
            "loadavg_1m_at_end": round(os.getloadavg()[0], 2),
            "server_pss_mb_at_end": end["pss_mb"],
        }
