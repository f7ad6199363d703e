"""Matchmaking-event assignment at scale. Prints JSON; never asserts.

    python -m benchmarks.assignment --needs 2000 --experts 5000 --json

Affinities come from the engine (lexical channel, the one that reads Chinese with the default
model) on demo-derived texts: expert k is demo expert k mod N with its achievements rotated
and one achievement borrowed from a colleague of the same sector folder; need k is a demo
need's title with another need's description from the same sector. Each need keeps its top
``--candidates`` experts as allowed pairs. Demand 2 per need, capacity 3 per expert, 1% of
candidate pairs are conflicts, and ``--pins`` random candidate pairs are pinned.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import time

from matcher import AchievementRecord, Engine, ExpertRecord, MatcherConfig, NeedRecord
from matcher.assignment import AssignmentProblem, greedy, solve, violations

from .datasets import load_demo


def synthetic(experts_n: int, needs_n: int, seed: int):
    rng = random.Random(seed)
    demo = load_demo()
    sector = {e.id: e.id.split("-")[1][0] for e in demo.experts}
    by_sector: dict[str, list[ExpertRecord]] = {}
    for e in demo.experts:
        by_sector.setdefault(sector[e.id], []).append(e)
    experts = []
    for k in range(experts_n):
        base = demo.experts[k % len(demo.experts)]
        colleague = rng.choice(by_sector[sector[base.id]])
        items = list(base.achievements)
        shift = k % max(1, len(items))
        items = items[shift:] + items[:shift] + [rng.choice(colleague.achievements)]
        experts.append(ExpertRecord(
            id=f"x{k}", name=base.name, summary=base.summary, keywords=base.keywords, research_areas=base.research_areas,
            achievements=tuple(AchievementRecord(id=f"x{k}-{i}", title=a.title, abstract=a.abstract, year=a.year)
                               for i, a in enumerate(items))))
    needs_by_sector: dict[str, list[NeedRecord]] = {}
    for n in demo.needs:
        needs_by_sector.setdefault(n.id.split("-")[1][0], []).append(n)
    needs = []
    for k in range(needs_n):
        base = demo.needs[k % len(demo.needs)]
        other = rng.choice(needs_by_sector[base.id.split("-")[1][0]])
        needs.append(NeedRecord(id=f"n{k}", title=base.title, description=other.description,
                                industry_codes=base.industry_codes, region=base.region))
    return experts, needs


def run(needs_n: int, experts_n: int, candidates: int, pins_n: int, seed: int) -> dict:
    rng = random.Random(seed)
    experts, needs = synthetic(experts_n, needs_n, seed)
    started = time.perf_counter()
    engine = Engine(MatcherConfig(), None)
    engine.build(experts)
    affinity: dict[tuple[str, str], float] = {}
    for need in needs:
        for suggestion in engine.rank(need, None, limit=candidates, explain=False):
            affinity[(need.id, suggestion.expert_id)] = suggestion.score
    affinity_s = time.perf_counter() - started
    pairs = sorted(affinity)
    conflicts = frozenset(rng.sample(pairs, k=len(pairs) // 100))
    pins = frozenset(p for p in rng.sample(pairs, k=min(pins_n, len(pairs))) if p not in conflicts)
    problem = AssignmentProblem(
        demand={n.id: 2 for n in needs}, capacity={e.id: 3 for e in experts}, affinity=affinity,
        conflicts=conflicts, pins=pins, groups={n.id: (n.industry_codes[0] if n.industry_codes else "") for n in needs})
    started = time.perf_counter()
    result = solve(problem)
    solve_s = time.perf_counter() - started
    baseline = greedy(problem)
    return {
        "needs": needs_n,
        "experts": experts_n,
        "candidate_pairs": len(affinity),
        "affinity_s": round(affinity_s, 1),
        "solve_s": round(solve_s, 2),
        "objective": round(result.objective, 3),
        "greedy_objective": round(baseline.objective, 3),
        "violations": violations(problem, result),
        "unfilled_slots": result.unfilled_slots,
        "greedy_unfilled_slots": baseline.unfilled_slots,
        "pins": len(pins),
        "conflicts": len(conflicts),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--needs", type=int, default=2000)
    parser.add_argument("--experts", type=int, default=5000)
    parser.add_argument("--candidates", type=int, default=30, help="allowed experts per need (engine's top N)")
    parser.add_argument("--pins", type=int, default=50)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    report = run(args.needs, args.experts, args.candidates, args.pins, args.seed)
    print(json.dumps(report, indent=None if args.json else 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
