"""Assignment respects every constraint (property-based), keeps pins, explains infeasibility."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.assignment import AssignmentProblem, greedy, solve, violations


@st.composite
def problems(draw):
    n_needs = draw(st.integers(1, 8))
    n_experts = draw(st.integers(1, 8))
    needs = [f"n{i}" for i in range(n_needs)]
    experts = [f"e{i}" for i in range(n_experts)]
    demand = {n: draw(st.integers(0, 3)) for n in needs}
    capacity = {e: draw(st.integers(0, 3)) for e in experts}
    pairs = [(n, e) for n in needs for e in experts]
    chosen = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=len(pairs)))
    affinity = {p: draw(st.floats(0.0, 1.0)) for p in chosen}
    conflicts = frozenset(draw(st.lists(st.sampled_from(pairs), unique=True, max_size=4)))
    pins = frozenset(p for p in draw(st.lists(st.sampled_from(pairs), unique=True, max_size=2)) if p not in conflicts)
    return AssignmentProblem(demand, capacity, affinity, conflicts, pins)


@settings(max_examples=200, deadline=None)
@given(problems())
def test_every_constraint_holds_and_the_objective_beats_greedy(problem):
    result = solve(problem)
    assert violations(problem, result) == 0
    for need, experts in result.assigned.items():
        assert all((need, e) in problem.affinity or (need, e) in problem.pins for e in experts)
    for pin in problem.pins:
        assert pin[1] in result.assigned.get(pin[0], [])
    baseline = greedy(problem)
    assert result.objective >= baseline.objective - 1e-3 or result.unfilled_slots < baseline.unfilled_slots
    assert result.unfilled_slots <= baseline.unfilled_slots


def test_flow_finds_the_assignment_greedy_misses():
    # Greedy gives e1 to n1 (0.9) and leaves n2 empty; the optimum uses e2 for n1.
    problem = AssignmentProblem(demand={"n1": 1, "n2": 1}, capacity={"e1": 1, "e2": 1},
                                affinity={("n1", "e1"): 0.9, ("n1", "e2"): 0.8, ("n2", "e1"): 0.7})
    result = solve(problem)
    assert result.assigned == {"n1": ["e2"], "n2": ["e1"]}
    assert result.objective > greedy(problem).objective or greedy(problem).unfilled_slots > 0


def test_pins_are_kept_and_conflicts_never_assigned():
    problem = AssignmentProblem(demand={"n1": 2}, capacity={"e1": 1, "e2": 1, "e3": 1},
                                affinity={("n1", "e1"): 0.9, ("n1", "e2"): 0.8, ("n1", "e3"): 0.1},
                                conflicts=frozenset({("n1", "e1")}), pins=frozenset({("n1", "e3")}))
    result = solve(problem)
    assert sorted(result.assigned["n1"]) == ["e2", "e3"]


def test_infeasibility_is_explained_by_the_binding_constraint():
    problem = AssignmentProblem(
        demand={"fish": 2, "spring": 2, "herb": 1},
        capacity={"e_fish": 1, "e_spring": 0, "e_conflicted": 3},
        affinity={("fish", "e_fish"): 0.9, ("spring", "e_spring"): 0.9, ("herb", "e_conflicted"): 0.9},
        conflicts=frozenset({("herb", "e_conflicted")}),
        groups={"fish": "渔业", "spring": "汽车制造业", "herb": "医药制造业"},
    )
    result = solve(problem)
    assert result.unfilled == {"fish": 1, "spring": 2, "herb": 1}
    assert result.reasons == {"fish": "capacity_exhausted", "spring": "capacity_exhausted", "herb": "conflicts"}
    assert any(line.startswith("汽车制造业: 2 slot(s)") and "capacity" in line for line in result.summary)


def test_alternates_are_unassigned_candidates_with_capacity_first():
    problem = AssignmentProblem(demand={"n1": 1}, capacity={"a": 1, "b": 1, "c": 0, "d": 1},
                                affinity={("n1", "a"): 0.9, ("n1", "b"): 0.5, ("n1", "c"): 0.8, ("n1", "d"): 0.4})
    result = solve(problem)
    assert result.assigned == {"n1": ["a"]}
    assert result.alternates["n1"] == ["b", "d"]
