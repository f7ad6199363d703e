"""The whole service under mixed load. Prints one JSON object; never asserts.

    python -m benchmarks.load --users 50 --seconds 120 --db sqlite --json
    python -m benchmarks.load --users 50 --seconds 120 --db postgresql --json

1. A fresh instance in a temporary directory; with ``--db postgresql`` also a fresh database
   ``matcher_load_<random>`` on 127.0.0.1:5432 (user postgres), dropped at the end, also on failure.
2. Prepared with the project's own commands: ``flask --app wsgi db upgrade``, ``flask --app wsgi
   demo load`` (MATCHER_ENV=development; the generated demo password is read from the instance's
   demo-credentials.json), ``flask --app wsgi matcher indexer --once``.
3. gunicorn (``gunicorn.conf.py``) on 127.0.0.1 and a free port. SQLite: the embedded default
   (MATCHER_INDEXER=thread, one worker with threads, the indexer a thread of it). PostgreSQL: the
   production shape (MATCHER_ENV=production, a random SECRET_KEY, MATCHER_INDEXER=process,
   gunicorn's worker count, the rate limiter's counters in Redis, and a separate
   ``flask --app wsgi matcher indexer`` process). Waits for /healthz and a loaded index.
4. locust as a library (one gevent process on loopback, sharing the CPU with the server) drives
   coordinators, enterprises and experts (weights 1:2:2) who sign in with the demo accounts
   through ``POST /api/v1/auth/login`` and then act with their bearer token: browse needs, view
   suggestions, read and edit profiles, add achievements, post and edit needs, propose matches
   (coordinator; a pair of a simulated enterprise's need and a simulated expert, preferring an
   expert among the need's suggestions), answer proposals (expert and enterprise) and record
   outcomes. Every other user also signs in through the HTML form and reads pages with its
   session cookie (sent explicitly: production marks it Secure and the load runs over plain
   HTTP). Mostly reads; think time 1-3 s; one new user (and its sign-in: argon2, about 0.4 s of
   CPU) per second. Each simulated user connects from its own loopback address (127.x.y.z), as
   real users come from their own addresses; sign-in is rate-limited per address. Like a
   browser, a request is sent again once when a kept-alive connection was closed under it
   (gunicorn closes idle ones after 2 s); such retries are counted (``client_retries``).
5. After the run, how long until /healthz ``index_lag`` (outbox rows not yet applied) is 0 again.
6. One JSON object: latency percentiles over every request (``p95_pages_ms``: every request but
   the suggestion ones, sign-ins included; ``p95_suggest_ms``: the API suggestions and the
   coordinator's need page, which ranks experts too; ``after_ramp``: the same once every user has
   started), errors (5xx, unexpected 4xx, connection failures) with the first few examples
   (status and URL, no contact details), ``conflicts`` (409 answers to transitions that raced or
   were refused by a business rule: expected, not errors), per-endpoint figures, ERROR lines of
   the server log, and where the CPU went (server, indexer, load generator, and other processes
   of the machine: a busy machine makes the figures meaningless).
7. Every process it started is stopped and the temporary instance removed (``--keep`` keeps it).

Targets (README; not asserted): 0 errors, p95 <= 150 ms for pages without suggestions,
p95 <= 300 ms for suggestion pages, index lag back to 0 within 60 s.
"""

from __future__ import annotations

import locust  # noqa: F401  (first: importing locust monkey-patches the standard library for gevent)

# isort: split
import argparse
import itertools
import json
import logging
import math
import os
import random
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from http.cookiejar import DefaultCookiePolicy
from pathlib import Path

import gevent
import requests
from locust import HttpUser, between, task
from locust.env import Environment
from urllib3 import PoolManager
from urllib3.util.retry import Retry

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEMO_DIR = PROJECT_ROOT / "data" / "demo"
STAFF_ACCOUNTS = ("coordinator@demo.example.cn", "admin@demo.example.cn")
# Variables that would point the server at something other than the fresh instance.
SCRUBBED_ENV = (
    "DATABASE_URL", "MATCHER_INDEX_DIR", "MATCHER_INDEXER", "MATCHER_ENV", "MATCHER_INSTANCE_DIR", "REDIS_URL",
    "RATELIMIT_STORAGE_URI", "MAIL_SERVER", "PROXY_COUNT", "WEB_CONCURRENCY", "GUNICORN_THREADS",
    "GUNICORN_CMD_ARGS", "SECRET_KEY", "PORT", "FLASK_APP",
)
DECLINE_REASONS = ("not_my_field", "no_capacity", "budget", "timeline", "location", "already_solved")
NEXT_OUTCOME = {"connected": "intent", "intent": "contract", "contract": "completed"}
CSRF_RE = re.compile(r'name="csrf_token"[^>]*?value="([^"]+)"|value="([^"]+)"[^>]*?name="csrf_token"')
EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
PHONE_RE = re.compile(r"(?<!\d)1\d{10}(?!\d)|(?<!\d)0\d{2,3}-?\d{7,8}(?!\d)")
LOG_PROBLEM_RE = re.compile(r" (ERROR|CRITICAL) |\[(ERROR|CRITICAL)\]|WORKER TIMEOUT")
LOG_WARNING_RE = re.compile(r" WARNING |\[WARNING\]")
LOG_EXCEPTION_RE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Timeout)\b.*")  # a traceback's last line


def log(message: str) -> None:
    print(f"[load] {message}", file=sys.stderr, flush=True)


def redact(text: str) -> str:
    return PHONE_RE.sub("<phone>", EMAIL_RE.sub("<email>", text))


def percentile(sorted_values: list[float], p: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return round(sorted_values[rank - 1], 1)


# -- the demo accounts ---------------------------------------------------------------------------
def _jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def demo_accounts() -> tuple[list[str], list[str]]:
    """(enterprise sign-in e-mails with at least one need, expert sign-in e-mails), as
    ``web.infra.demo`` creates them: enterprise contacts and expert profile e-mails, lower-cased."""
    enterprises: dict[str, str] = {}  # organisation id -> e-mail
    need_counts: dict[str, int] = defaultdict(int)
    experts: list[str] = []
    for folder in sorted(p for p in DEMO_DIR.iterdir() if p.is_dir()):
        names = set()
        for org in _jsonl(folder / "organizations.jsonl"):
            email = (org.get("contact") or {}).get("email")
            if org.get("kind") == "enterprise" and email and org.get("name") not in names:
                enterprises[org["id"]] = email.lower()
            names.add(org.get("name"))
        for need in _jsonl(folder / "needs.jsonl"):
            need_counts[need.get("organization")] += 1
        for expert in _jsonl(folder / "experts.jsonl"):
            email = (expert.get("contacts") or {}).get("email")
            if email:
                experts.append(email.lower())
    with_needs = [email for org_id, email in enterprises.items() if need_counts[org_id] > 0]
    return sorted(set(with_needs)), sorted(set(experts))


# -- what the simulated users share ----------------------------------------------------------------
class Plan:
    """Accounts handed out to users, loopback addresses, and what users learned that others use
    (simulated experts' profile ids, simulated enterprises' needs, matches seen)."""

    def __init__(self, *, password: str, enterprises: list[str], experts: list[str], seed: int, html_share: float,
                 wait: tuple[float, float]) -> None:
        self.password = password
        self.seed = seed
        self.html_share = html_share
        self.wait = wait
        rng = random.Random(seed)
        rng.shuffle(enterprises)
        rng.shuffle(experts)
        self._accounts = {
            "coordinator": itertools.cycle(STAFF_ACCOUNTS),
            "enterprise": itertools.cycle(enterprises),
            "expert": itertools.cycle(experts),
        }
        self._seq = itertools.count()
        # A random 127.a.b.0/24 block per run: the rate limiter's counters of earlier runs
        # (in Redis) do not follow these addresses.
        self._ip_a, self._ip_b = rng.randrange(2, 255), rng.randrange(0, 256)
        self.expert_ids: list[int] = []
        self.enterprise_needs: list[int] = []
        self.all_needs: list[int] = []
        self.matches: list[int] = []

    def next_user(self, role: str) -> tuple[int, str, str]:
        index = next(self._seq)
        b = (self._ip_b + index // 250) % 256
        return index, next(self._accounts[role]), f"127.{self._ip_a}.{b}.{index % 250 + 2}"

    @staticmethod
    def remember(pool: list[int], value: int) -> None:
        if value not in pool:
            pool.append(value)


class Recorder:
    """Every request's latency and outcome (locust's request event)."""

    def __init__(self) -> None:
        self.samples: list[tuple[str, str, float, float]] = []  # (kind, name, ms, started at: time.time())
        self.by_name: dict[str, list[float]] = defaultdict(list)
        self.errors_by_name: dict[str, int] = defaultdict(int)
        self.errors = 0
        self.error_examples: list[dict] = []
        self.conflicts = 0
        self.conflict_examples: list[dict] = []
        self.harness_errors: list[str] = []
        self.retries = RetryCounter()

    def on_request(self, request_type, name, response_time, response=None, context=None, exception=None, url=None,
                   start_time=None, **_kwargs) -> None:
        context = context or {}
        kind = context.get("kind", "page")
        self.samples.append((kind, name, response_time, start_time or time.time()))
        self.by_name[name].append(response_time)
        status = getattr(response, "status_code", 0) or 0
        if 200 <= status < 300 or status in context.get("ok", ()):
            return
        example = {"status": status or None, "method": request_type, "url": _path(url), "name": name}
        detail = _error_detail(response, exception)
        if detail:
            example["error"] = detail
        if status == 409 and context.get("conflict_ok"):
            self.conflicts += 1
            if len(self.conflict_examples) < 5:
                self.conflict_examples.append(example)
            return
        self.errors += 1
        self.errors_by_name[name] += 1
        if len(self.error_examples) < 8:
            self.error_examples.append(example)

    def on_user_error(self, user_instance, exception, tb, **_kwargs) -> None:
        if len(self.harness_errors) < 5:
            self.harness_errors.append(redact(f"{type(user_instance).__name__}: {type(exception).__name__}: {exception}")[:300])


def _path(url: str | None) -> str | None:
    if not url:
        return url
    match = re.match(r"^https?://[^/]+(/.*)?$", url)
    return (match.group(1) or "/") if match else url


def _error_detail(response, exception) -> str | None:
    if response is not None and getattr(response, "status_code", 0):
        try:
            error = response.json().get("error")
        except (ValueError, AttributeError):
            error = None
        if isinstance(error, dict):
            return redact(f"{error.get('code')}: {error.get('message')}")[:200]
        location = response.headers.get("Location")
        if location:
            return f"redirect to {_path(location)}"
        return None
    if exception is not None:
        return redact(f"{type(exception).__name__}: {exception}")[:200]
    return None


# -- simulated users -------------------------------------------------------------------------------
class Visitor(HttpUser):
    """A signed-in person: a bearer token for the JSON API and, for every other user, also a
    session cookie for the HTML pages."""

    abstract = True
    role = ""
    plan: Plan
    wait_time = between(1, 3)

    def __init__(self, environment) -> None:
        plan = type(self).plan
        self.index, self.email, self.source_ip = plan.next_user(self.role)
        # Each simulated user connects from its own loopback address.
        self.pool_manager = PoolManager(num_pools=2, maxsize=2, source_address=(self.source_ip, 0))
        super().__init__(environment)
        # The client keeps no cookies: the API runs on the token alone (a session cookie would
        # turn its POSTs into CSRF-checked cookie requests), and HTML requests send theirs explicitly.
        self.client.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        # Like a browser, send a request again once when a kept-alive connection turns out to
        # be closed by the server (gunicorn closes idle ones after 2 s); every retry is counted.
        for adapter in self.client.adapters.values():
            adapter.max_retries = Retry(total=1, connect=1, read=1, status=0, other=0, redirect=False,
                                        allowed_methods=None, raise_on_status=False)
        self.rng = random.Random(plan.seed * 100_003 + self.index)
        self.browser = self.rng.random() < plan.html_share
        self.token: str | None = None
        self.session_cookie: str | None = None
        self.next_sign_in = 0.0
        self.signing_in = False
        self.html_attempts = 0
        self.matches: list[dict] = []

    # -- plumbing --------------------------------------------------------------------------------
    def call(self, method: str, path: str, *, name: str, kind: str = "page", ok: tuple[int, ...] = (),
             conflict_ok: bool = False, html: bool = False, **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if html:
            if self.session_cookie:
                kwargs["cookies"] = {"session": self.session_cookie}
        elif self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        response = self.client.request(method, path, name=name, headers=headers, allow_redirects=False, timeout=60,
                                       context={"kind": kind, "ok": ok, "conflict_ok": conflict_ok}, **kwargs)
        if html:
            cookie = response.cookies.get("session")
            if cookie:
                self.session_cookie = cookie
        return response

    @staticmethod
    def body(response: requests.Response) -> dict:
        if response.status_code >= 400:
            return {}
        try:
            data = response.json()
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def api(self, method: str, path: str, name: str, **kwargs) -> dict:
        return self.body(self.call(method, path, name=name, **kwargs))

    def page(self, path: str, name: str, *, kind: str = "page") -> bool:
        """An HTML page with the session cookie; False when this user has none."""
        if not self.session_cookie:
            return False
        self.call("GET", path, name=name, kind=kind, html=True)
        return True

    def sign_in(self) -> None:
        """API token first, then (browser users) the HTML form; retried at most every 15 s."""
        if time.monotonic() < self.next_sign_in:
            return
        self.next_sign_in = time.monotonic() + 15
        self.signing_in = True
        try:
            fresh = False
            if not self.token:
                data = self.api("POST", "/api/v1/auth/login", "POST /api/v1/auth/login", kind="login",
                                json={"email": self.email, "password": self.plan.password})
                self.token = data.get("token")
                if not self.token:
                    return
                fresh = True
            if self.browser and not self.session_cookie:
                self.html_attempts += 1
                form = self.call("GET", "/auth/login", name="GET /auth/login", html=True)
                found = CSRF_RE.search(form.text or "")
                if form.status_code == 200 and found:
                    response = self.call("POST", "/auth/login", name="POST /auth/login", kind="login", html=True, ok=(302,),
                                         data={"csrf_token": found.group(1) or found.group(2), "email": self.email,
                                               "password": self.plan.password, "next": ""})
                    if response.status_code != 302 or "/auth/login" in response.headers.get("Location", ""):
                        self.session_cookie = None
                else:
                    self.session_cookie = None
            if fresh:
                self.signed_in()
        finally:
            self.signing_in = False

    def signed_in(self) -> None:
        """What a user does right after signing in (learns its own needs, profile...)."""

    def on_start(self) -> None:
        self.sign_in()

    def ready(self) -> bool:
        """Signed in (signing in first when needed)."""
        missing_page_session = self.browser and not self.session_cookie and self.html_attempts < 3
        if not self.signing_in and (self.token is None or missing_page_session):
            self.sign_in()
        return self.token is not None

    # -- shared by the roles -----------------------------------------------------------------------
    def load_matches(self) -> list[dict]:
        data = self.api("GET", "/api/v1/matches?limit=50", "GET /api/v1/matches")
        self.matches = [m for m in data.get("items", []) if isinstance(m, dict)]
        for match in self.matches:
            Plan.remember(self.plan.matches, match["id"])
        return self.matches

    def view_match(self) -> None:
        pool = [m["id"] for m in self.matches] or (self.plan.matches if self.role == "coordinator" else [])
        if pool:
            self.api("GET", f"/api/v1/matches/{self.rng.choice(pool)}", "GET /api/v1/matches/[id]")

    def answer_proposal(self, side: str) -> None:
        """Expert or enterprise: read the inbox, accept (most) or decline a waiting proposal."""
        waiting = [m for m in self.load_matches()
                   if m["status"] in ("proposed", "expert_accepted", "enterprise_accepted") and not m[f"{side}_accepted"]]
        if not waiting:
            return
        match = self.rng.choice(waiting)
        if self.rng.random() < 0.85:
            payload = {"accept": True, "note": "负载测试：愿意进一步沟通"}
        else:
            payload = {"accept": False, "reason": self.rng.choice(DECLINE_REASONS)}
        self.call("POST", f"/api/v1/matches/{match['id']}/respond", name="POST /api/v1/matches/[id]/respond",
                  json=payload, conflict_ok=True)

    def record_outcome(self) -> None:
        """Expert or enterprise: move a connected match one step (intent, contract, completed)."""
        going = [m for m in (self.matches or self.load_matches()) if m["status"] in NEXT_OUTCOME]
        if not going:
            return
        match = self.rng.choice(going)
        self.call("POST", f"/api/v1/matches/{match['id']}/outcome", name="POST /api/v1/matches/[id]/outcome",
                  json={"status": NEXT_OUTCOME[match["status"]], "note": "负载测试"}, conflict_ok=True)
        self.matches = []

    @task(1)
    def matches_page(self) -> None:
        """Every role reads its match list and one match as pages (weight 1 for all)."""
        if not self.ready():
            return
        if self.page("/matches/", "GET /matches/ (html)"):
            pool = [m["id"] for m in self.matches]
            if pool:
                self.page(f"/matches/{self.rng.choice(pool)}", "GET /matches/[id] (html)")
        else:
            self.load_matches()


class Coordinator(Visitor):
    role = "coordinator"
    weight = 1

    def need_ids(self) -> list[int]:
        return self.plan.all_needs or self.plan.enterprise_needs

    def signed_in(self) -> None:
        self.browse_needs()

    @task(4)
    def browse_needs(self) -> None:
        if not self.ready():
            return
        offset = self.rng.choice((0, 0, 0, 50, 100))
        data = self.api("GET", f"/api/v1/needs?status=open&limit=50&offset={offset}", "GET /api/v1/needs")
        for need in data.get("items", []):
            Plan.remember(self.plan.all_needs, need["id"])

    @task(4)
    def view_need(self) -> None:
        if self.ready() and self.need_ids():
            self.api("GET", f"/api/v1/needs/{self.rng.choice(self.need_ids())}", "GET /api/v1/needs/[id]")

    @task(3)
    def view_suggestions(self) -> None:
        if self.ready() and self.need_ids():
            self.api("GET", f"/api/v1/needs/{self.rng.choice(self.need_ids())}/suggestions?limit=20",
                     "GET /api/v1/needs/[id]/suggestions", kind="suggest")

    @task(3)
    def propose(self) -> None:
        """Look at a simulated enterprise's need with its suggestions; propose a simulated expert,
        one among the suggestions when there is one."""
        if not (self.ready() and self.plan.enterprise_needs and self.plan.expert_ids):
            return
        need_id = self.rng.choice(self.plan.enterprise_needs)
        data = self.api("GET", f"/api/v1/needs/{need_id}/suggestions?limit=20", "GET /api/v1/needs/[id]/suggestions",
                        kind="suggest")
        suggested = [s["expert_id"] for s in data.get("items", []) if s.get("expert_id") in self.plan.expert_ids]
        expert_id = self.rng.choice(suggested or self.plan.expert_ids)
        match = self.api("POST", "/api/v1/matches", "POST /api/v1/matches", conflict_ok=True,
                         json={"need_id": need_id, "expert_id": expert_id})
        if match.get("id"):
            Plan.remember(self.plan.matches, match["id"])

    @task(2)
    def list_matches(self) -> None:
        if self.ready():
            self.load_matches()

    @task(1)
    def view_a_match(self) -> None:
        if self.ready():
            self.view_match()

    @task(1)
    def close_stale(self) -> None:
        """Now and then close an unanswered proposal."""
        if not self.ready() or self.rng.random() > 0.25:
            return
        waiting = [m for m in self.matches if m["status"] == "proposed"]
        if waiting:
            match = self.rng.choice(waiting)
            self.call("POST", f"/api/v1/matches/{match['id']}/outcome", name="POST /api/v1/matches/[id]/outcome",
                      json={"status": "closed", "reason": "no_response"}, conflict_ok=True)
            self.matches = []

    @task(1)
    def stats(self) -> None:
        if self.ready():
            self.api("GET", "/api/v1/stats", "GET /api/v1/stats")

    @task(2)
    def queue_page(self) -> None:
        if self.ready() and not self.page("/coordinator/queue", "GET /coordinator/queue (html)"):
            self.browse_needs()

    @task(2)
    def need_page(self) -> None:
        """The coordinator's need page ranks experts too: a suggestion page."""
        if self.ready() and self.need_ids():
            need_id = self.rng.choice(self.need_ids())
            if not self.page(f"/coordinator/needs/{need_id}", "GET /coordinator/needs/[id] (html)", kind="suggest"):
                self.view_suggestions()

    @task(1)
    def dashboard_page(self) -> None:
        if self.ready() and not self.page("/dashboard/", "GET /dashboard/ (html)"):
            self.stats()


class Party(Visitor):
    """What an enterprise and an expert both do: follow their matches, answer proposals, record
    outcomes, read the match and notification pages."""

    abstract = True

    @task(3)
    def list_matches(self) -> None:
        if self.ready():
            self.load_matches()

    @task(2)
    def respond(self) -> None:
        if self.ready():
            self.answer_proposal(self.role)

    @task(1)
    def outcome(self) -> None:
        if self.ready():
            self.record_outcome()

    @task(1)
    def notifications_page(self) -> None:
        if self.ready() and not self.page("/notifications", "GET /notifications (html)"):
            self.load_matches()


class Enterprise(Party):
    role = "enterprise"
    weight = 2

    def __init__(self, environment) -> None:
        super().__init__(environment)
        self.needs: list[dict] = []

    def signed_in(self) -> None:
        self.list_needs()

    def my_need(self) -> dict | None:
        return self.rng.choice(self.needs) if self.needs else None

    @task(4)
    def list_needs(self) -> None:
        if not self.ready():
            return
        data = self.api("GET", "/api/v1/needs?limit=50", "GET /api/v1/needs")
        if "items" in data:
            self.needs = data["items"]
            for need in self.needs:
                if need["status"] != "closed":
                    Plan.remember(self.plan.enterprise_needs, need["id"])

    @task(4)
    def view_need(self) -> None:
        need = self.ready() and self.my_need()
        if need:
            self.api("GET", f"/api/v1/needs/{need['id']}", "GET /api/v1/needs/[id]")

    @task(1)
    def view_a_match(self) -> None:
        if self.ready():
            self.view_match()

    @task(1)
    def edit_need(self) -> None:
        need = self.ready() and self.my_need()
        if not need or need["status"] == "closed":
            return
        marker = "（已更新）"
        description = need["description"] or ""
        description = description[: -len(marker)] if description.endswith(marker) else description + marker
        data = self.api("PATCH", f"/api/v1/needs/{need['id']}", "PATCH /api/v1/needs/[id]", json={"description": description})
        if data.get("id"):
            self.needs = [data if n["id"] == data["id"] else n for n in self.needs]

    @task(1)
    def post_need(self) -> None:
        """Rarely: post a new need modelled on one of the enterprise's own."""
        need = self.ready() and self.my_need()
        if not need or self.rng.random() > 0.3:
            return
        fields = {key: need[key] for key in ("description", "industry_codes", "region", "cooperation_modes",
                                              "budget_min", "budget_max", "anonymous")}
        fields["title"] = f"{need['title'][:150]}（二期 {self.rng.randrange(1000)}）"
        data = self.api("POST", "/api/v1/needs", "POST /api/v1/needs", json=fields)
        if data.get("id"):
            self.needs.append(data)
            Plan.remember(self.plan.enterprise_needs, data["id"])

    @task(2)
    def needs_page(self) -> None:
        if self.ready() and not self.page("/enterprise/needs", "GET /enterprise/needs (html)"):
            self.list_needs()

    @task(2)
    def need_page(self) -> None:
        need = self.ready() and self.my_need()
        if need and not self.page(f"/enterprise/needs/{need['id']}", "GET /enterprise/needs/[id] (html)"):
            self.view_need()



class Expert(Party):
    role = "expert"
    weight = 2

    def __init__(self, environment) -> None:
        super().__init__(environment)
        self.profile: dict = {}

    def signed_in(self) -> None:
        self.my_profile()

    @task(4)
    def my_profile(self) -> None:
        if not self.ready():
            return
        data = self.api("GET", "/api/v1/experts/me", "GET /api/v1/experts/me")
        if data.get("id"):
            self.profile = data
            Plan.remember(self.plan.expert_ids, data["id"])

    @task(2)
    def view_match_and_need(self) -> None:
        if not (self.ready() and self.matches):
            return
        match = self.rng.choice(self.matches)
        self.api("GET", f"/api/v1/matches/{match['id']}", "GET /api/v1/matches/[id]")
        self.api("GET", f"/api/v1/needs/{match['need_id']}", "GET /api/v1/needs/[id]")

    @task(1)
    def edit_profile(self) -> None:
        keywords = list(self.profile.get("keywords") or [])
        if not self.ready() or len(keywords) < 2:
            return
        keywords = keywords[1:] + keywords[:1]
        data = self.api("PATCH", "/api/v1/experts/me", "PATCH /api/v1/experts/me",
                        json={"keywords": keywords, "available": True})
        if data.get("id"):
            self.profile = data

    @task(1)
    def add_achievement(self) -> None:
        if not self.ready() or self.rng.random() > 0.5:
            return
        number = self.rng.randrange(100_000)
        self.call("POST", "/api/v1/experts/me/achievements", name="POST /api/v1/experts/me/achievements", json={
            "kind": self.rng.choice(("paper", "project", "patent")),
            "title": f"面向企业需求的关键技术应用研究（负载测试 {number}）",
            "abstract": "围绕企业生产中的关键技术难题开展合作研究，形成可推广的工艺方案与示范应用。",
            "year": self.rng.randrange(2015, 2026),
        })

    @task(2)
    def profile_page(self) -> None:
        if self.ready() and not self.page("/expert/profile", "GET /expert/profile (html)"):
            self.my_profile()



# -- the service -----------------------------------------------------------------------------------
class Service:
    """The temporary instance, its database, gunicorn and (production shape) the indexer."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="matcher-load-"))
        self.instance = self.tmp / "instance"
        self.server_log = self.tmp / "server.log"
        self.indexer_log = self.tmp / "indexer.log"
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database: str | None = None
        self.processes: list[tuple[str, subprocess.Popen]] = []
        self.notes: list[str] = []
        self.workers = 1
        self.production = args.db == "postgresql"

    # -- environment -----------------------------------------------------------------------------
    def base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
        env.update({"MATCHER_INSTANCE_DIR": str(self.instance), "PYTHONUNBUFFERED": "1", "PORT": str(self.port)})
        if self.database:
            env["DATABASE_URL"] = f"{self.args.pg_url.rstrip('/')}/{self.database}"
        return env

    def server_env(self) -> dict[str, str]:
        env = self.base_env()
        if self.production:
            env.update({"MATCHER_ENV": "production", "MATCHER_INDEXER": "process", "SECRET_KEY": secrets.token_urlsafe(48),
                        "MATCHER_BASE_URL": f"http://127.0.0.1:{self.port}"})
            if self.args.workers:
                env["WEB_CONCURRENCY"] = str(self.args.workers)
            if self.args.redis_url and _reachable(self.args.redis_url):
                env["REDIS_URL"] = self.args.redis_url
            else:
                self.notes.append("rate limiter counters in memory (per worker): Redis not used or not reachable")
        else:
            env.update({"MATCHER_ENV": "development", "MATCHER_INDEXER": "thread"})
        if self.args.gunicorn_args:
            env["GUNICORN_CMD_ARGS"] = self.args.gunicorn_args
        return env

    # -- set-up ----------------------------------------------------------------------------------
    def create_database(self) -> None:
        import psycopg

        self.database = f"matcher_load_{secrets.token_hex(4)}"
        with psycopg.connect(self.args.pg_admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.database}"')
        log(f"created database {self.database}")

    def drop_database(self) -> None:
        if not self.database:
            return
        import psycopg

        try:
            with psycopg.connect(self.args.pg_admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            log(f"dropped database {self.database}")
        except psycopg.Error as exc:
            log(f"could not drop database {self.database}: {exc}")

    def flask(self, *command: str, env: dict[str, str]) -> str:
        result = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *command], cwd=PROJECT_ROOT, env=env,
                                capture_output=True, text=True, timeout=1800)
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
            raise RuntimeError(f"flask {' '.join(command)} failed ({result.returncode}):\n{redact(tail)}")
        return result.stdout.strip()

    def prepare(self) -> tuple[str, float]:
        started = time.perf_counter()
        if self.args.db == "postgresql":
            self.create_database()
        demo_env = {**self.base_env(), "MATCHER_ENV": "development"}
        self.flask("db", "upgrade", env=demo_env)
        log(self.flask("demo", "load", env=demo_env).splitlines()[-1])
        credentials = json.loads((self.instance / "demo-credentials.json").read_text(encoding="utf-8"))
        env = self.server_env()
        self._env = env
        log(self.flask("matcher", "indexer", "--once", env=env).replace("\n", "; "))
        return credentials["password"], time.perf_counter() - started

    def start(self) -> float:
        started = time.perf_counter()
        env = self._env
        handle = open(self.server_log, "ab")
        # No control socket: its default path (~/.gunicorn/gunicorn.ctl) is shared by every gunicorn of the user.
        command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--no-control-socket", "wsgi:app"]
        server = subprocess.Popen(command, cwd=PROJECT_ROOT,
                                  env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
        handle.close()
        self.processes.append(("gunicorn", server))
        if self.production:
            handle = open(self.indexer_log, "ab")
            indexer = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "matcher", "indexer"], cwd=PROJECT_ROOT,
                                       env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
            handle.close()
            self.processes.append(("indexer", indexer))
            self.workers = self.args.workers or (os.cpu_count() or 1) * 2 + 1
        # Ready: /healthz answers, and the index is loaded by every worker (each answer comes
        # from whichever worker accepted the connection; asking loads it where missing).
        deadline = time.monotonic() + self.args.start_timeout
        loaded_in_a_row = 0
        while loaded_in_a_row < 4 * self.workers + 4:
            for name, proc in self.processes:
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode} during start-up:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"service not ready within {self.args.start_timeout} s:\n{self.log_tail()}")
            report = self.health()
            if report and (report.get("index") or {}).get("loaded"):
                loaded_in_a_row += 1
                time.sleep(0.05)
            else:
                loaded_in_a_row = 0
                time.sleep(0.5)
        return time.perf_counter() - started

    def health(self) -> dict | None:
        try:
            response = requests.get(f"{self.url}/healthz", timeout=10)
            return response.json() if response.status_code == 200 else None
        except (requests.RequestException, ValueError):
            return None

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

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.server_log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no server log)"
        return redact("\n".join(text.splitlines()[-lines:]))

    # -- tear-down -------------------------------------------------------------------------------
    def stop(self) -> None:
        for name, proc in reversed(self.processes):
            if proc.poll() is not None:
                continue
            # gunicorn stops gracefully on SIGTERM; the indexer on Ctrl-C (SIGINT).
            proc.send_signal(signal.SIGINT if name == "indexer" else signal.SIGTERM)
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                log(f"{name} (pid {proc.pid}) did not stop; killing its process group")
                try:
                    os.killpg(proc.pid, signal.SIGKILL)  # the session it was started in
                except ProcessLookupError:
                    pass
                proc.wait(timeout=10)
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


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _reachable(url: str) -> bool:
    match = re.match(r"^\w+://(?:[^@/]*@)?([^:/]+)(?::(\d+))?", url)
    if not match:
        return False
    try:
        with socket.create_connection((match.group(1), int(match.group(2) or 6379)), timeout=2):
            return True
    except OSError:
        return False


class RetryCounter(logging.Handler):
    """urllib3's "Retrying ... after connection broken" warnings: requests sent twice."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0
        self.examples: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if not message.startswith("Retrying"):
            return
        self.count += 1
        if len(self.examples) < 3:
            self.examples.append(redact(re.sub(r"https?://[^/\s]+", "", message))[:240])


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
        import psycopg

        try:
            with psycopg.connect(self.service.args.pg_admin, autocommit=True) as conn:
                rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.service.database,)).fetchall()
        except psycopg.Error:
            return []
        return [row[0] for row in rows]

    def sample(self) -> dict:
        stats = _process_table()
        procs = {name: proc.pid for name, proc in self.service.processes}
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


# -- the run ---------------------------------------------------------------------------------------
def drive(url: str, plan: Plan, users: int, seconds: float, spawn_rate: float) -> tuple[Recorder, float, float]:
    """Run the users; returns what was recorded, the run's length and its start (time.time())."""
    recorder = Recorder()
    logging.getLogger("urllib3.connectionpool").addHandler(recorder.retries)
    classes = [Coordinator, Enterprise, Expert]
    for cls in classes:
        cls.plan = plan
        cls.host = url
        cls.wait_time = between(*plan.wait)
    env = Environment(user_classes=classes, host=url)
    env.events.request.add_listener(recorder.on_request)
    env.events.user_error.add_listener(recorder.on_user_error)
    runner = env.create_local_runner()
    started, wall = time.perf_counter(), time.time()
    runner.start(users, spawn_rate=spawn_rate)
    gevent.spawn_later(seconds, runner.quit)
    runner.greenlet.join()
    return recorder, time.perf_counter() - started, wall


def report(args: argparse.Namespace, service: Service, recorder: Recorder, run: tuple[float, float],
           lag: tuple[float | None, int | None], timings: dict[str, float], cpu: dict) -> dict:
    elapsed, started = run
    all_ms = sorted(ms for _, _, ms, _ in recorder.samples)
    pages = sorted(ms for kind, _, ms, _ in recorder.samples if kind != "suggest")
    suggest = sorted(ms for kind, _, ms, _ in recorder.samples if kind == "suggest")
    logins = sorted(ms for kind, _, ms, _ in recorder.samples if kind == "login")
    # Once every user has started (and signed in: about 0.4 s of argon2 per sign-in).
    ramp_end = started + args.users / args.spawn_rate + 5
    steady = [(kind, ms) for kind, _, ms, at in recorder.samples if at >= ramp_end]
    steady_pages = sorted(ms for kind, ms in steady if kind != "suggest")
    steady_suggest = sorted(ms for kind, ms in steady if kind == "suggest")
    endpoints = {}
    for name in sorted(recorder.by_name):
        values = sorted(recorder.by_name[name])
        endpoints[name] = {"n": len(values), "p50_ms": percentile(values, 50), "p95_ms": percentile(values, 95),
                           "max_ms": round(values[-1], 1), "errors": recorder.errors_by_name.get(name, 0)}
    return {
        "db": args.db,
        "users": args.users,
        "seconds": args.seconds,
        "requests": len(all_ms),
        "rps": round(len(all_ms) / elapsed, 1) if elapsed else None,
        "p50_ms": percentile(all_ms, 50),
        "p95_ms": percentile(all_ms, 95),
        "p99_ms": percentile(all_ms, 99),
        "p95_pages_ms": percentile(pages, 95),
        "p95_suggest_ms": percentile(suggest, 95),
        "errors": recorder.errors,
        "error_examples": recorder.error_examples,
        "index_lag_after_s": lag[0],
        "index_lag_at_stop": lag[1],
        "suggest_requests": len(suggest),
        "p95_pages_excl_login_ms": percentile(sorted(ms for kind, _, ms, _ in recorder.samples if kind == "page"), 95),
        "p95_login_ms": percentile(logins, 95),
        "after_ramp": {"from_s": round(ramp_end - started, 1), "requests": len(steady),
                       "p95_pages_ms": percentile(steady_pages, 95), "p95_suggest_ms": percentile(steady_suggest, 95)},
        "client_retries": recorder.retries.count,
        "client_retry_examples": recorder.retries.examples,
        "conflicts": recorder.conflicts,
        "conflict_examples": recorder.conflict_examples,
        "harness_errors": recorder.harness_errors,
        **service.log_problems(),
        "server": {"shape": "production" if service.production else "embedded", "workers": service.workers,
                   "gunicorn_args": args.gunicorn_args or None,
                   "threads": 8, "indexer": "process" if service.production else "thread",
                   "notes": service.notes},
        "cpu": cpu,
        "load": {"spawn_rate": args.spawn_rate, "wait_s": [args.wait_min, args.wait_max], "html_share": args.html_share,
                 "cpus": os.cpu_count()},
        "prepare_s": round(timings["prepare"], 1),
        "start_s": round(timings["start"], 1),
        "endpoints": endpoints,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--json", action="store_true", help="print only the JSON object")
    parser.add_argument("--spawn-rate", type=float, default=1, help="users started (and signed in) per second")
    parser.add_argument("--wait-min", type=float, default=1.0, help="think time between a user's actions (s)")
    parser.add_argument("--wait-max", type=float, default=3.0)
    parser.add_argument("--html-share", type=float, default=0.5, help="share of users who also read HTML pages")
    parser.add_argument("--workers", type=int, default=0, help="PostgreSQL: gunicorn workers (default: gunicorn.conf.py's)")
    parser.add_argument("--lag-timeout", type=float, default=60)
    parser.add_argument("--start-timeout", type=float, default=240)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pg-admin", default="host=127.0.0.1 port=5432 user=postgres dbname=postgres",
                        help="libpq connection string used to create and drop the database")
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432",
                        help="DATABASE_URL of the server, without the database name")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0",
                        help="PostgreSQL run: REDIS_URL for the rate limiter ('' for per-worker memory)")
    parser.add_argument("--gunicorn-args", default="", help="experiments: extra gunicorn options (GUNICORN_CMD_ARGS)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary instance and server log")
    args = parser.parse_args(argv)

    # SIGTERM ends the run like Ctrl-C does: in the main greenlet, so the clean-up below runs.
    main_greenlet = gevent.get_hub().parent
    gevent.signal_handler(signal.SIGTERM, lambda: main_greenlet.throw(SystemExit(128 + signal.SIGTERM)))
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="[locust] %(levelname)s %(name)s %(message)s")

    enterprises, experts = demo_accounts()
    service = Service(args)
    try:
        log(f"instance {service.tmp}, db {args.db}")
        password, prepare_s = service.prepare()
        start_s = service.start()
        log(f"{service.url} ready ({service.workers} worker(s)) after {prepare_s:.0f} s preparing and {start_s:.0f} s starting")
        plan = Plan(password=password, enterprises=enterprises, experts=experts, seed=args.seed, html_share=args.html_share,
                    wait=(args.wait_min, args.wait_max))
        log(f"{args.users} users for {args.seconds:.0f} s (load average now {os.getloadavg()[0]:.1f})")
        meter = CpuMeter(service)
        recorder, elapsed, started = drive(service.url, plan, args.users, args.seconds, args.spawn_rate)
        cpu = meter.report()
        log(f"{len(recorder.samples)} requests, {recorder.errors} errors; waiting for the index to catch up")
        lag = service.wait_for_index(args.lag_timeout)
        result = report(args, service, recorder, (elapsed, started), lag, {"prepare": prepare_s, "start": start_s}, cpu)
    finally:
        service.close()
    print(json.dumps(result, ensure_ascii=False, indent=None if args.json else 1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
