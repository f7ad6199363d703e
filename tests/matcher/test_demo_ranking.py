"""End to end on the shipped demo data: known needs rank their labelled best expert in the
top 5 (the hard cases: workshop language, English need / Chinese expert, conflicts)."""

import pytest

from benchmarks.datasets import load_demo
from matcher import Engine, MatcherConfig

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_engine(embedder):
    demo = load_demo()
    engine = Engine(MatcherConfig(), embedder)
    engine.build(demo.experts, demo.needs)
    return demo, engine


@pytest.mark.parametrize(
    ("need_id", "best"),
    [
        ("need-a016", "exp-a025"),  # farmer's words for streptococcosis → tilapia vaccine researcher
        ("need-b026", "exp-b041"),  # "springs break after 20,000 km" → corrosion-fatigue researcher (full capacity)
        ("need-b017", "exp-b024"),  # English need → Chinese-writing titanium additive manufacturing expert
        ("need-c032", "exp-c055"),  # English aflatoxin need → Chinese-writing mycotoxin rapid-test expert
        ("need-b025", "exp-b039"),  # the in-house experts are excluded; the external one comes first
    ],
)
def test_known_need_ranks_its_best_expert_in_the_top_five(demo_engine, need_id, best):
    demo, engine = demo_engine
    assert demo.judgements[need_id][best] == 3
    need = next(n for n in demo.needs if n.id == need_id)
    ranked = engine.rank(need, demo.attributes, limit=5)
    assert best in [s.expert_id for s in ranked], [s.expert_id for s in ranked]


def test_conflicted_experts_never_appear_for_their_own_enterprise(demo_engine):
    demo, engine = demo_engine
    need = next(n for n in demo.needs if n.id == "need-b025")
    ranked = engine.rank(need, demo.attributes, limit=20)
    assert {"exp-b037", "exp-b038"}.isdisjoint(s.expert_id for s in ranked)


def test_full_capacity_expert_stays_visible_with_a_flag(demo_engine):
    demo, engine = demo_engine
    need = next(n for n in demo.needs if n.id == "need-b026")
    flagged = next(s for s in engine.rank(need, demo.attributes, limit=5) if s.expert_id == "exp-b041")
    assert "full_capacity" in flagged.flags
