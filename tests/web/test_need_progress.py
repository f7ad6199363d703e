"""The enterprise sees its need's matches with their states, the need's state follows them,
and a need past intent can no longer be edited or withdrawn (gap 2 of issue 12)."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from models import Match, MatchStatus, Need, NeedStatus, User, db
from tests.conftest import csrf_token
from tests.factories import Factory
from web.domain import matches as match_service
from web.domain import needs as need_service
from web.domain.errors import Conflict


def actor(user_id: int) -> User:
    return db.session.get(User, user_id)


@pytest.fixture
def world(app, factory):
    owner = factory.user(role="enterprise")
    coordinator = factory.user(role="coordinator")
    first = factory.user(role="expert", name="王磊")
    second = factory.user(role="expert", name="李娜")
    need = factory.need(owner, title="减振器异响问题")
    with app.app_context():
        m1, _ = match_service.propose(actor(coordinator.id), need.id, first.expert_id)
        m2, _ = match_service.propose(actor(coordinator.id), need.id, second.expert_id)
        ids = (m1.id, m2.id)
    return {"owner": owner, "coordinator": coordinator, "first": first, "second": second, "need": need, "matches": ids}


def login(client, user):
    page = client.get("/auth/login")
    assert client.post("/auth/login", data={"email": user.email, "password": Factory.PASSWORD,
                                            "csrf_token": csrf_token(page)}).status_code == 302


def page(client, need_id) -> str:
    return client.get(f"/enterprise/needs/{need_id}").get_data(as_text=True)


def stage(html: str) -> str:
    return re.search(r'id="need-progress"[^>]*>([^<]+)<', html).group(1)


def row(html: str, match_id: int) -> str:
    return html.split(f'id="need-match-{match_id}"')[1].split("</tr>")[0]


def advance(app, world, match_id: int, *actions: str) -> None:
    with app.app_context():
        coordinator = actor(world["coordinator"].id)
        match = db.session.get(Match, match_id)
        expert_user = match.expert.user_id
        for step in actions:
            if step == "accept":
                match_service.respond(actor(expert_user), match_id, True)
                match_service.respond(actor(world["owner"].id), match_id, True)
            else:
                match_service.record_outcome(coordinator, match_id, step,
                                             details={"amount": "20"} if step == "contract" else None)


def test_the_need_page_lists_its_matches_with_states_and_the_need_follows_the_furthest(app, client, world):
    login(client, world["owner"])
    m1, m2 = world["matches"]
    html = page(client, world["need"].id)
    assert "王磊" in row(html, m1) and "已推荐对接" in row(html, m1) and "李娜" in row(html, m2)
    assert stage(html) == "进行中"
    assert world["first"].contacts["phone"] not in html and world["first"].contacts["email"] not in html
    advance(app, world, m1, "accept")
    html = page(client, world["need"].id)
    assert "已对接" in row(html, m1) and "已推荐对接" in row(html, m2) and stage(html) == "已对接"
    assert world["first"].contacts["phone"] not in html  # contacts stay on the match page
    advance(app, world, m1, "intent")
    assert stage(page(client, world["need"].id)) == "合作意向"
    advance(app, world, m1, "contract")
    html = page(client, world["need"].id)
    assert stage(html) == "已签约" and "已签约" in row(html, m1)
    with client.session_transaction() as session:
        session["lang"] = "en"
    assert stage(page(client, world["need"].id)) == "Contract signed"


def test_a_need_whose_proposals_all_ended_waits_for_new_ones(app, client, world):
    m1, m2 = world["matches"]
    with app.app_context():
        for match_id in (m1, m2):
            match_service.record_outcome(actor(world["coordinator"].id), match_id, "closed", reason="duplicate")
    login(client, world["owner"])
    assert stage(page(client, world["need"].id)) == "等待推荐专家"


def test_the_api_gives_the_owner_the_stage_and_the_match_states_and_nobody_else(app, client, world):
    m1, m2 = world["matches"]
    advance(app, world, m1, "accept")

    def get(user):
        token = client.post("/api/v1/auth/login", json={"email": user.email, "password": Factory.PASSWORD}).get_json()["token"]
        return client.get(f"/api/v1/needs/{world['need'].id}", headers={"Authorization": f"Bearer {token}"})

    data = get(world["owner"]).get_json()
    assert data["progress"]["stage"] == "connected" and data["progress"]["locked"] is False
    assert {(m["id"], m["status"], m["expert"]["name"]) for m in data["progress"]["matches"]} == {
        (m1, "connected", "王磊"), (m2, "proposed", "李娜")}
    assert "contacts" not in str(data["progress"])
    assert "progress" not in get(world["first"]).get_json()  # the proposed expert reads the need, not its matches


def test_withdrawing_warns_which_matches_will_close(app, client, world):
    m1, m2 = world["matches"]
    advance(app, world, m1, "accept", "intent")
    login(client, world["owner"])
    warning = page(client, world["need"].id).split('id="withdraw-warning"')[1].split("</div>")[0]
    assert "王磊" in warning and "李娜" in warning and "合作意向" in warning
    edit = client.get(f"/enterprise/needs/{world['need'].id}/edit").get_data(as_text=True)
    assert 'id="edit-warning"' in edit
    html = client.get(f"/enterprise/needs/{world['need'].id}")
    client.post(f"/enterprise/needs/{world['need'].id}/withdraw", data={"csrf_token": csrf_token(html)})
    with app.app_context():
        assert db.session.get(Need, world["need"].id).status == NeedStatus.CLOSED
        assert {db.session.get(Match, m).status for m in (m1, m2)} == {MatchStatus.CLOSED}


def test_past_intent_the_need_can_no_longer_be_edited_or_withdrawn(app, client, world):
    m1, m2 = world["matches"]
    advance(app, world, m1, "accept", "intent", "contract")
    login(client, world["owner"])
    html = page(client, world["need"].id)
    assert 'id="need-locked"' in html and 'id="withdraw-form"' not in html and "/edit" not in html
    token = csrf_token(client.get("/matches/"))
    client.post(f"/enterprise/needs/{world['need'].id}/withdraw", data={"csrf_token": token})
    edit = client.get(f"/enterprise/needs/{world['need'].id}/edit")
    assert edit.status_code == 302
    client.post(f"/enterprise/needs/{world['need'].id}/edit", data={"csrf_token": token, "title": "改过的标题"})
    api = app.test_client()  # a bearer client, without the page's session cookie
    api_token = api.post("/api/v1/auth/login", json={"email": world["owner"].email, "password": Factory.PASSWORD}).get_json()["token"]
    patched = api.patch(f"/api/v1/needs/{world['need'].id}", headers={"Authorization": f"Bearer {api_token}"},
                           json={"title": "改过的标题"})
    assert patched.status_code == 409 and patched.get_json()["error"]["code"] == "conflict"
    with app.app_context():
        need = db.session.get(Need, world["need"].id)
        assert need.status != NeedStatus.CLOSED and need.title == "减振器异响问题"
        assert db.session.get(Match, m1).status == MatchStatus.CONTRACT and db.session.get(Match, m2).status == MatchStatus.PROPOSED
        with pytest.raises(Conflict):
            need_service.withdraw_need(actor(world["owner"].id), world["need"].id)
        assert db.session.scalar(sa.select(Need.status).where(Need.id == world["need"].id)) != NeedStatus.CLOSED


def test_a_contract_one_side_recorded_locks_the_need_before_it_is_confirmed(app, client, world):
    """The expert says a contract was signed; until the enterprise confirms or rejects it, the
    enterprise may not withdraw the need (that would close the match and erase the record)."""
    m1, _m2 = world["matches"]
    advance(app, world, m1, "accept", "intent")
    with app.app_context():
        expert_user = actor(world["first"].id)
        match_service.record_outcome(expert_user, m1, "contract", details={"amount": "12"})
        assert db.session.get(Match, m1).status == MatchStatus.CONTRACT_BY_EXPERT
        with pytest.raises(Conflict):
            need_service.withdraw_need(actor(world["owner"].id), world["need"].id)
        assert db.session.get(Match, m1).status == MatchStatus.CONTRACT_BY_EXPERT
    login(client, world["owner"])
    html = page(client, world["need"].id)
    assert 'id="need-locked"' in html and 'id="withdraw-form"' not in html
