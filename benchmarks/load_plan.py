"""What the load benchmark's simulated users share: the demo accounts handed out to them, their
loopback addresses, and what users learned that others use."""

from __future__ import annotations

import itertools
import json
import random
from collections import defaultdict
from pathlib import Path

from benchmarks.harness import PROJECT_ROOT

DEMO_DIR = PROJECT_ROOT / "data" / "demo"
STAFF_ACCOUNTS = ("coordinator@demo.example.cn", "admin@demo.example.cn")


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
