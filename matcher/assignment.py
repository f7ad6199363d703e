"""Global assignment for matchmaking events: needs × experts under demand and capacity.

Solved as a min-cost flow (OR-Tools): source → need (capacity = demand) → expert (one unit per
allowed pair, cost = −affinity) → sink (capacity = the expert's remaining capacity). The solver
first fills as many slots as the allowed pairs permit, then maximises total affinity among
those fillings. Conflicts are simply absent pairs; pinned pairs are placed before solving and
consume demand and capacity. When slots stay empty, :func:`diagnose` says which constraint
binds for each need.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

SCALE = 10_000  # affinities in [0, 1] become integer costs


@dataclass(frozen=True)
class AssignmentProblem:
    demand: dict[str, int]  # need -> experts wanted
    capacity: dict[str, int]  # expert -> remaining capacity
    affinity: dict[tuple[str, str], float]  # (need, expert) -> score; only allowed candidate pairs
    conflicts: frozenset[tuple[str, str]] = frozenset()  # (need, expert) never assigned
    pins: frozenset[tuple[str, str]] = frozenset()  # (need, expert) always assigned
    groups: dict[str, str] = field(default_factory=dict)  # need -> industry (for explanations)


@dataclass
class AssignmentResult:
    assigned: dict[str, list[str]]  # need -> experts, best first
    alternates: dict[str, list[str]]
    objective: float
    unfilled: dict[str, int]  # need -> empty slots
    reasons: dict[str, str]  # need -> why slots stayed empty
    summary: list[str]  # plain-language findings (English), most important first
    pin_problems: list[str]
    # The same findings as data, for a UI to word in its own language: {"kind": "pin", "problem":
    # "missing"|"conflict"|"over_capacity", "need", "expert"} and {"kind": "unfilled", "group",
    # "reason", "slots", "needs"}.
    findings: list[dict] = field(default_factory=list)

    @property
    def unfilled_slots(self) -> int:
        return sum(self.unfilled.values())


REASON_TEXT = {
    "no_candidates": "too few experts for this industry",
    "capacity_exhausted": "every suitable expert is at capacity",
    "conflicts": "the only suitable experts have conflicts of interest",
    "too_few_candidates": "fewer suitable experts than requested",
}
PIN_TEXT = {
    "missing": "pinned pair {need}–{expert} refers to a need or expert not in the event",
    "conflict": "pinned pair {need}–{expert} is a conflict of interest and was not kept",
    "over_capacity": "pinned pair {need}–{expert} exceeds the expert's capacity; kept because it is pinned",
}


def _score(problem: AssignmentProblem, need: str, expert: str) -> float:
    return problem.affinity.get((need, expert), 0.0)


def solve(problem: AssignmentProblem, alternates_per_need: int = 2) -> AssignmentResult:
    from ortools.graph.python import min_cost_flow

    demand = dict(problem.demand)
    capacity = dict(problem.capacity)
    assigned: dict[str, list[str]] = defaultdict(list)
    pin_findings: list[dict] = []
    for need, expert in sorted(problem.pins):
        if need not in demand or expert not in capacity:
            pin_findings.append({"kind": "pin", "problem": "missing", "need": need, "expert": expert})
            continue
        if (need, expert) in problem.conflicts:
            pin_findings.append({"kind": "pin", "problem": "conflict", "need": need, "expert": expert})
            continue
        assigned[need].append(expert)
        demand[need] = max(0, demand[need] - 1)
        if capacity[expert] <= 0:
            pin_findings.append({"kind": "pin", "problem": "over_capacity", "need": need, "expert": expert})
        capacity[expert] -= 1
    pin_problems = [PIN_TEXT[f["problem"]].format(**f) for f in pin_findings]

    needs = sorted(n for n, d in demand.items() if d > 0)
    experts = sorted(e for e, c in capacity.items() if c > 0)
    need_node = {n: 1 + i for i, n in enumerate(needs)}
    expert_node = {e: 1 + len(needs) + i for i, e in enumerate(experts)}
    source, sink = 0, 1 + len(needs) + len(experts)
    tails, heads, caps, costs, pairs = [], [], [], [], []
    for need in needs:
        tails.append(source), heads.append(need_node[need]), caps.append(demand[need]), costs.append(0), pairs.append(None)
    for (need, expert), score in problem.affinity.items():
        if need in need_node and expert in expert_node and (need, expert) not in problem.conflicts and expert not in assigned.get(need, ()):
            tails.append(need_node[need]), heads.append(expert_node[expert]), caps.append(1)
            costs.append(-int(round(score * SCALE))), pairs.append((need, expert))
    for expert in experts:
        tails.append(expert_node[expert]), heads.append(sink), caps.append(capacity[expert]), costs.append(0), pairs.append(None)
    if len(needs) and len(experts):
        flow = min_cost_flow.SimpleMinCostFlow()
        arcs = flow.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
        total = sum(demand[n] for n in needs)
        flow.set_node_supply(source, total)
        flow.set_node_supply(sink, -total)
        status = flow.solve_max_flow_with_min_cost()
        if status != flow.OPTIMAL:
            raise RuntimeError(f"min-cost flow failed with status {status}")
        for arc, pair in zip(arcs, pairs, strict=True):
            if pair is not None and flow.flow(arc) > 0:
                assigned[pair[0]].append(pair[1])
    for need in assigned:
        assigned[need].sort(key=lambda e: (-_score(problem, need, e), e))
    unfilled = {n: problem.demand[n] - len(assigned.get(n, [])) for n in problem.demand}
    unfilled = {n: k for n, k in unfilled.items() if k > 0}
    used = defaultdict(int)
    for experts_of_need in assigned.values():
        for expert in experts_of_need:
            used[expert] += 1
    alternates = _alternates(problem, assigned, used, alternates_per_need)
    reasons, summary, unfilled_findings = diagnose(problem, assigned, used, unfilled)
    objective = sum(_score(problem, n, e) for n, es in assigned.items() for e in es)
    return AssignmentResult(dict(assigned), alternates, objective, unfilled, reasons, summary, pin_problems,
                            pin_findings + unfilled_findings)


def _alternates(problem, assigned, used, count) -> dict[str, list[str]]:
    candidates: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for (need, expert), score in problem.affinity.items():
        if (need, expert) not in problem.conflicts and expert not in assigned.get(need, ()):
            candidates[need].append((score, expert))
    out = {}
    for need in problem.demand:
        ranked = sorted(candidates.get(need, []), key=lambda pair: (-(used[pair[1]] < problem.capacity.get(pair[1], 0)), -pair[0], pair[1]))
        out[need] = [expert for _, expert in ranked[:count]]
    return out


def diagnose(problem, assigned, used, unfilled) -> tuple[dict[str, str], list[str], list[dict]]:
    """Why each unfilled need stayed short, and a summary by industry (as text and as data)."""
    reasons: dict[str, str] = {}
    by_group: dict[str, list[str]] = defaultdict(list)
    for need in unfilled:
        allowed = [e for (n, e) in problem.affinity if n == need and (n, e) not in problem.conflicts]
        conflicted = [e for (n, e) in problem.affinity if n == need and (n, e) in problem.conflicts]
        if not allowed and conflicted:
            reason = "conflicts"
        elif not allowed:
            reason = "no_candidates"
        elif all(used[e] >= problem.capacity.get(e, 0) for e in allowed if e not in assigned.get(need, ())):
            reason = "capacity_exhausted"
        else:
            reason = "too_few_candidates"
        reasons[need] = reason
        by_group[(problem.groups.get(need) or "unclassified", reason)].append(need)
    summary, findings = [], []
    for (group, reason), needs in sorted(by_group.items(), key=lambda kv: -sum(unfilled[n] for n in kv[1])):
        slots = sum(unfilled[n] for n in needs)
        summary.append(f"{group}: {slots} slot(s) in {len(needs)} need(s) unfilled — {REASON_TEXT[reason]}")
        findings.append({"kind": "unfilled", "group": group, "reason": reason, "slots": slots, "needs": len(needs)})
    return reasons, summary, findings


def greedy(problem: AssignmentProblem) -> AssignmentResult:
    """Baseline: pins first, then pairs by descending affinity while demand and capacity last."""
    demand = dict(problem.demand)
    capacity = dict(problem.capacity)
    assigned: dict[str, list[str]] = defaultdict(list)
    for need, expert in sorted(problem.pins):
        if need in demand and expert in capacity and (need, expert) not in problem.conflicts:
            assigned[need].append(expert)
            demand[need] -= 1
            capacity[expert] -= 1
    for (need, expert), _affinity in sorted(problem.affinity.items(), key=lambda kv: (-kv[1], kv[0])):
        if (need, expert) in problem.conflicts or expert in assigned.get(need, ()):
            continue
        if demand.get(need, 0) > 0 and capacity.get(expert, 0) > 0:
            assigned[need].append(expert)
            demand[need] -= 1
            capacity[expert] -= 1
    unfilled = {n: d for n, d in demand.items() if d > 0}
    objective = sum(_score(problem, n, e) for n, es in assigned.items() for e in es)
    return AssignmentResult(dict(assigned), {}, objective, unfilled, {}, [], [])


def violations(problem: AssignmentProblem, result: AssignmentResult) -> int:
    """Broken constraints: capacity and demand (pins may exceed both: the coordinator forced
    them), conflicts assigned, pins missing."""
    count = 0
    used: dict[str, int] = defaultdict(int)
    pinned_per_need: dict[str, int] = defaultdict(int)
    for need, _expert in problem.pins:
        pinned_per_need[need] += 1
    for need, experts in result.assigned.items():
        if len(experts) > max(problem.demand.get(need, 0), pinned_per_need[need]):
            count += 1
        if len(set(experts)) != len(experts):
            count += 1
        for expert in experts:
            used[expert] += 1
            if (need, expert) in problem.conflicts:
                count += 1
    pinned_per_expert: dict[str, int] = defaultdict(int)
    for need, expert in problem.pins:
        if (need, expert) not in problem.conflicts:
            pinned_per_expert[expert] += 1
            if expert not in result.assigned.get(need, []):
                count += 1
    for expert, n in used.items():
        if n > max(problem.capacity.get(expert, 0), pinned_per_expert[expert]):
            count += 1
    return count
