"""What the merge of issue 12's branches left open around an expert's interest and discovery:
coordinators are told of an interest (in the app and in the digest), the queue counts and
filters interests, the suggestions API hides dismissed experts as the page does, and an expert
reads a need he may discover, read-only, with the anonymity rules."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from models import EmailMessage, NeedInterest, Notification, User, db, write_transaction
from tests.conftest import csrf_token, recorded_statements
from tests.factories import Factory
from web.domain import dismissals
from web.matching.indexing import Indexer


def token(app, user) -> dict:
    response = app.test_client().post("/api/v1/auth/login", json={"email": user.email, "password": Factory.PASSWORD})
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


def sign_in(app, user):
    browser = app.test_client()
    page = browser.get("/auth/login")
    response = browser.post("/auth/login", data={"email": user.email, "password": Factory.PASSWORD, "csrf_token": csrf_token(page)})
    assert response.status_code == 302
    return browser


# -- 1. coordinators are told ----------------------------------------------------------------
def test_an_interest_tells_every_active_coordinator_in_the_app_and_in_the_digest(app, client, runner, factory):
    first, second = factory.user(role="coordinator", name="张协调"), factory.user(role="coordinator", name="Ann")
    factory.user(role="coordinator", status="disabled")
    with app.app_context(), write_transaction() as session:
        session.get(User, second.id).locale = "en"
    owner = factory.user(role="enterprise")
    expert = factory.user(role="expert", name="李教授")
    need = factory.need(owner, title="荔枝保果技术")
    other = factory.need(owner, title="罗非鱼病害")
    assert runner.invoke(args=["mail", "digest"]).exit_code == 0  # the needs themselves are old news now

    headers = token(app, expert)
    assert client.post(f"/api/v1/needs/{need.id}/interest", headers=headers).status_code == 201
    assert client.post(f"/api/v1/needs/{need.id}/interest", headers=headers).status_code == 200  # again: nobody told twice
    assert client.post(f"/api/v1/needs/{other.id}/interest", headers=headers).status_code == 201
    assert client.delete(f"/api/v1/needs/{other.id}/interest", headers=headers).status_code == 204  # withdrawn: no news
    with app.app_context():
        told = sorted((n.user_id, n.need_id) for n in db.session.scalars(sa.select(Notification).where(Notification.kind == "need_interest")))
    assert told == sorted([(first.id, need.id), (second.id, need.id), (first.id, other.id), (second.id, other.id)])

    page = sign_in(app, first).get("/notifications").get_data(as_text=True)
    assert "有专家对一项需求感兴趣" in page and f'href="/coordinator/needs/{need.id}"' in page and "荔枝保果技术" in page
    assert "An expert is interested in a need." in sign_in(app, second).get("/notifications?lang=en").get_data(as_text=True)
    assert "有专家对一项需求感兴趣" not in sign_in(app, expert).get("/notifications").get_data(as_text=True)

    result = runner.invoke(args=["mail", "digest"])
    assert "queued 2 digest(s)" in result.output
    with app.app_context():
        letters = {m.recipient: m for m in db.session.scalars(sa.select(EmailMessage).order_by(EmailMessage.id))}
        db.session.expunge_all()
    chinese, english = letters[first.email], letters[second.email]
    assert "1 条专家感兴趣" in chinese.subject and "对开放需求感兴趣的专家（1）" in chinese.body
    assert "李教授 → 荔枝保果技术" in chinese.body and f"/coordinator/needs/{need.id}" in chinese.body
    assert "罗非鱼病害" not in chinese.body
    assert "Experts interested in open needs (1):" in english.body and "1 expression(s) of interest" in english.subject
    for letter in (chinese, english):  # the expert's name only: none of his contact details
        for secret in expert.contacts.values():
            assert secret not in letter.body and secret not in letter.subject
    assert "queued 0 digest(s)" in runner.invoke(args=["mail", "digest"]).output


# -- 2. the queue counts and filters interests ---------------------------------------------
def shown(response) -> dict[int, str]:
    """need id -> the number in its "interested" cell, in table order."""
    html = response.get_data(as_text=True)
    return {int(i): n for i, n in re.findall(r'<tr data-need="(\d+)">.*?<td class="nowrap interests">(\d+)</td>', html, re.S)}


def interest_raw(app, need_id: int, expert_id: int) -> None:
    with app.app_context(), write_transaction() as session:
        session.add(NeedInterest(need_id=need_id, expert_id=expert_id))


def test_the_queue_shows_interests_and_filters_on_them_in_sql(app, client, auth, factory):
    owner = factory.user(role="enterprise")
    experts = [factory.user(role="expert") for _ in range(2)]
    wanted, single, unwanted = (factory.need(owner, title=t).id for t in ("两人感兴趣", "一人感兴趣", "无人问津"))
    interest_raw(app, wanted, experts[0].expert_id)
    interest_raw(app, wanted, experts[1].expert_id)
    interest_raw(app, single, experts[0].expert_id)
    auth.login_as("coordinator")
    assert shown(client.get("/coordinator/queue")) == {wanted: "2", single: "1", unwanted: "0"}
    assert list(shown(client.get("/coordinator/queue?interest=with"))) == [wanted, single]
    assert list(shown(client.get("/coordinator/queue?interest=without"))) == [unwanted]
    assert list(shown(client.get("/coordinator/queue?interest=with&q=两人"))) == [wanted]
    page = client.get("/coordinator/queue?interest=with").get_data(as_text=True)
    assert '<option value="with" selected>有专家感兴趣</option>' in page
    bad = client.get("/coordinator/queue?interest=maybe")
    assert bad.status_code == 400 and "<code>interest</code>" in bad.get_data(as_text=True)

    def statements() -> int:
        with recorded_statements(app) as seen:
            assert client.get("/coordinator/queue?interest=with").status_code == 200
        return len(seen)

    few = statements()
    assert few > 0  # the recorder sees the page's statements
    for i in range(20):  # more needs with interest: still the same statements
        interest_raw(app, factory.need(owner, title=f"多{i}").id, experts[i % 2].expert_id)
    assert statements() == few


# -- 3 and 4: with an index ----------------------------------------------------------------
@pytest.fixture
def indexed(app, factory):
    open_org = factory.organization(name="公开弹簧厂")
    home = factory.organization(name="华南理工大学机械学院", kind="university")
    colleague = factory.user(role="enterprise", organization=home)
    secret_org = factory.organization(name="保密弹簧有限公司")
    owner, secret = factory.user(role="enterprise", organization=open_org), factory.user(role="enterprise", organization=secret_org)
    experts = {}
    for name, titles in [("弹簧甲", ["悬架弹簧疲劳断裂", "弹簧喷丸强化"]), ("弹簧乙", ["气门弹簧失效分析"]),
                         ("减振丙", ["减振器阻尼阀系"])]:
        experts[name] = factory.user(role="expert", name=name, organization_id=home.id)
        for title in titles:
            factory.achievement(experts[name], title=title)
    needs = {"open": factory.need(owner, title="弹簧断裂", description="悬架弹簧两万公里断裂，疲劳寿命不足"),
             "anonymous": factory.need(secret, title="弹簧喷丸", description="喷丸后弹簧疲劳寿命不达标", anonymous=True),
             "closed": factory.need(owner, title="弹簧断裂（已解决）", status="closed", description="悬架弹簧断裂"),
             "own_org": factory.need(colleague, title="弹簧试验台", description="悬架弹簧疲劳试验台")}  # a hard constraint
    with app.app_context():
        Indexer(app.config["INDEX_DIR"], app.config["MATCHER_EMBEDDING_MODEL"]).start()
    return {"owner": owner, "secret": secret, "experts": experts, "needs": needs}


@pytest.mark.slow
def test_the_suggestions_api_hides_dismissed_experts_unless_asked(app, client, factory, indexed):
    coordinator = factory.user(role="coordinator")
    need = indexed["needs"]["open"].id
    target = indexed["experts"]["弹簧甲"].expert_id
    headers = token(app, coordinator)
    before = [i["expert_id"] for i in client.get(f"/api/v1/needs/{need}/suggestions", headers=headers).get_json()["items"]]
    assert target in before
    with app.app_context():
        dismissals.dismiss(db.session.get(User, coordinator.id), need, target, "too_far")
    hidden = client.get(f"/api/v1/needs/{need}/suggestions", headers=headers).get_json()["items"]
    assert target not in [i["expert_id"] for i in hidden] and all(i["dismissed"] is None for i in hidden)
    assert [i["expert_id"] for i in hidden] == [e for e in before if e != target]  # the same list as the page's
    page = sign_in(app, coordinator).get(f"/coordinator/needs/{need}").get_data(as_text=True)
    assert f'id="suggestion-{target}"' not in page
    for value in ("1", "true"):
        shown = client.get(f"/api/v1/needs/{need}/suggestions?include_dismissed={value}", headers=headers).get_json()["items"]
        entry = next(i for i in shown if i["expert_id"] == target)
        assert entry["dismissed"] == {"reason": "too_far", "note": ""}
    bad = client.get(f"/api/v1/needs/{need}/suggestions?include_dismissed=perhaps", headers=headers)
    assert bad.status_code == 400 and "include_dismissed" in bad.get_json()["error"]["fields"]
    with app.app_context():
        dismissals.restore(db.session.get(User, coordinator.id), need, target)
    assert target in [i["expert_id"] for i in client.get(f"/api/v1/needs/{need}/suggestions", headers=headers).get_json()["items"]]


def test_the_openapi_document_names_the_include_dismissed_parameter(app, client):
    doc = client.get("/api/v1/openapi.json").get_json()
    params = {p["name"]: p for p in doc["paths"]["/needs/{need_id}/suggestions"]["get"]["parameters"]}
    assert set(params) == {"limit", "include_dismissed"} and params["include_dismissed"]["in"] == "query"
    assert "dismissed" in doc["components"]["schemas"]["Suggestion"]["properties"]


@pytest.mark.slow
def test_an_expert_reads_a_need_he_may_discover_read_only_and_anonymous_stays_anonymous(app, client, factory, indexed):
    expert = indexed["experts"]["弹簧甲"]
    headers = token(app, expert)
    needs = indexed["needs"]
    browser = sign_in(app, expert)
    listed = browser.get("/expert/recommended").get_data(as_text=True)
    for key in ("open", "anonymous"):  # the recommended list links to the need's page
        assert f'href="/expert/needs/{needs[key].id}"' in listed

    api = client.get(f"/api/v1/needs/{needs['open'].id}", headers=headers)
    assert api.status_code == 200 and api.get_json()["organization"] == "公开弹簧厂" and "progress" not in api.get_json()
    hidden = client.get(f"/api/v1/needs/{needs['anonymous'].id}", headers=headers).get_json()
    assert hidden["title"] == "弹簧喷丸" and hidden["organization"] is None
    page = browser.get(f"/expert/needs/{needs['anonymous'].id}").get_data(as_text=True)
    assert "弹簧喷丸" in page and "匿名企业" in page and "保密弹簧有限公司" not in page
    assert 'id="interest"' in page
    open_page = browser.get(f"/expert/needs/{needs['open'].id}").get_data(as_text=True)
    assert "公开弹簧厂" in open_page
    everything = page + open_page + api.get_data(as_text=True) + str(hidden)
    for who in (indexed["owner"], indexed["secret"]):
        for secret in who.contacts.values():
            assert secret not in everything
    for key in ("closed", "own_org"):  # not discoverable: as if it did not exist
        assert client.get(f"/api/v1/needs/{needs[key].id}", headers=headers).status_code == 404, key
        assert browser.get(f"/expert/needs/{needs[key].id}").status_code == 404, key
        assert f'href="/expert/needs/{needs[key].id}"' not in listed
    assert browser.get("/expert/needs/999999").status_code == 404

    # interest from the need's page comes back to it
    response = browser.post(f"/expert/needs/{needs['anonymous'].id}/interest", data={"csrf_token": csrf_token(browser.get(
        f"/expert/needs/{needs['anonymous'].id}")), "back": "need"})
    assert response.headers["Location"].endswith(f"/expert/needs/{needs['anonymous'].id}")
    assert 'id="withdraw-interest"' in browser.get(f"/expert/needs/{needs['anonymous'].id}").get_data(as_text=True)
