"""The load benchmark's simulated users: coordinators, enterprises and experts who sign in with
the demo accounts and act through the JSON API and, every other user, the HTML pages."""

from __future__ import annotations

import locust  # noqa: F401  (first: importing locust monkey-patches the standard library for gevent)

# isort: split
import random
import re
import time
from http.cookiejar import DefaultCookiePolicy

import requests
from locust import HttpUser, between, task
from urllib3 import PoolManager
from urllib3.util.retry import Retry

from benchmarks.load_plan import Plan

DECLINE_REASONS = ("not_my_field", "no_capacity", "budget", "timeline", "location", "already_solved")
NEXT_OUTCOME = {"connected": "intent", "intent": "contract", "contract": "completed"}
CSRF_RE = re.compile(r'name="csrf_token"[^>]*?value="([^"]+)"|value="([^"]+)"[^>]*?name="csrf_token"')


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
