"""Experts discover open needs ranked for them, say they are interested, and the need's
coordinator sees it (gap 1 of issue 12)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
import sqlalchemy as sa

from models import ExpertConflict, Match, NeedInterest, SuggestionImpression, User, db, utcnow, write_transaction
from tests.conftest import csrf_token
from tests.factories import Factory, Ref, UserRef
from web.domain import matches as match_service
from web.domain import needs as need_service
from web.localtime import local_today
from web.matching import ranking
from web.matching.indexing import Indexer

pytestmark = pytest.mark.slow


@dataclass
class World:
    expert: UserRef
    fish_expert: UserRef
    coordinator: UserRef
    owner: UserRef
    spring: Ref
    damper: Ref
    fish: Ref
    anonymous: Ref
    closed: Ref
    withdrawn: Ref
    own_org: Ref
    declared: Ref
    past_deadline: Ref


def build(app, factory: Factory) -> World:
    home = factory.organization(name="华南理工大学机械学院", kind="university")
    rival = factory.organization(name="竞品弹簧厂")
    owner = factory.user(role="enterprise")
    secret = factory.user(role="enterprise", organization=factory.organization(name="保密弹簧有限公司"))
    colleague = factory.user(role="enterprise", organization=home)
    rival_user = factory.user(role="enterprise", organization=rival)
    expert = factory.user(role="expert", name="弹簧专家", organization_id=home.id, keywords=["悬架弹簧", "喷丸强化"])
    factory.achievement(expert, title="悬架弹簧腐蚀疲劳断裂机理与喷丸强化")
    factory.achievement(expert, title="汽车减振器阻尼特性研究")
    fish_expert = factory.user(role="expert", name="水产专家")
    factory.achievement(fish_expert, title="罗非鱼无乳链球菌病灭活疫苗研制")
    with app.app_context(), write_transaction() as session:
        session.add(ExpertConflict(expert_id=expert.expert_id, organization_id=rival.id))
    spring_text = {"description": "悬架弹簧装车两万公里后断裂，断口有锈蚀，怀疑腐蚀疲劳"}
    world = World(
        expert=expert, fish_expert=fish_expert, coordinator=factory.user(role="coordinator"), owner=owner,
        spring=factory.need(owner, title="悬架弹簧跑两万公里就断了", **spring_text),
        damper=factory.need(owner, title="减振器低速异响", description="过减速带时减振器有异响，阻尼不稳"),
        fish=factory.need(owner, title="罗非鱼养殖场链球菌病暴发", description="求疫苗与防控方案"),
        anonymous=factory.need(secret, title="弹簧喷丸强化工艺改进", description="喷丸后弹簧疲劳寿命不达标", anonymous=True),
        closed=factory.need(owner, title="悬架弹簧断裂（已解决）", status="closed", **spring_text),
        withdrawn=factory.need(owner, title="悬架弹簧断裂原因分析", **spring_text),
        own_org=factory.need(colleague, title="悬架弹簧疲劳试验台搭建", **spring_text),
        declared=factory.need(rival_user, title="悬架弹簧腐蚀疲劳寿命提升", **spring_text),
        past_deadline=factory.need(owner, title="悬架弹簧腐蚀断裂失效分析", deadline=local_today_in(app) - timedelta(days=1),
                                   **spring_text),
    )
    with app.app_context():
        need_service.withdraw_need(db.session.get(User, owner.id), world.withdrawn.id)
        Indexer(app.config["INDEX_DIR"], app.config["MATCHER_EMBEDDING_MODEL"]).start()
    return world


def local_today_in(app):
    with app.app_context():
        return local_today()


def login(client, user: UserRef):
    page = client.get("/auth/login")
    response = client.post("/auth/login", data={"email": user.email, "password": Factory.PASSWORD, "csrf_token": csrf_token(page)})
    assert response.status_code == 302


def token(app, user: UserRef) -> dict:
    response = app.test_client().post("/api/v1/auth/login", json={"email": user.email, "password": Factory.PASSWORD})
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


def listed(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<li class="suggestion" id="need-(\d+)"', html)]


@pytest.fixture
def world(app, factory) -> World:
    return build(app, factory)


def test_recommended_needs_come_by_relevance_without_closed_withdrawn_past_or_conflicting_needs(app, client, world):
    login(client, world.expert)
    home = client.get("/expert/profile").get_data(as_text=True)
    assert 'href="/expert/recommended"' in home  # reachable from the expert's navigation
    html = client.get("/expert/recommended").get_data(as_text=True)
    shown = listed(html)
    assert shown[:2] == [world.spring.id, world.anonymous.id] or shown[:2] == [world.anonymous.id, world.spring.id]
    assert shown.index(world.damper.id) < shown.index(world.fish.id)  # he also works on dampers, not on fish
    for hidden in (world.closed, world.withdrawn, world.own_org, world.declared, world.past_deadline):
        assert hidden.id not in shown, hidden.title
    api = client.get("/api/v1/experts/me/recommended-needs", headers=token(app, world.expert)).get_json()["items"]
    assert [item["need"]["id"] for item in api] == shown
    relevances = [item["relevance"] for item in api]
    assert relevances == sorted(relevances, reverse=True)
    top = next(item for item in api if item["need"]["id"] == world.spring.id)
    assert top["band"] in ("strong", "medium") and top["evidence"]["best_item"]["title"] == "悬架弹簧腐蚀疲劳断裂机理与喷丸强化"
    assert "悬架弹簧" in [t["term"] for t in top["evidence"]["matched_terms"]]
    # the page shows the band with the percentage and the closest work
    block = html.split(f'id="need-{world.spring.id}"')[1].split("</li>")[0]
    assert re.search(r"(强匹配|中等匹配) · \d+%", block) and "悬架弹簧腐蚀疲劳断裂机理与喷丸强化" in block.replace("<mark>", "").replace("</mark>", "")


def test_an_anonymous_need_is_recommended_without_its_organisation(app, client, world):
    login(client, world.expert)
    html = client.get("/expert/recommended").get_data(as_text=True)
    block = html.split(f'id="need-{world.anonymous.id}"')[1].split("</li>")[0]
    assert "保密弹簧有限公司" not in html and "匿名企业" in block
    assert "华南" not in block  # nothing else of the enterprise leaks (its contact is never on the page)
    items = client.get("/api/v1/experts/me/recommended-needs", headers=token(app, world.expert)).get_json()["items"]
    anonymous = next(item["need"] for item in items if item["need"]["id"] == world.anonymous.id)
    assert anonymous["organization"] is None and "contacts" not in anonymous
    body = str(items)
    with app.app_context():
        org = db.session.get(User, world.owner.id).organization
        assert org.contact_phone not in body and org.contact_email not in body


def _interest(client, world, need: Ref):
    page = client.get("/expert/recommended")
    return client.post(f"/expert/needs/{need.id}/interest", data={"csrf_token": csrf_token(page)})


def test_interest_reaches_the_coordinators_page_only_and_can_be_withdrawn(app, client, world):
    login(client, world.expert)
    response = _interest(client, world, world.spring)
    assert response.status_code == 302
    html = client.get("/expert/recommended").get_data(as_text=True)
    assert f'id="withdraw-interest-{world.spring.id}"' in html and f'id="interest-{world.spring.id}"' not in html
    assert f'id="interest-row-{world.spring.id}"' in html
    with app.app_context():
        row = db.session.scalar(sa.select(NeedInterest))
        assert (row.need_id, row.expert_id) == (world.spring.id, world.expert.expert_id) and 0 < row.relevance <= 1
    # the coordinator sees it, with a propose button that proposes him
    coordinator = app.test_client()
    login(coordinator, world.coordinator)
    page = coordinator.get(f"/coordinator/needs/{world.spring.id}").get_data(as_text=True)
    interests = page.split('id="interests"')[1].split("</section>")[0]
    assert "弹簧专家" in interests and f'id="propose-interested-{world.expert.expert_id}"' in interests
    assert "弹簧专家" not in coordinator.get(f"/coordinator/needs/{world.damper.id}").get_data(as_text=True).split('id="interests"')[1].split("</section>")[0]
    # other experts and the enterprise do not see who is interested
    other = app.test_client()
    login(other, world.fish_expert)
    assert "弹簧专家" not in other.get("/expert/recommended").get_data(as_text=True)
    assert other.get(f"/coordinator/needs/{world.spring.id}").status_code == 403
    enterprise = app.test_client()
    login(enterprise, world.owner)
    assert "弹簧专家" not in enterprise.get(f"/enterprise/needs/{world.spring.id}").get_data(as_text=True)
    # the expert withdraws: gone from the coordinator's page
    page = client.get("/expert/recommended")
    client.post(f"/expert/needs/{world.spring.id}/interest/withdraw", data={"csrf_token": csrf_token(page)})
    interests = coordinator.get(f"/coordinator/needs/{world.spring.id}").get_data(as_text=True).split('id="interests"')[1].split("</section>")[0]
    assert "弹簧专家" not in interests
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(NeedInterest)) == 0


def test_the_propose_button_proposes_the_interested_expert_who_then_sees_why(app, client, world):
    login(client, world.expert)
    _interest(client, world, world.spring)
    coordinator = app.test_client()
    login(coordinator, world.coordinator)
    page = coordinator.get(f"/coordinator/needs/{world.spring.id}")
    coordinator.post(f"/coordinator/needs/{world.spring.id}/propose",
                     data={"csrf_token": csrf_token(page), "expert_id": str(world.expert.expert_id)})
    with app.app_context():
        match = db.session.scalar(sa.select(Match).where(Match.need_id == world.spring.id))
        assert match is not None and match.expert_id == world.expert.expert_id
        match_id = match.id
    # the proposed need leaves his recommendations (it is on his proposals page now)
    assert world.spring.id not in listed(client.get("/expert/recommended").get_data(as_text=True))
    html = client.get(f"/matches/{match_id}").get_data(as_text=True)
    why = html.split('id="why-suggested"')[1].split("</section>")[0]
    assert re.search(r"(强匹配|中等匹配) · \d+%", why) and "匹配关键词" in why and "<mark>悬架弹簧</mark>" in why
    enterprise = app.test_client()
    login(enterprise, world.owner)
    assert 'id="why-suggested"' not in enterprise.get(f"/matches/{match_id}").get_data(as_text=True)


def test_interest_in_a_need_the_expert_may_not_discover_is_refused_as_missing(app, client, world):
    headers = token(app, world.expert)
    for need in (world.closed, world.withdrawn, world.own_org, world.declared, world.past_deadline):
        response = client.post(f"/api/v1/needs/{need.id}/interest", headers=headers)
        assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found", need.title
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(NeedInterest)) == 0


def test_interest_api_is_idempotent_and_withdrawable(app, client, world):
    headers = token(app, world.expert)
    first = client.post(f"/api/v1/needs/{world.damper.id}/interest", headers=headers)
    again = client.post(f"/api/v1/needs/{world.damper.id}/interest", headers=headers)
    assert (first.status_code, again.status_code) == (201, 200) and first.get_json()["need_id"] == world.damper.id
    items = client.get("/api/v1/experts/me/recommended-needs", headers=headers).get_json()["items"]
    assert [i["interested"] for i in items if i["need"]["id"] == world.damper.id] == [True]
    assert client.delete(f"/api/v1/needs/{world.damper.id}/interest", headers=headers).status_code == 204
    assert client.delete(f"/api/v1/needs/{world.damper.id}/interest", headers=headers).status_code == 204
    items = client.get("/api/v1/experts/me/recommended-needs", headers=headers).get_json()["items"]
    assert [i["interested"] for i in items if i["need"]["id"] == world.damper.id] == [False]


def test_an_interest_is_a_positive_label_for_the_ranker(app, client, world):
    with app.app_context(), write_transaction() as session:
        items = [{"expert_id": e.expert_id, "position": p, "score": 0.5, "features": {"lexical": 0.5}}
                 for p, e in enumerate((world.fish_expert, world.expert), start=1)]
        session.add(SuggestionImpression(need_id=world.spring.id, viewer_id=world.coordinator.id, ranker_version="x",
                                         items=items, shown_at=utcnow() - timedelta(days=3)))
    with app.app_context():
        assert ranking.ranked_lists() == []  # no decision, no interest: nothing to learn
    client.post(f"/api/v1/needs/{world.spring.id}/interest", headers=token(app, world.expert))
    with app.app_context():
        lists = ranking.ranked_lists()
        assert len(lists) == 1 and lists[0].experts == [world.fish_expert.expert_id, world.expert.expert_id]
        assert list(lists[0].labels) == [0.0, ranking.INTEREST_GRADE]
        # a coordinator's decision on the pair wins over the interest
        coordinator = db.session.get(User, world.coordinator.id)
        match, _ = match_service.propose(coordinator, world.spring.id, world.expert.expert_id)
        match_service.respond(db.session.get(User, world.expert.id), match.id, False, reason="not_my_field")
        assert ranking.decision_labels()[(world.spring.id, world.expert.expert_id)][0] == 0.0
