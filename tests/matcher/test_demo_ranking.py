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


def test_no_matched_term_is_a_function_word_a_number_or_a_stray_character(demo_engine):
    from matcher.evidence import generic_words

    demo, engine = demo_engine
    generic = generic_words()
    for need in demo.needs:
        for suggestion in engine.rank(need, demo.attributes, limit=10):
            for entry in suggestion.evidence["matched_terms"]:
                term = entry["term"]
                assert term not in generic, (need.id, term)
                assert not term.replace(".", "").replace("%", "").isdigit(), (need.id, term)
                assert len(term) > 1, (need.id, term)


def test_a_need_no_demo_expert_works_on_has_no_strong_match(demo_engine):
    """No demo expert works on cathode coating or doping: the list must not pretend otherwise."""
    from matcher import NeedRecord

    demo, engine = demo_engine
    need = NeedRecord(id="cathode", title="高镍三元正极材料循环衰减快，需改善包覆与掺杂工艺",
                      description="NCM811正极在45℃循环300周后容量保持率低于88%，希望通过表面包覆与体相掺杂改善循环稳定性。")
    ranked = engine.rank(need, demo.attributes, limit=10)
    assert ranked and all(s.band != "strong" for s in ranked), [(s.expert_id, s.relevance) for s in ranked]


def test_no_expert_judged_unrelated_sits_in_the_strong_band(demo_engine):
    demo, engine = demo_engine
    offenders = []
    for need in demo.needs:
        for suggestion in engine.rank(need, demo.attributes, limit=10):
            if suggestion.band == "strong" and demo.judgements[need.id].get(suggestion.expert_id) == 0:
                offenders.append((need.id, suggestion.expert_id, suggestion.relevance))
    assert offenders == []


def test_the_closest_work_comes_first_in_the_evidence(demo_engine):
    demo, engine = demo_engine
    need = next(n for n in demo.needs if n.id == "need-c032")
    top = next(s for s in engine.rank(need, demo.attributes, limit=20) if s.expert_id == "exp-c055")
    order = top.evidence["item_order"]
    assert order[0] == top.evidence["best_item"]["ref"]
    assert "黄曲霉" in top.evidence["best_item"]["title"]


@pytest.mark.parametrize("aggregation", ["topk", "max", "mean"])
def test_ranking_all_candidates_at_once_gives_each_experts_own_score(demo_engine, aggregation):
    """``rank`` scores every candidate in one pass over flat arrays; each score, text score,
    reason and channel value must equal what scoring that expert alone gives
    (:meth:`_score_expert`, the path of the expert's own list of needs), on every demo need
    of both languages, for every aggregation, with live attributes that differ per expert."""
    import dataclasses

    from matcher import ExpertAttributes

    demo, engine = demo_engine
    engine = engine.with_config(dataclasses.replace(engine.config, aggregation=aggregation, top_k=2))
    regions = ["广东省茂名市", "广东省广州市", "陕西省宝鸡市", ""]
    attributes = {e: ExpertAttributes(region=regions[n % 4], discipline_codes=(("210",), ("430", "550"), ())[n % 3],
                                      capacity=(None, 2, 0)[n % 3], latest_year=(None, 2019)[n % 2])
                  for n, e in enumerate(sorted(engine.expert_items))}
    checked = 0
    for need in demo.needs[::3]:
        query = engine.prepare_query(need)
        candidates = sorted(engine.expert_items)
        ranked = engine.rank(need, attributes, limit=None, query=query, candidates=candidates, include_excluded=True)
        assert sorted(s.expert_id for s in ranked) == candidates
        parts = engine._item_parts(query, candidates)
        for suggestion in ranked:
            alone, raw, text_values, text_w, _ = engine._score_expert(query, suggestion.expert_id, parts[suggestion.expert_id],
                                                                      attributes[suggestion.expert_id])
            assert suggestion.score == pytest.approx(alone.score, abs=2e-6), (need.id, suggestion.expert_id)
            assert suggestion.text_score == pytest.approx(alone.text_score, abs=2e-6)
            assert suggestion.channels == {c: round(float(v), 4) for c, v in raw.items()}
            assert [r["code"] for r in suggestion.reasons][:len(text_w)] == list(text_w)
            assert suggestion.excluded == alone.excluded
            checked += 1
        scores = [s.score for s in ranked if not s.excluded]
        assert scores == sorted(scores, reverse=True)
    assert checked > 1000
