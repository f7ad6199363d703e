"""Open needs ranked for one expert: the same engine, read the other way."""

from __future__ import annotations

import dataclasses

import pytest

from matcher import Engine, ExpertAttributes, MatcherConfig, NeedRecord
from tests.matcher.test_engine import EXPERTS, expert

pytestmark = pytest.mark.slow

NEEDS = [
    NeedRecord(id="fish", title="罗非鱼养殖场链球菌病暴发，求疫苗与防控方案"),
    NeedRecord(id="spring", title="弹簧装车跑两万公里就断了", description="断口在第二圈附近，表面有锈", organization="org-7"),
    NeedRecord(id="damper", title="减振器低速异响", description="过减速带时减振器咚咚响"),
    NeedRecord(id="titan", title="钛合金锻件开裂", cooperation_modes=("transfer",)),
]


@pytest.fixture(scope="module")
def engine(embedder):
    built = Engine(MatcherConfig(), embedder)
    built.build(EXPERTS, NEEDS)
    return built


def test_needs_come_in_order_of_the_pairs_score_the_need_side_would_show(engine):
    ranked = engine.rank_needs("spring", NEEDS, ExpertAttributes(), limit=None)
    assert [r.need_id for r in ranked][0] == "spring"
    assert [r.suggestion.score for r in ranked] == sorted((r.suggestion.score for r in ranked), reverse=True)
    for row in ranked:  # the same number as the need's own list gives this expert
        need = next(n for n in NEEDS if n.id == row.need_id)
        forward = next(s for s in engine.rank(need, {"spring": ExpertAttributes()}, limit=None) if s.expert_id == "spring")
        assert row.suggestion.score == pytest.approx(forward.score, abs=1e-5)  # float32 sums in another order
        assert row.suggestion.relevance == pytest.approx(forward.relevance, abs=1e-4) and row.suggestion.band == forward.band
    top = ranked[0].suggestion
    assert top.evidence["best_item"]["title"] == "悬架弹簧腐蚀疲劳断裂机理"
    assert "弹簧" in [t["term"] for t in top.evidence["matched_terms"]]


def test_the_damper_expert_gets_the_damper_need_first(engine):
    assert engine.rank_needs("damper", NEEDS, ExpertAttributes(), limit=1)[0].need_id == "damper"


def test_hard_constraints_leave_needs_out(engine):
    same_org = engine.rank_needs("spring", NEEDS, ExpertAttributes(organization="org-7"), limit=None)
    declared = engine.rank_needs("spring", NEEDS, ExpertAttributes(declared_conflicts=frozenset({"org-7"})), limit=None)
    modes = engine.rank_needs("spring", NEEDS, ExpertAttributes(cooperation_modes=("consulting",)), limit=None)
    paused = engine.rank_needs("spring", NEEDS, ExpertAttributes(available=False), limit=None)
    assert "spring" not in [r.need_id for r in same_org] and "spring" not in [r.need_id for r in declared]
    assert "titan" not in [r.need_id for r in modes] and "spring" in [r.need_id for r in modes]
    assert paused == []
    assert engine.rank_needs("nobody", NEEDS) == []


def test_prepared_needs_are_kept_until_the_need_or_the_expert_side_changes(engine, monkeypatch):
    engine.rank_needs("spring", NEEDS, limit=None)
    calls = []
    original = Engine.prepare_query
    monkeypatch.setattr(Engine, "prepare_query", lambda self, need: calls.append(need.id) or original(self, need))
    engine.rank_needs("damper", NEEDS, limit=None)
    assert calls == []  # every need prepared once, for every expert
    edited = [dataclasses.replace(NEEDS[0], description="网箱养殖")] + NEEDS[1:]
    engine.rank_needs("damper", edited, limit=None)
    assert calls == ["fish"]
    engine.upsert_expert(expert("newcomer", "减振器异响诊断"))
    calls.clear()
    ranked = engine.rank_needs("newcomer", NEEDS, limit=None)
    assert sorted(calls) == sorted(n.id for n in NEEDS)  # idf changed: every need prepared again
    for row in ranked:  # an expert added since the build (the lexical delta segment) scores as the need side sees him
        need = next(n for n in NEEDS if n.id == row.need_id)
        forward = engine.rank(need, limit=None, candidates=["newcomer"])[0]
        assert row.suggestion.score == pytest.approx(forward.score, abs=1e-5)
