"""The fused score: the fitted lexical map is applied, and no step looks at the other
candidates of a need (so one expert's scores compare across needs)."""

from __future__ import annotations

import dataclasses

import pytest

from matcher import AchievementRecord, Engine, ExpertRecord, MatcherConfig, NeedRecord
from matcher.fusion import lexical_value, scale


def expert(eid, *titles):
    return ExpertRecord(id=eid, name=eid, achievements=tuple(
        AchievementRecord(id=f"{eid}-{i}", title=t, abstract="", year=2023) for i, t in enumerate(titles)))


EXPERTS = [
    expert("forging", "Forging of titanium alloys", "Heat treatment of titanium forgings"),
    expert("lychee", "Flower induction of lychee trees", "Fruit set in lychee orchards"),
    expert("vaccine", "Tilapia streptococcosis vaccine", "Water quality in tilapia ponds"),
    expert("mixed", "Titanium powder for additive manufacturing", "Lychee drying"),
]


@pytest.fixture(scope="module")
def lexical_engine():
    built = Engine(MatcherConfig(), None)
    built.build(EXPERTS)
    return built


def lexical_reason(suggestion):
    return next(r for r in suggestion.reasons if r["code"] == "lexical")["value"]


def test_lexical_value_is_the_identity_at_power_one_and_monotone_below():
    assert lexical_value(0.04, 1.0) == 0.04
    assert lexical_value(0.04, 0.5) == pytest.approx(0.2)
    assert lexical_value(-0.01, 0.5) == 0.0
    shares = [0.0, 0.001, 0.01, 0.05, 0.2, 1.0]
    mapped = [lexical_value(s, 0.5) for s in shares]
    assert mapped == sorted(mapped) and len(set(mapped)) == len(mapped)


def test_the_configured_lexical_power_is_applied_before_the_pairs_scale(lexical_engine):
    need = NeedRecord(id="n1", title="Cracks in titanium forgings after heat treatment")
    for power in (1.0, 0.5):
        config = dataclasses.replace(lexical_engine.config, lexical_power={"en-en": power})
        top = lexical_engine.with_config(config).rank(need, limit=1)[0]
        assert top.expert_id == "forging"
        raw = top.channels["lexical"]
        expected = scale(raw ** power, config.channel_scales["en-en"]["lexical"])
        assert lexical_reason(top) == pytest.approx(expected, abs=1e-4)
    # The shipped configuration carries the power fitted for English (benchmarks.fusion_fit --joint).
    shipped = MatcherConfig().lexical_power.get("en-en", 1.0)
    top = lexical_engine.rank(need, limit=1)[0]
    assert lexical_reason(top) == pytest.approx(
        scale(top.channels["lexical"] ** shipped, MatcherConfig().channel_scales["en-en"]["lexical"]), abs=1e-4)


def test_an_experts_score_does_not_depend_on_the_other_candidates(embedder):
    """No per-need normalisation: the score of one expert is the same whether it is ranked among
    all experts or alone, on every channel and on the fused score (a min-max or z-score over the
    candidates would change it, and could not be computed at all for a lone candidate)."""
    engine = Engine(MatcherConfig(), embedder)
    engine.build(EXPERTS)
    for title in ("Titanium forging cracks", "Lychee trees flower poorly", "钛合金锻造开裂"):
        need = NeedRecord(id=f"n-{title}", title=title)
        everyone = {s.expert_id: s for s in engine.rank(need, limit=None)}
        assert len(everyone) == len(EXPERTS)
        for expert_id, among_all in everyone.items():
            alone = engine.rank(need, limit=None, candidates=[expert_id])[0]
            # Equal up to float32 summation order (vectors are scored in batches of another size),
            # which the narrow zh-zh e5 scale (width 0.025 of cosine) magnifies about 30 times.
            assert alone.score == pytest.approx(among_all.score, abs=2e-3)
            assert alone.channels == pytest.approx(among_all.channels, abs=2e-4)  # rounded to 4 places
            assert alone.relevance == pytest.approx(among_all.relevance, abs=1e-3)


def test_the_best_candidate_is_not_pinned_to_a_fixed_score(embedder):
    """Per-need normalisation would give every need's best expert the same score (1.0); a
    weak best match must score below a strong one."""
    engine = Engine(MatcherConfig(), embedder)
    engine.build(EXPERTS)
    strong = engine.rank(NeedRecord(id="s", title="Forging and heat treatment of titanium alloys"), limit=1)[0]
    weak = engine.rank(NeedRecord(id="w", title="Software for payroll accounting in small shops"), limit=1)[0]
    assert strong.score > weak.score + 0.5
    assert strong.relevance > weak.relevance
