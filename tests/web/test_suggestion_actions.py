"""A need's suggestion list for the coordinator: dismiss with a reason (hidden, reversible, a
negative label for the ranker), search any expert and propose him, links to expert pages."""

from __future__ import annotations

import re
from datetime import timedelta

import numpy as np
import pytest
import sqlalchemy as sa

from models import Match, MatchStatus, SuggestionDismissal, SuggestionImpression, User, db, utcnow, write_transaction
from tests.conftest import csrf_token
from web.domain import dismissals
from web.domain.errors import ValidationError
from web.matching import ranking
from web.matching.indexing import Indexer

pytestmark = pytest.mark.slow


def world(factory, app):
    enterprise = factory.user(role="enterprise")
    experts = {}
    for name, titles in [("弹簧甲", ["悬架弹簧疲劳断裂", "弹簧喷丸强化"]), ("弹簧乙", ["气门弹簧失效分析"]),
                         ("减振丙", ["减振器阻尼阀系"]), ("钛丁", ["钛合金锻造"])]:
        expert = factory.user(role="expert", name=name)
        for title in titles:
            factory.achievement(expert, title=title)
        experts[name] = expert
    need = factory.need(enterprise, title="弹簧断裂", description="悬架弹簧两万公里断裂，疲劳寿命不足")
    with app.app_context():
        Indexer(app.config["INDEX_DIR"], app.config["MATCHER_EMBEDDING_MODEL"]).start()
    return need, experts


def cards(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<li class="suggestion[^"]*" id="suggestion-(\d+)"', html)]


def test_a_dismissed_suggestion_is_hidden_can_be_shown_and_restored(app, client, auth, factory):
    need, experts = world(factory, app)
    target = experts["弹簧甲"].expert_id
    auth.login_as("coordinator")
    page = client.get(f"/coordinator/needs/{need.id}")
    assert target in cards(page.get_data(as_text=True))
    assert f'href="/coordinator/experts/{target}"' in page.get_data(as_text=True)  # names link to profiles
    assert 'id="action-bar"' in page.get_data(as_text=True)
    response = client.post(f"/coordinator/needs/{need.id}/dismiss",
                           data={"csrf_token": csrf_token(page), "expert_id": target, "reason": "too_far", "note": "在外省"})
    assert response.status_code == 302
    after = client.get(f"/coordinator/needs/{need.id}").get_data(as_text=True)
    assert target not in cards(after) and cards(after)  # the others stay
    assert "已隐藏 1 条排除的推荐" in after and f'id="dismissed-{target}"' not in after
    listed = client.get(f"/coordinator/needs/{need.id}?dismissed=1").get_data(as_text=True)
    row = listed.split(f'id="dismissed-{target}"')[1].split("</li>")[0]
    assert "弹簧甲" in row and "距离太远" in row and "在外省" in row
    client.post(f"/coordinator/needs/{need.id}/restore", data={"csrf_token": csrf_token(page), "expert_id": target})
    back = client.get(f"/coordinator/needs/{need.id}").get_data(as_text=True)
    assert target in cards(back) and 'id="dismissed"' not in back
    with app.app_context():
        row = db.session.scalar(sa.select(SuggestionDismissal))
        assert row.restored_at is not None and row.reason_code == "too_far"  # history kept, no longer standing
        assert dismissals.dismissed_for(need.id) == {}


def test_a_dismissal_needs_a_reason_from_the_list_and_other_needs_a_note(app, client, auth, factory):
    owner, expert = factory.user(role="enterprise"), factory.user(role="expert")
    need = factory.need(owner)
    coordinator = factory.user(role="coordinator")
    with app.app_context():
        me = db.session.get(User, coordinator.id)
        for reason, note, field in [("", "", "reason"), ("because", "", "reason"), ("other", "  ", "note"),
                                    ("other", "x" * 1001, "note")]:
            with pytest.raises(ValidationError) as caught:
                dismissals.dismiss(me, need.id, expert.expert_id, reason, note)
            assert field in caught.value.fields
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SuggestionDismissal)) == 0
        dismissals.dismiss(me, need.id, expert.expert_id, "other", "已退休")
        dismissals.dismiss(me, need.id, expert.expert_id, "unavailable")  # again: one row, the new reason
        rows = db.session.scalars(sa.select(SuggestionDismissal)).all()
        assert [(r.reason_code, r.note) for r in rows] == [("unavailable", "")]
    auth.login(coordinator)
    page = client.get(f"/coordinator/needs/{need.id}")
    response = client.post(f"/coordinator/needs/{need.id}/dismiss", data={
        "csrf_token": csrf_token(page), "expert_id": expert.expert_id, "reason": "other"}, follow_redirects=True)
    assert "原因选“其他”时请说明" in response.get_data(as_text=True)


def test_a_proposed_expert_is_not_dismissed(app, factory):
    owner, expert, coordinator = factory.user(role="enterprise"), factory.user(role="expert"), factory.user(role="coordinator")
    need = factory.need(owner)
    with app.app_context():
        me = db.session.get(User, coordinator.id)
        from web.domain import matches

        matches.propose(me, need.id, expert.expert_id)
        with pytest.raises(Exception, match="already proposed"):
            dismissals.dismiss(me, need.id, expert.expert_id, "not_relevant")


@pytest.mark.parametrize("role", ["enterprise", "expert"])
def test_only_coordinators_dismiss_and_restore(app, client, auth, factory, role):
    owner, expert = factory.user(role="enterprise"), factory.user(role="expert")
    need = factory.need(owner)
    auth.login_as(role)
    token = csrf_token(client.get("/auth/password"))
    for action in ("dismiss", "restore"):
        response = client.post(f"/coordinator/needs/{need.id}/{action}",
                               data={"csrf_token": token, "expert_id": expert.expert_id, "reason": "too_far"})
        assert response.status_code == 403
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SuggestionDismissal)) == 0
        with pytest.raises(Exception, match="only coordinators"):
            dismissals.dismiss(db.session.get(User, owner.id), need.id, expert.expert_id, "too_far")


def test_the_coordinator_searches_any_expert_and_proposes_him(app, client, auth, factory):
    need, experts = world(factory, app)
    titanium = experts["钛丁"].expert_id
    auth.login_as("coordinator")
    page = client.get(f"/coordinator/needs/{need.id}?find=钛丁")
    text = page.get_data(as_text=True)
    found = text.split('id="found"')[1].split("</ol>")[0]
    assert f'id="found-{titanium}"' in found and f'name="expert_id" value="{titanium}"' in found
    by_topic = client.get(f"/coordinator/needs/{need.id}?find=阻尼阀").get_data(as_text=True).split('id="found"')[1]
    assert f'id="found-{experts["减振丙"].expert_id}"' in by_topic.split("</ol>")[0]
    none = client.get(f"/coordinator/needs/{need.id}?find=量子计算").get_data(as_text=True)
    assert 'id="found-none"' in none
    response = client.post(f"/coordinator/needs/{need.id}/propose",
                           data={"csrf_token": csrf_token(page), "expert_id": titanium, "find": "钛丁"})
    assert response.status_code == 302 and "find=" in response.headers["Location"]
    with app.app_context():
        match = db.session.scalar(sa.select(Match).where(Match.need_id == need.id, Match.expert_id == titanium))
        assert match is not None and match.status == MatchStatus.PROPOSED and match.proposed_by_id is not None
    again = client.get(f"/coordinator/needs/{need.id}?find=钛丁").get_data(as_text=True).split('id="found"')[1].split("</ol>")[0]
    assert "status-proposed" in again and f'value="{titanium}"' not in again


# -- the ranker learns from dismissals ---------------------------------------------------------
FAR = {"lexical": 0.9, "region": 0.0, "capacity": 1.0, "recency": 0.5}
NEAR = {"lexical": 0.5, "region": 1.0, "capacity": 1.0, "recency": 0.5}


def _impressions_with_dismissals(app, factory, lists: int = 16):
    """Impressions of two experts each; the coordinator proposes nobody but dismisses the
    text-heavy, far-away one as "too far" every time."""
    enterprise, coordinator = factory.user(role="enterprise"), factory.user(role="coordinator")
    a, b = factory.user(role="expert"), factory.user(role="expert")
    needs = [factory.need(enterprise, title=f"需求{i}") for i in range(lists)]
    with app.app_context():
        with write_transaction() as session:
            for i, need in enumerate(needs):
                far, near = (a, b) if i % 2 else (b, a)
                session.add(SuggestionImpression(
                    need_id=need.id, viewer_id=coordinator.id, ranker_version="weighted-sum-v2",
                    shown_at=utcnow() - timedelta(days=lists - i, minutes=5),
                    items=[{"expert_id": far.expert_id, "position": 1, "score": 0.8, "features": FAR},
                           {"expert_id": near.expert_id, "position": 2, "score": 0.5, "features": NEAR}]))
        me = db.session.get(User, coordinator.id)
        farthest = []
        for i, need in enumerate(needs):
            far = a if i % 2 else b
            dismissals.dismiss(me, need.id, far.expert_id, "too_far")
            farthest.append((need.id, far.expert_id))
    return coordinator, farthest


def test_a_dismissal_is_a_negative_label_and_restoring_withdraws_it(app, factory):
    coordinator, pairs = _impressions_with_dismissals(app, factory, lists=2)
    with app.app_context():
        me = db.session.get(User, coordinator.id)
        labels = ranking.decision_labels()
        assert all(labels[pair][0] == ranking.DISMISSED for pair in pairs)
        lists = ranking.ranked_lists()
        assert len(lists) == 2  # without a proposal, a list with a dismissal still teaches something
        assert all(sorted(r.labels.tolist()) == [ranking.DISMISSED, 0.0] for r in lists)
        dismissals.restore(me, *pairs[0])
        assert pairs[0] not in ranking.decision_labels() and len(ranking.ranked_lists()) == 1


def test_training_learns_from_dismissals_alone(app, factory):
    _impressions_with_dismissals(app, factory)
    with app.app_context():
        report = ranking.train(min_decisions=10)
        assert report.decisions == 16
        assert report.activated and report.ndcg_learned > report.ndcg_current, report.message
        assert report.weights["region"] > report.weights["lexical"]


def test_ndcg_with_dismissals_runs_from_worst_to_ideal_order():
    labels = np.array([0.0, ranking.DISMISSED, 0.0])
    assert ranking.ndcg_at(np.array([3.0, 1.0, 2.0]), labels) == pytest.approx(1.0)
    assert ranking.ndcg_at(np.array([1.0, 3.0, 2.0]), labels) == pytest.approx(0.0)
    middle = ranking.ndcg_at(np.array([1.0, 2.0, 3.0]), labels)
    assert 0.0 < middle < 1.0
    plain = np.array([2.0, 0.0, 1.0])  # no negative label: the classic formula
    assert ranking.ndcg_at(np.array([3.0, 1.0, 2.0]), plain) == pytest.approx(1.0)
    assert ranking.ndcg_at(np.array([1.0, 3.0, 2.0]), plain) == pytest.approx((1 / np.log2(3)) / (3 + 1 / np.log2(3)) + 3 / np.log2(4) / (3 + 1 / np.log2(3)))
