"""Real Celery workers of the backfill queue, for its tests and ``benchmarks.backfill``: a
private queue on the local RabbitMQ (removed afterwards), worker processes in their own process
groups, started, waited for, killed with ``kill -9`` and stopped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from benchmarks.harness import OFFLINE, PROJECT_ROOT, clean_env

BROKER_URL = "amqp://guest:guest@127.0.0.1:5672//"


def broker_problem(url: str = BROKER_URL) -> str | None:
    """None when the broker answers, else why not (the caller says so plainly)."""
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:  # any reason the broker cannot be used
        return f"RabbitMQ at {url} unreachable ({type(exc).__name__}: {exc})"
    return None


def private_queue() -> str:
    return f"matcher-test-{uuid.uuid4().hex[:10]}"


def delete_queue(queue: str, url: str = BROKER_URL) -> None:
    from kombu import Connection

    with Connection(url, connect_timeout=3) as conn:
        channel = conn.channel()
        try:
            channel.queue_delete(queue)
        finally:
            channel.close()


def queue_depth(queue: str, url: str = BROKER_URL) -> int:
    from kombu import Connection

    with Connection(url, connect_timeout=3) as conn:
        channel = conn.channel()
        try:
            return channel.queue_declare(queue, passive=True).message_count
        finally:
            channel.close()


def worker_env(database_url: str, instance: Path, queue: str, channels: str, url: str = BROKER_URL, **extra) -> dict:
    return clean_env(MATCHER_ENV="testing", DATABASE_URL=database_url, MATCHER_INSTANCE_DIR=str(instance),
                     MATCHER_EMBEDDING_STORE="database", MATCHER_DENSE_CHANNELS=channels,
                     MATCHER_BACKFILL_BROKER=url, MATCHER_BACKFILL_QUEUE=queue, **OFFLINE, **extra)


class Worker:
    """``celery -A web.matching.worker worker --pool solo|prefork --concurrency 1`` in its own
    process group."""

    def __init__(self, name: str, env: dict, log: Path, pool: str = "solo") -> None:
        self.name, self.env, self.log_path, self.pool = name, env, log, pool
        self.proc: subprocess.Popen | None = None

    def start(self) -> Worker:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "web.matching.worker", "worker", "--pool", self.pool, "--concurrency", "1",
             "-n", f"{self.name}@%h",
             "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO"],
            cwd=PROJECT_ROOT, env=self.env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
        handle.close()
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_for(self, text: str, timeout: float = 180.0, after: int = 0) -> None:
        """Until ``text`` appears in the log after offset ``after`` (or the worker dies)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log()[after:]:
                return
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"worker {self.name} exited ({self.proc.returncode}):\n{self.log()[-3000:]}")
            time.sleep(0.1)
        raise TimeoutError(f"worker {self.name}: no {text!r} within {timeout:.0f}s:\n{self.log()[-3000:]}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill9(self) -> None:
        """``kill -9`` of the worker's whole process group: no clean-up, no acknowledgement."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill9()
