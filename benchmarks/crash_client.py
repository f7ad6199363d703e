"""The crash benchmark's writing client: threads that write through the bearer-token API while
the server may die under them, and the ledger of what the server acknowledged."""

from __future__ import annotations

import http.client
import json
import queue
import random
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from benchmarks.harness import HarnessError

if TYPE_CHECKING:
    from benchmarks.crash import Installation


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

    def _write(self, op: str, method: str, path: str, token: str, body: dict | None = None,
               expected: tuple[int, ...] = ()) -> tuple[int | None, object]:
        """One attempt: (status, body), or (None, None) when the outcome is unknown. A status in
        ``expected`` is a refusal the product owes (not counted as a rejected write)."""
        with self.ledger.lock:
            self.ledger.attempts += 1
        try:
            status, answer = self.api.call(method, path, token, body)
        except Down:
            with self.ledger.lock:
                self.ledger.unknown += 1
            time.sleep(0.2)
            return None, None
        if not 200 <= status < 300 and status not in expected:
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
                # 409: the matchmaker took this need's match to a contract, which fixes the need
                status, body = self._write("update_need", "PATCH", f"/needs/{latest}", token,
                                           {"description": self._need_text(latest, rev)}, expected=(409,))
                if status == 200:
                    self.ledger.ack(op="update_need", id=latest, rev=rev)
                elif status == 409:
                    latest = None  # post a new need next
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
            steps += [("outcome", coordinator, f"/matches/{match_id}/outcome", {"status": s, "note": "crash test", **({"amount": 12} if s == "contract" else {})})
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
