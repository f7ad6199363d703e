"""Contact details never reach the other side before ``connected`` — on any page, in any API
answer, header or URL — and do reach the right party afterwards (coordinators always).

One enterprise and one expert per lifecycle state, each with distinctive contact values, plus
an expert and an enterprise that take part in nothing. Every GET route of the app is walked
with the real ids as each of them, as a coordinator and anonymously.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa

from models import ExpertProfile, User, db, write_transaction
from tests.conftest import csrf_token
from tests.web.pages import links
from web.domain.lifecycle import REVEALED_STATES
from web.formats.exports import EXPORT_KINDS, FORMATS
from web.infra.tokens import issue_token

ACCEPT = {"accept": True}
# How each match reaches its state, step by step: (who, API action, body).
STATES = {
    "proposed": [],
    "expert_accepted": [("expert", "respond", ACCEPT)],
    "enterprise_accepted": [("enterprise", "respond", ACCEPT)],
    "expert_declined": [("expert", "respond", {"accept": False, "reason": "no_capacity"})],
    "enterprise_declined": [("expert", "respond", ACCEPT), ("enterprise", "respond", {"accept": False, "reason": "budget"})],
    "connected": [("expert", "respond", ACCEPT), ("enterprise", "respond", ACCEPT)],
    "contract": [("enterprise", "respond", ACCEPT), ("expert", "respond", ACCEPT), ("expert", "outcome", {"status": "intent"}),
                 ("enterprise", "outcome", {"status": "contract", "amount": 12}),
                 ("expert", "confirmation", {"status": "contract", "confirm": True})],
    "closed_before_connect": [("enterprise", "respond", ACCEPT),
                              ("coordinator", "outcome", {"status": "closed", "reason": "no_response"})],
}
REVEALED = {"connected", "contract"}  # the cases whose contacts are visible to both sides
REVEALED_STATUSES = {status.value for status in REVEALED_STATES}  # the lifecycle table's: contacts visible to both


@dataclass
class Side:
    user: object
    contacts: tuple[str, ...]  # phone, private e-mail, WeChat: shown once connected
    private: tuple[str, ...]  # contacts + account e-mail (+ the anonymous enterprise's name)


@dataclass
class Case:
    state: str
    expert: Side
    enterprise: Side
    org_name: str
    need_id: int
    match_id: int = 0


@dataclass
class World:
    cases: list[Case]
    lone_expert: Side
    lone_enterprise: Side
    lone_need_id: int
    coordinator: object
    admin: object
    tokens: dict[int, dict] = field(default_factory=dict)
    event_id: int = 0

    def every_secret(self) -> set[str]:
        sides = [c.expert for c in self.cases] + [c.enterprise for c in self.cases] + [self.lone_expert, self.lone_enterprise]
        return {s for side in sides for s in side.private}


def _expert(factory, app, n: int, *, phone: str, email: str, wechat: str) -> Side:
    user = factory.user(role="expert", email=f"prof{n}@univ-login.example.cn", name=f"专家{n}号",
                        summary="汽车零部件可靠性与失效分析")  # indexed: his recommended needs are walked too
    with app.app_context(), write_transaction():
        profile = db.session.get(ExpertProfile, user.expert_id)
        profile.phone, profile.email, profile.wechat = phone, email, wechat
    return Side(user, (phone, email, wechat), (phone, email, wechat, user.email))


def _enterprise(factory, n: int, *, name: str, phone: str, email: str, wechat: str) -> Side:
    org = factory.organization(name=name, contact_phone=phone, contact_email=email, contact_wechat=wechat)
    user = factory.user(role="enterprise", organization=org, email=f"boss{n}@corp-login.example.cn")
    return Side(user, (phone, email, wechat), (phone, email, wechat, user.email, name))


def _event(app, coordinator, need_ids: list[int], expert_ids: list[int]) -> int:
    """A matchmaking event holding every need and expert (its pages are walked too)."""
    from web.domain import events

    with app.app_context():
        actor = db.session.get(User, coordinator.id)
        event = events.create_event(actor, {"name": "隐私检查对接会", "starts_at": "2030-05-01 09:00", "place": "茂名"})
        events.add_needs(actor, event.id, need_ids)
        events.invite_experts(actor, event.id, expert_ids)
        return event.id


def _headers(app, user) -> dict:
    with app.app_context():
        return {"Authorization": f"Bearer {issue_token(db.session.get(User, user.id))}"}


def build_world(app, factory, client) -> World:
    coordinator = factory.user(role="coordinator")
    admin = factory.user(role="admin")
    cases = []
    for i, state in enumerate(STATES):
        letter = "abcdefgh"[i]
        expert = _expert(factory, app, i, phone=f"1390000{1234 + i}", email=f"hidden{i}@expert.example.cn",
                         wechat=f"wx_secret_abc_{letter}")
        org_name = f"隐名企业{letter.upper()}号有限公司"
        enterprise = _enterprise(factory, i, name=org_name, phone=f"1370000{5670 + i}", email=f"hidden{i}@corp.example.cn",
                                 wechat=f"wx_corp_secret_{letter}")
        need = factory.need(enterprise.user, title=f"需求-{state}", anonymous=True)
        cases.append(Case(state, expert, enterprise, org_name, need.id))
    lone_expert = _expert(factory, app, 90, phone="13600009090", email="lone@expert.example.cn", wechat="wx_lone_expert")
    lone_enterprise = _enterprise(factory, 91, name="公开企业九十一号", phone="13500009191", email="lone@corp.example.cn",
                                  wechat="wx_lone_corp")
    lone_need = factory.need(lone_enterprise.user, title="公开的需求", anonymous=False)
    world = World(cases, lone_expert, lone_enterprise, lone_need.id, coordinator, admin)
    world.event_id = _event(app, coordinator, [c.need_id for c in cases] + [lone_need.id],
                            [c.expert.user.expert_id for c in cases] + [lone_expert.user.expert_id])
    for user in [coordinator, admin, lone_expert.user, lone_enterprise.user] + [s.user for c in cases for s in (c.expert, c.enterprise)]:
        world.tokens[user.id] = _headers(app, user)

    # Drive every match to its state through the API; no answer leaks before connected.
    for case in cases:
        proposed = client.post("/api/v1/matches", headers=world.tokens[coordinator.id],
                               json={"need_id": case.need_id, "expert_id": case.expert.user.expert_id})
        assert proposed.status_code == 201, proposed.get_json()
        case.match_id = proposed.get_json()["id"]
        for step, (who, action, body) in enumerate(STATES[case.state]):
            actor = {"expert": case.expert, "enterprise": case.enterprise}.get(who)
            user = actor.user if actor else coordinator
            response = client.post(f"/api/v1/matches/{case.match_id}/{action}", headers=world.tokens[user.id], json=body)
            assert response.status_code == 200, (case.state, step, response.get_json())
            if actor is not None:
                other = case.enterprise if who == "expert" else case.expert
                now_revealed = response.get_json()["status"] in REVEALED_STATUSES
                for secret in other.contacts:
                    assert (secret in body_text(response)) == now_revealed, (case.state, step, secret)
        assert client.get(f"/api/v1/matches/{case.match_id}", headers=world.tokens[coordinator.id]).get_json()["status"] == (
            "closed" if case.state == "closed_before_connect" else case.state)
    from web.matching.indexing import Indexer

    with app.app_context():  # suggestions and every expert's recommended needs (open, anonymous ones too)
        Indexer(app.config["INDEX_DIR"], app.config["MATCHER_EMBEDDING_MODEL"]).start()
    return world


# -- who may see what --------------------------------------------------------------------------
def allowed(world: World, viewer: str, case: Case | None) -> set[str]:
    """The private values ``viewer`` may see (everything else in the world is forbidden)."""
    if viewer in ("coordinator", "admin"):
        return world.every_secret()
    if viewer == "anonymous":
        return set()
    # The enterprise of a need posted openly (not anonymously) is named to every expert who
    # discovers the need; its contacts are not.
    public_name = {world.lone_enterprise.private[-1]}
    if viewer == "other_expert":
        return set(world.lone_expert.private) | public_name
    if viewer == "other_enterprise":
        return set(world.lone_enterprise.private)
    assert case is not None
    revealed = case.state in REVEALED
    if viewer == "expert":
        return set(case.expert.private) | (set(case.enterprise.private) if revealed else set()) | public_name
    return set(case.enterprise.private) | (set(case.expert.private) if revealed else set())


def viewers(world: World, kind: str) -> list[tuple[object, Case | None]]:
    if kind == "expert":
        return [(c.expert.user, c) for c in world.cases]
    if kind == "enterprise":
        return [(c.enterprise.user, c) for c in world.cases]
    return [({"other_expert": world.lone_expert.user, "other_enterprise": world.lone_enterprise.user,
              "coordinator": world.coordinator, "admin": world.admin, "anonymous": None}[kind], None)]


def urls(app, world: World) -> list[str]:
    """Every GET route of the app with the real ids (and a few list filters)."""
    pools = {
        "need_id": [c.need_id for c in world.cases] + [world.lone_need_id],
        "match_id": [c.match_id for c in world.cases],
        "expert_id": [c.expert.user.expert_id for c in world.cases] + [world.lone_expert.user.expert_id],
        "token": ["0123456789abcdef0123456789abcdef"],
        "event_id": [world.event_id],
    }
    out = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in ("static", "api.not_found"):
            continue
        arguments = sorted(rule.arguments)
        if arguments == ["fmt", "kind"]:
            combos = [{"kind": k, "fmt": f} for k in EXPORT_KINDS for f in FORMATS]
        else:
            missing = [a for a in arguments if a not in pools]
            assert not missing, f"the privacy walk has no ids for {missing} in {rule.rule}: add them"
            combos = [{}]
            for name in arguments:
                combos = [{**c, name: value} for c in combos for value in pools[name]]
        for values in combos:
            out.append(rule.build(values, append_unknown=False)[1])
    out += ["/matches/?status=open", "/matches/?status=active", "/matches/?status=done", "/api/v1/needs?status=open",
            "/api/v1/matches?limit=500", "/dashboard/export.csv?breakdown=region"]
    return out


def body_text(response) -> str:
    """The response as text a person would read (JSON without \\u escapes, xlsx unzipped)."""
    if response.is_json:
        return json.dumps(response.get_json(), ensure_ascii=False)
    if response.mimetype and "spreadsheetml" in response.mimetype:
        with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
            return "".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())
    return response.get_data(as_text=True)


def sign_in(app, user):
    client = app.test_client()
    if user is None:
        return client
    page = client.get("/auth/login")
    response = client.post("/auth/login", data={"email": user.email, "password": "correct-horse-battery-staple-7",
                                                "csrf_token": csrf_token(page)})
    assert response.status_code == 302
    return client


def fetch_all(app, client, world: World) -> list[tuple[str, object, str]]:
    """(url, response, text) for every GET route, following one redirect hop."""
    seen = []
    for url in urls(app, world):
        response = client.get(url)
        seen.append((url, response, body_text(response)))
        if 300 <= response.status_code < 400 and response.headers.get("Location"):
            target = response.headers["Location"]
            followed = client.get(target)
            seen.append((f"{url} -> {target}", followed, body_text(followed)))
    return seen


def assert_no_leak(world: World, kind: str, user, case: Case | None, seen) -> None:
    forbidden = world.every_secret() - allowed(world, kind, case)
    everything = world.every_secret()
    for url, response, text in seen:
        unavailable = response.status_code == 503 and "/suggestions" in url  # no index in tests
        assert response.status_code < 500 or unavailable, (url, response.status_code)
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        leaked = sorted(s for s in forbidden if s in text or s in headers)
        assert not leaked, f"{kind} {getattr(user, 'email', 'anonymous')} ({case.state if case else '-'}) sees {leaked} at {url}"
        addresses = "\n".join([response.headers.get("Location", ""), *(links(text) if response.mimetype == "text/html" else [])])
        in_urls = sorted(s for s in everything if s in addresses)
        assert not in_urls, f"contact values {in_urls} in a URL of {url}"


# -- the tests -------------------------------------------------------------------------------
VIEWER_KINDS = ["expert", "enterprise", "other_expert", "other_enterprise", "coordinator", "admin", "anonymous"]


@pytest.mark.parametrize("kind", VIEWER_KINDS)
def test_no_response_shows_contacts_to_anyone_who_may_not_see_them(app, client, factory, kind):
    world = build_world(app, factory, client)
    for user, case in viewers(world, kind):
        seen = fetch_all(app, sign_in(app, user), world)
        assert len(seen) > 60
        ok = [url for url, response, _ in seen if response.status_code == 200]
        if kind == "anonymous":
            assert "/" in ok and not any(url.startswith(("/matches/", "/api/v1/matches")) and "->" not in url for url in ok)
        else:
            assert "/matches/" in ok and "/notifications" in ok
        if kind == "other_expert":  # needs he may discover are readable (read-only); the walk checks what they show
            proposed_need = world.cases[0].need_id  # anonymous, open, proposed to another expert
            for need_id in (world.lone_need_id, proposed_need):
                assert f"/expert/needs/{need_id}" in ok and f"/api/v1/needs/{need_id}" in ok, need_id
        assert_no_leak(world, kind, user, case, seen)


@pytest.mark.parametrize("kind", ["expert", "enterprise"])
def test_the_other_side_contacts_appear_once_connected(app, client, factory, kind):
    world = build_world(app, factory, client)
    for case in world.cases:
        me, other = (case.expert, case.enterprise) if kind == "expert" else (case.enterprise, case.expert)
        browser = sign_in(app, me.user)
        page = browser.get(f"/matches/{case.match_id}").get_data(as_text=True)
        api = client.get(f"/api/v1/matches/{case.match_id}", headers=world.tokens[me.user.id]).get_json()
        revealed = case.state in REVEALED
        for secret in other.contacts:
            assert (secret in page) == revealed, (kind, case.state, secret)
        assert ("contacts" in api) == revealed, (kind, case.state)
        if kind == "expert":
            assert (case.org_name in page) == revealed, case.state  # anonymous need: name only once connected
            assert api["need"]["organization"] == (case.org_name if revealed else None)
            if revealed:
                assert api["contacts"]["enterprise"]["phone"] == other.contacts[0]
                assert api["contacts"]["enterprise"]["wechat"] == other.contacts[2]
        else:
            profile = client.get(f"/api/v1/experts/{case.expert.user.expert_id}", headers=world.tokens[me.user.id]).get_json()
            assert ("contacts" in profile) == revealed, case.state
            if revealed:
                assert api["contacts"]["expert"] == dict(zip(("phone", "email", "wechat"), other.contacts, strict=True))
                assert profile["contacts"]["email"] == other.contacts[1]


def test_coordinators_always_see_both_sides_contacts(app, client, factory):
    world = build_world(app, factory, client)
    coordinator = sign_in(app, world.coordinator)
    for case in world.cases:
        page = coordinator.get(f"/matches/{case.match_id}").get_data(as_text=True)
        api = client.get(f"/api/v1/matches/{case.match_id}", headers=world.tokens[world.coordinator.id]).get_json()
        for secret in case.expert.contacts + case.enterprise.contacts:
            assert secret in page, (case.state, secret)
        assert api["contacts"]["expert"]["phone"] == case.expert.contacts[0]
        assert api["contacts"]["enterprise"]["wechat"] == case.enterprise.contacts[2]
        assert api["need"]["organization"] == case.org_name
        expert = client.get(f"/api/v1/experts/{case.expert.user.expert_id}", headers=world.tokens[world.coordinator.id])
        assert expert.get_json()["contacts"]["wechat"] == case.expert.contacts[2]


def test_anonymous_need_hides_the_enterprise_name_from_the_expert_until_connected(app, client, factory):
    enterprise = _enterprise(factory, 70, name="保密的汽车零部件公司", phone="13700007070", email="secret70@corp.example.cn",
                             wechat="wx_corp_70")
    public = _enterprise(factory, 71, name="公开的汽车零部件公司", phone="13700007171", email="secret71@corp.example.cn",
                         wechat="wx_corp_71")
    expert = _expert(factory, app, 72, phone="13900007272", email="x72@expert.example.cn", wechat="wx_x72")
    coordinator = factory.user(role="coordinator")
    headers = {u.id: _headers(app, u) for u in (enterprise.user, public.user, expert.user, coordinator)}
    hidden_need = factory.need(enterprise.user, title="匿名发布的需求", anonymous=True)
    open_need = factory.need(public.user, title="公开发布的需求", anonymous=False)
    match_ids = {}
    for need in (hidden_need, open_need):
        response = client.post("/api/v1/matches", headers=headers[coordinator.id], json={"need_id": need.id,
                                                                                         "expert_id": expert.user.expert_id})
        match_ids[need.id] = response.get_json()["id"]
    browser = sign_in(app, expert.user)

    def expert_sees() -> str:
        pages = [browser.get("/matches/"), browser.get("/notifications"), browser.get("/expert/profile")]
        pages += [browser.get(f"/matches/{m}") for m in match_ids.values()]
        api = [client.get(url, headers=headers[expert.user.id]) for url in (
            "/api/v1/matches", *(f"/api/v1/matches/{m}" for m in match_ids.values()), f"/api/v1/needs/{hidden_need.id}")]
        return "".join(body_text(r) for r in pages + api)

    before = expert_sees()
    assert "保密的汽车零部件公司" not in before
    assert "公开的汽车零部件公司" in before  # a need that is not anonymous shows its enterprise from the start
    assert "匿名发布的需求" in before  # the need itself is shown
    assert "Enterprise name shown once both sides accept" in browser.get(f"/matches/{match_ids[hidden_need.id]}?lang=en").get_data(
        as_text=True)
    with app.app_context():
        mails = db.session.execute(sa.text("SELECT subject || body FROM email_outbox WHERE recipient = :r"),
                                   {"r": expert.user.email}).scalars().all()
    assert mails and not any("保密的汽车零部件公司" in m for m in mails)

    client.post(f"/api/v1/matches/{match_ids[hidden_need.id]}/respond", headers=headers[expert.user.id], json=ACCEPT)
    assert "保密的汽车零部件公司" not in expert_sees()  # one side accepting reveals nothing
    client.post(f"/api/v1/matches/{match_ids[hidden_need.id]}/respond", headers=headers[enterprise.user.id], json=ACCEPT)
    page = browser.get(f"/matches/{match_ids[hidden_need.id]}").get_data(as_text=True)
    assert "保密的汽车零部件公司" in page and "13700007070" in page
    assert client.get(f"/api/v1/matches/{match_ids[hidden_need.id]}",
                      headers=headers[expert.user.id]).get_json()["need"]["organization"] == "保密的汽车零部件公司"
