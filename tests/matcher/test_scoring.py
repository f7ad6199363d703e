from datetime import date

import pytest

from matcher.records import ExpertAttributes, NeedRecord
from matcher.scoring import (
    aggregate,
    capacity_fit,
    hard_constraints,
    mode_fit,
    normalise_max,
    normalise_minmax,
    recency_fit,
    region_fit,
)
from matcher.taxonomy import load_taxonomy


def test_aggregations():
    values = [0.9, 0.1, 0.5, 0.7]
    assert aggregate(values, "max", 2) == 0.9
    assert aggregate(values, "mean", 2) == pytest.approx(0.55)
    assert aggregate(values, "topk", 2) == pytest.approx(0.8)
    assert aggregate(values, "topk", 10) == pytest.approx(0.55)
    assert aggregate([], "topk", 2) == 0.0
    with pytest.raises(ValueError):
        aggregate(values, "median", 2)


def test_normalisations_map_to_unit_interval():
    assert normalise_max({"a": 2.0, "b": 1.0, "c": 0.0}) == {"a": 1.0, "b": 0.5, "c": 0.0}
    assert normalise_max({"a": 0.0}) == {"a": 0.0}
    assert normalise_minmax({"a": 0.2, "b": 0.6}) == {"a": 0.0, "b": 1.0}


def test_region_fit_prefers_same_city_then_province():
    taxonomy = load_taxonomy()
    assert region_fit(taxonomy, "广东省茂名市", "广东省茂名市") == 1.0
    assert region_fit(taxonomy, "广东省茂名市", "广东省广州市") == 0.5
    assert region_fit(taxonomy, "广东省茂名市", "陕西省宝鸡市") == 0.0
    assert region_fit(taxonomy, "", "广东省广州市") == 0.0


def test_mode_fit_and_capacity_and_recency():
    assert mode_fit(("consulting", "development"), ("development",)) == 0.5
    assert mode_fit((), ("development",)) == 1.0
    assert capacity_fit(ExpertAttributes(capacity=2, engaged=2)) == 0.0
    assert capacity_fit(ExpertAttributes(capacity=3, engaged=1)) == 1.0
    assert capacity_fit(ExpertAttributes(capacity=None)) == 0.5
    today = date(2026, 6, 1)
    assert recency_fit(2025, 3, 15, today) == 1.0
    assert recency_fit(2005, 3, 15, today) == 0.0
    assert 0.0 < recency_fit(2015, 3, 15, today) < 1.0


def test_hard_constraints_name_each_reason():
    need = NeedRecord(id="n1", title="t", organization="org-1", cooperation_modes=("transfer",))
    assert hard_constraints(need, ExpertAttributes(organization="org-1")) == ["conflict_same_organization"]
    assert hard_constraints(need, ExpertAttributes(declared_conflicts=frozenset({"org-1"}))) == ["conflict_declared"]
    assert hard_constraints(need, ExpertAttributes(cooperation_modes=("consulting",))) == ["cooperation_mode_not_accepted"]
    assert hard_constraints(need, ExpertAttributes(available=False)) == ["paused"]
    assert hard_constraints(need, ExpertAttributes(organization="org-2", cooperation_modes=("transfer",))) == []


def test_discipline_fit_uses_the_crosswalk():
    taxonomy = load_taxonomy()
    assert taxonomy.discipline_fit(["04"], ["240"]) == 1.0  # fishery ← aquaculture science
    assert taxonomy.discipline_fit(["04"], ["720"]) == 0.0  # fishery ← philosophy


def test_an_experts_language_is_the_more_common_of_zh_and_en_the_first_seen_on_a_tie():
    import numpy as np

    from matcher.ranking import expert_langs

    # codes: 0 zh, 1 en, 2 other; one expert per group, items in the expert's order
    experts = [[0, 1], [1, 0], [2, 1, 0, 0], [2], [1, 1, 0], [2, 2, 1], [0]]
    codes = np.array([c for group in experts for c in group], dtype=np.int8)
    segments = np.repeat(np.arange(len(experts) + 1), [len(g) for g in experts] + [0])
    got = expert_langs(codes, segments, len(experts) + 1).tolist()
    assert got == [0, 1, 0, 0, 1, 1, 0, 0]  # the last expert has no items: zh
    for n, group in enumerate(experts):  # one expert alone gives the same
        alone = expert_langs(np.array(group, dtype=np.int8), np.zeros(len(group), dtype=np.int64), 1)
        assert alone.tolist() == [got[n]]
