"""Matchmaking events end to end (plan, pin, publish once) and learning from decisions."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from models import (
    EventSlot,
    ExpertProfile,
    Match,
    MatchEvent,
    MatchStatus,
    Need,
    RankerModel,
    SuggestionImpression,
    User,
    db,
    utcnow,
    write_transaction,
)
from web.domain import events, matches
from web.domain.errors import ValidationError
from web.matching import ranking
from web.matching.impressions import flush_impressions
from web.matching.indexing import Indexer
from web.matching.search import suggest

pytestmark = pytest.mark.slow


def world(factory, app):
    enterprise = factory.user(role="enterprise")
    experts = []
    for name, titles in [("弹簧甲", ["悬架弹簧疲劳断裂", "弹簧喷丸强化"]), ("弹簧乙", ["气门弹簧失效分析"]),
                         ("减振丙", ["减振器阻尼阀系", "减振器异响诊断"]), ("钛丁", ["钛合金锻造"])]:
        expert = factory.user(role="expert", name=name, capacity=1)
        for title in titles:
            factory.achievement(expert, title=title)
        experts.append(expert)
    needs = [factory.need(enterprise, title="弹簧断裂", description="悬架弹簧两万公里断裂"),
             factory.need(enterprise, title="减振器异响", description="减振器低速异响"),
             factory.need(enterprise, title="弹簧喷丸", description="弹簧疲劳寿命提升")]
    with app.app_context():
        Indexer(app.config["INDEX_DIR"], app.config["MATCHER_EMBEDDING_MODEL"]).start()
    coordinator = factory.user(role="coordinator")
    return enterprise, experts, needs, coordinator


def actor(user_ref):
    return db.session.get(User, user_ref.id)


def test_plan_respects_capacity_keeps_pins_and_publishes_once(app, factory):
    _, experts, needs, coordinator = world(factory, app)
    with app.app_context():
        me = actor(coordinator)
        event = events.create_event(me, {"name": "弹簧专场对接会", "starts_at": "2026-12-05 09:00", "place": "佛山"})
        assert events.add_needs(me, event.id, [n.id for n in needs], demand=2) == 3
        assert events.invite_experts(me, event.id, [e.expert_id for e in experts]) == 4
        events.set_pin(me, event.id, needs[2].id, experts[3].expert_id, True)  # forced pair, off-topic on purpose
        outcome = events.plan(me, event.id)
        slots = db.session.scalars(sa.select(EventSlot).where(EventSlot.event_id == event.id, EventSlot.kind == "assigned")).all()
        per_expert: dict[int, int] = {}
        for slot in slots:
            per_expert[slot.expert_id] = per_expert.get(slot.expert_id, 0) + 1
        assert all(count <= 1 for count in per_expert.values())  # capacity 1 each
        assert (needs[2].id, experts[3].expert_id) in {(s.need_id, s.expert_id) for s in slots}
        assert outcome["unfilled_slots"] == 6 - len(slots)
        assert outcome["summary"]  # someone is short: 6 slots, 4 experts of capacity 1
        first = events.publish(me, event.id)
        assert first == len(slots)
        assert events.publish(me, event.id) == 0  # publishing again creates nothing
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Match)) == len(slots)
        assert all(m.status == MatchStatus.PROPOSED for m in db.session.scalars(sa.select(Match)))
        with pytest.raises(Exception, match="published"):
            events.plan(me, event.id)
        schedule = events.schedule(db.session.get(type(event), event.id))
        assert sum(len(row["meetings"]) for row in schedule) == len(slots)


def test_what_limits_the_plan_is_worded_in_the_readers_language(app, client, auth, factory):
    _, experts, needs, coordinator = world(factory, app)
    with app.app_context():
        with write_transaction() as session:
            for need in needs:
                session.execute(sa.update(Need).where(Need.id == need.id).values(industry_codes=["36"]))
        me = actor(coordinator)
        event = events.create_event(me, {"name": "弹簧专场对接会", "starts_at": "2026-12-05 09:00", "place": "佛山"})
        events.add_needs(me, event.id, [n.id for n in needs], demand=2)
        events.invite_experts(me, event.id, [e.expert_id for e in experts])
        events.set_pin(me, event.id, needs[0].id, experts[3].expert_id, True)
        outcome = events.plan(me, event.id)
        event_id = event.id
    assert outcome["unfilled_slots"] > 0  # 6 slots, 4 experts of capacity 1
    auth.login(coordinator)
    zh = client.get(f"/coordinator/events/{event_id}").get_data(as_text=True)
    en = client.get(f"/coordinator/events/{event_id}?lang=en").get_data(as_text=True)
    codes = ("no_candidates", "capacity_exhausted", "too_few_candidates", "'kind'")
    assert "36 汽车制造业：" in zh and "名额未能安排" in zh and "unfilled" not in zh
    assert "36 Manufacture of automobiles: " in en and "unfilled" in en and "名额未能安排" not in en
    for page in (zh, en):
        assert not [c for c in codes if c in page], [c for c in codes if c in page]


def test_experts_are_found_by_name_or_topic_and_invited_from_the_event_page(app, client, auth, factory):
    _, experts, needs, coordinator = world(factory, app)
    disabled = factory.user(role="expert", name="弹簧停用", status="disabled")
    factory.achievement(disabled, title="悬架弹簧疲劳断裂机理")
    with app.app_context():
        Indexer(app.config["INDEX_DIR"], app.config["MATCHER_EMBEDDING_MODEL"]).start()
        event = events.create_event(actor(coordinator), {"name": "弹簧专场", "starts_at": "2026-12-05 09:00", "place": "佛山"})
        event_id = event.id
        by_name = [p.name for p in events.find_experts("钛丁")]
        by_topic = [p.name for p in events.find_experts("弹簧疲劳断裂")]
        assert events.find_experts("   ") == [] and events.find_experts("100%_") == []
    assert by_name == ["钛丁"]
    assert by_topic and by_topic[0] == "弹簧甲" and "弹簧停用" not in by_topic and "钛丁" not in by_topic
    auth.login(coordinator)
    page = client.get(f"/coordinator/events/{event_id}?q=弹簧疲劳断裂")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "弹簧甲" in text and "弹簧停用" not in text
    from tests.conftest import csrf_token

    response = client.post(f"/coordinator/events/{event_id}/invite",
                           data={"csrf_token": csrf_token(page), "expert_id": [str(experts[0].expert_id)]})
    assert response.status_code == 302
    after = client.get(f"/coordinator/events/{event_id}?q=弹簧疲劳断裂").get_data(as_text=True)
    invited_section = after.split('id="invite-experts"')[1].split('id="found-experts"')[0]
    assert "弹簧甲" in invited_section and "(1)" in invited_section
    assert "弹簧甲" not in after.split('id="found-experts"')[1].split("</ul>")[0]  # no longer offered


def test_event_pages_work_for_coordinators(app, client, auth, factory):
    auth.login_as("coordinator")
    page = client.get("/coordinator/events")
    assert page.status_code == 200
    from tests.conftest import csrf_token

    response = client.post("/coordinator/events", data={"csrf_token": csrf_token(page), "name": "荔枝产业对接会",
                                                         "starts_at": "2026-12-20T14:00", "place": "茂名"})
    assert response.status_code == 302
    detail = client.get(response.headers["Location"])
    assert "荔枝产业对接会".encode() in detail.data
    bad = client.post("/coordinator/events", data={"csrf_token": csrf_token(page), "name": "", "starts_at": "next week"})
    assert bad.status_code == 200 and b"starts_at" in bad.data


def test_impressions_hold_features_but_no_contact_details(app, factory):
    _, experts, needs, coordinator = world(factory, app)
    with app.app_context():
        shown = suggest(actor(coordinator), needs[0].id, limit=5)
        assert db.session.scalar(sa.select(SuggestionImpression)) is None  # not written on the read path
        assert flush_impressions() == 1
        assert shown
        impression = db.session.scalar(sa.select(SuggestionImpression))
        assert impression.ranker_version == "weighted-sum-v2" and impression.need_id == needs[0].id
        stored = json.dumps(impression.items, ensure_ascii=False)
        for profile in db.session.scalars(sa.select(ExpertProfile)):
            for secret in (profile.phone, profile.email, profile.wechat, profile.name):
                assert secret and secret not in stored
        assert set(impression.items[0]["features"]) >= {"lexical", "region", "capacity", "recency"}


def _fake_decisions(app, factory, prefer: str, lists: int = 16):
    """Impressions with two experts each; the coordinator always proposes the one `prefer`s."""
    enterprise = factory.user(role="enterprise")
    coordinator = factory.user(role="coordinator")
    a, b = factory.user(role="expert"), factory.user(role="expert")
    needs = [factory.need(enterprise, title=f"需求{i}") for i in range(lists)]
    with app.app_context(), write_transaction() as session:
        for i, need in enumerate(needs):
            shown_at = utcnow() - timedelta(days=lists - i)
            good, bad = (a, b) if i % 2 else (b, a)
            features = {"good": {"lexical": 0.5, "region": 1.0, "capacity": 1.0, "recency": 0.2},
                        "bad": {"lexical": 0.9, "region": 0.0, "capacity": 0.0, "recency": 1.0}}
            if prefer == "text":
                features["good"], features["bad"] = features["bad"], features["good"]
            items = [{"expert_id": good.expert_id, "position": 2, "score": 0.5, "features": features["good"]},
                     {"expert_id": bad.expert_id, "position": 1, "score": 0.8, "features": features["bad"]}]
            session.add(SuggestionImpression(need_id=need.id, viewer_id=coordinator.id, ranker_version="weighted-sum-v1",
                                             items=items, shown_at=shown_at))
            match = Match(need_id=need.id, expert_id=good.expert_id, status=MatchStatus.PROPOSED, proposed_by_id=coordinator.id,
                          created_at=shown_at + timedelta(minutes=5))
            session.add(match)
            session.flush()
            session.add(MatchEvent(match_id=match.id, to_status="proposed"))


def test_training_learns_a_preference_the_default_weights_miss_and_activates_it(app, factory):
    _fake_decisions(app, factory, prefer="local")
    with app.app_context():
        report = ranking.train(min_decisions=10)
        assert report.activated and report.ndcg_learned > report.ndcg_current
        assert report.weights["region"] > report.weights["lexical"]
        version, weights = ranking.active_ranker()
        assert version == report.version and weights["region"] == report.weights["region"]


def test_training_refuses_a_model_that_is_not_better(app, factory):
    _fake_decisions(app, factory, prefer="text")  # the default weights already favour text
    with app.app_context():
        with write_transaction() as session:  # make the current ranker one that already ranks these lists perfectly
            session.add(RankerModel(version="manual-text", kind="weighted_sum", active=True,
                                    weights={"lexical": 1.0, "semantic": 0.0, "discipline": 0.0, "region": 0.0,
                                             "cooperation_mode": 0.0, "capacity": 0.0, "recency": 0.0}))
        report = ranking.train(min_decisions=10)
        assert not report.activated and "not better" in report.message
        assert ranking.active_ranker()[0] == "manual-text"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(RankerModel).where(RankerModel.active.is_(True))) == 1


def test_too_few_decisions_gives_a_clear_message(ctx, runner):
    result = runner.invoke(args=["matcher", "train-ranker"])
    assert result.exit_code == 0
    assert "too few decisions" in result.output and "keeping the current ranker" in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RankerModel)) == 0


def test_declined_as_not_my_field_counts_against_the_pair(app, factory):
    enterprise, expert, coordinator = factory.user(role="enterprise"), factory.user(role="expert"), factory.user(role="coordinator")
    need = factory.need(enterprise)
    with app.app_context():
        match, _ = matches.propose(actor(coordinator), need.id, expert.expert_id)
        matches.respond(actor(expert), match.id, False, reason="not_my_field")
        assert ranking.decision_labels()[(need.id, expert.expert_id)][0] == 0.0


def _published_event_with_one_need(app, factory):
    """One need wanting one expert, every expert invited, planned and published."""
    _, experts, needs, coordinator = world(factory, app)
    with app.app_context():
        me = actor(coordinator)
        event = events.create_event(me, {"name": "弹簧专场对接会", "starts_at": "2026-12-05 09:30", "place": "佛山"})
        events.add_needs(me, event.id, [needs[0].id], demand=1)
        events.invite_experts(me, event.id, [e.expert_id for e in experts])
        events.plan(me, event.id)
        events.publish(me, event.id)
        slot = db.session.scalars(sa.select(EventSlot).where(EventSlot.event_id == event.id, EventSlot.kind == "assigned")).one()
        return event.id, slot, experts, needs, coordinator


def test_a_declined_pair_shows_on_the_event_page_and_a_replan_fills_its_place_with_someone_else(app, client, auth, factory):
    event_id, slot, experts, needs, coordinator = _published_event_with_one_need(app, factory)
    declined = slot.expert_id
    with app.app_context():
        expert_user = next(e for e in experts if e.expert_id == declined)
        matches.respond(actor(expert_user), slot.match_id, False, reason="not_my_field")
    auth.login(coordinator)
    page = client.get(f"/coordinator/events/{event_id}")
    text = page.get_data(as_text=True)
    assert f'data-expert="{declined}" data-state="expert_declined"' in text and "专家已婉拒" in text
    assert 'id="replan-button"' in text
    from tests.conftest import csrf_token

    response = client.post(f"/coordinator/events/{event_id}/replan", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 302
    with app.app_context():
        assigned = db.session.scalars(sa.select(EventSlot).where(EventSlot.event_id == event_id, EventSlot.kind == "assigned")).all()
        fresh = [s for s in assigned if s.match_id is None]
        assert len(fresh) == 1 and fresh[0].expert_id != declined  # the declined expert is not planned again
        assert [s.expert_id for s in assigned if s.match_id is not None] == [declined]  # kept as a record
        assert events.publish(actor(coordinator), event_id) == 1
        proposed = db.session.scalars(sa.select(Match).where(Match.need_id == needs[0].id)).all()
        assert {m.expert_id: m.status for m in proposed} == {declined: MatchStatus.EXPERT_DECLINED,
                                                             fresh[0].expert_id: MatchStatus.PROPOSED}
        rows = events.schedule(db.session.get(events.MatchmakingEvent, event_id))
        assert [row["expert"].id for row in rows] == [fresh[0].expert_id]  # no meeting with the expert who declined
    after = client.get(f"/coordinator/events/{event_id}").get_data(as_text=True)
    assert f'data-expert="{fresh[0].expert_id}" data-state="proposed"' in after


def test_a_replan_is_refused_while_no_proposal_ended(app, factory):
    event_id, _, _, _, coordinator = _published_event_with_one_need(app, factory)
    with app.app_context(), pytest.raises(ValidationError, match="nothing to re-plan"):
        events.replan(actor(coordinator), event_id)


def test_the_event_proposal_is_stored_as_data_and_worded_in_the_readers_language(app, client, auth, factory):
    event_id, slot, _, _, coordinator = _published_event_with_one_need(app, factory)
    with app.app_context():
        proposal = db.session.scalars(sa.select(MatchEvent).where(MatchEvent.match_id == slot.match_id)).one()
        assert (proposal.reason_code, proposal.note) == (f"event:{event_id}", "弹簧专场对接会")
    auth.login(coordinator)
    zh = client.get(f"/matches/{slot.match_id}").get_data(as_text=True)
    en = client.get(f"/matches/{slot.match_id}?lang=en").get_data(as_text=True)
    assert "经对接活动“弹簧专场对接会”推荐" in zh and "matchmaking event" not in zh
    assert "proposed at the matchmaking event “弹簧专场对接会”" in en and "对接活动" not in en


def test_event_times_are_entered_and_shown_in_the_platform_time_zone(app, client, auth, factory):
    _, experts, needs, coordinator = world(factory, app)
    auth.login(coordinator)
    from tests.conftest import csrf_token

    page = client.get("/coordinator/events")
    assert "Asia/Shanghai" in page.get_data(as_text=True)
    response = client.post("/coordinator/events", data={"csrf_token": csrf_token(page), "name": "北京时间对接会",
                                                         "starts_at": "2026-12-20T09:30", "place": "茂名"})
    assert response.status_code == 302
    event_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    with app.app_context():
        event = db.session.get(events.MatchmakingEvent, event_id)
        assert event.starts_at.astimezone(UTC) == datetime(2026, 12, 20, 1, 30, tzinfo=UTC)  # stored in UTC
        me = actor(coordinator)
        events.add_needs(me, event_id, [needs[0].id, needs[2].id], demand=1)
        events.set_pin(me, event_id, needs[0].id, experts[0].expert_id, True)
        events.set_pin(me, event_id, needs[2].id, experts[0].expert_id, True)
    listing = client.get("/coordinator/events").get_data(as_text=True)
    detail = client.get(f"/coordinator/events/{event_id}").get_data(as_text=True)
    schedule = client.get(f"/coordinator/events/{event_id}/schedule").get_data(as_text=True)
    assert "2026-12-20 09:30" in listing and "2026-12-20 09:30" in detail and "UTC+08:00" in detail
    assert "09:30 — " in schedule and "10:00 — " in schedule and "UTC+08:00" in schedule
    for text in (listing, detail, schedule):
        assert "01:30" not in text
