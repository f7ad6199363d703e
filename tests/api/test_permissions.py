"""Every API endpoint × every role, including IDOR: another enterprise's or expert's ids.

Two enterprises (A and B) each have a need with a proposal to their own expert (A and B).
Each caller gets the answer its role and its links allow — and a refused write changes
nothing in the database (no row, no notification, no e-mail, no outbox entry).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from models import AccountStatus, Achievement, ExpertProfile, Match, Need, NeedInterest, NeedStatus, User, db, write_transaction
from web.api.openapi import document
from web.domain import matches as match_service
from web.infra.tokens import issue_token

ROLES = ["anonymous", "enterprise", "other_enterprise", "expert", "other_expert", "coordinator", "admin"]
ERROR_CODES = {400: "validation_error", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               409: "illegal_transition", 503: "index_not_ready"}


@dataclass
class World:
    users: dict  # role -> UserRef (no "anonymous")
    need_a: int
    need_b: int
    match_a: int
    match_b: int
    achievement_a: int
    achievement_b: int
    headers: dict  # role -> request headers


def build_world(app, factory) -> World:
    users = {
        "enterprise": factory.user(role="enterprise"),
        "other_enterprise": factory.user(role="enterprise"),
        "expert": factory.user(role="expert"),
        "other_expert": factory.user(role="expert"),
        "coordinator": factory.user(role="coordinator"),
        "admin": factory.user(role="admin"),
    }
    need_a = factory.need(users["enterprise"], title="A的需求").id
    need_b = factory.need(users["other_enterprise"], title="B的需求").id
    achievement_a = factory.achievement(users["expert"], title="A的成果").id
    achievement_b = factory.achievement(users["other_expert"], title="B的成果").id
    with app.app_context():
        coordinator = db.session.get(User, users["coordinator"].id)
        match_a = match_service.propose(coordinator, need_a, users["expert"].expert_id)[0].id
        match_b = match_service.propose(coordinator, need_b, users["other_expert"].expert_id)[0].id
        headers = {role: {"Authorization": f"Bearer {issue_token(db.session.get(User, u.id))}"} for role, u in users.items()}
    headers["anonymous"] = {}
    return World(users, need_a, need_b, match_a, match_b, achievement_a, achievement_b, headers)


def snapshot(app) -> dict[str, list[str]]:
    """Every row of every table."""
    with app.app_context():
        return {table.name: sorted(repr(tuple(row)) for row in db.session.execute(sa.select(table)))
                for table in db.metadata.sorted_tables}


def query(app, fn: Callable):
    with app.app_context():
        return fn()


# -- what each role gets, endpoint by endpoint ------------------------------------------------
@dataclass
class Endpoint:
    method: str
    rule: str  # as in the URL map
    path: Callable[[World], str]
    expected: dict[str, int]
    body: Callable[[World], dict] | None = None
    check: Callable | None = None  # (app, world, role, response) -> None, for answers < 400
    codes: dict[int, str] | None = None  # error codes other than ERROR_CODES' for this endpoint


def _all(status: int, **overrides) -> dict[str, int]:
    return {role: overrides.get(role, status) for role in ROLES}


def _titles(response) -> list[str]:
    return sorted(item["title"] for item in response.get_json()["items"])


def check_list_needs(app, w, role, r):
    assert _titles(r) == {"enterprise": ["A的需求"], "other_enterprise": ["B的需求"]}.get(role, ["A的需求", "B的需求"])


def check_create_need(app, w, role, r):
    need = query(app, lambda: db.session.get(Need, r.get_json()["id"]))
    assert need.title == "新的需求" and need.organization_id == w.users[role].organization_id


def check_get_need(app, w, role, r):
    assert r.get_json()["id"] == w.need_a and r.get_json()["title"] == "A的需求"
    progress = r.get_json().get("progress")  # the need's owner and staff see its matches' states
    assert (progress is not None) == (role in ("enterprise", "coordinator", "admin"))
    if progress is not None:
        assert progress["stage"] == "in_progress" and [m["id"] for m in progress["matches"]] == [w.match_a]


def interests(app) -> list[tuple[int, int]]:
    return query(app, lambda: sorted(tuple(row) for row in db.session.execute(sa.select(NeedInterest.need_id, NeedInterest.expert_id))))


def check_express_interest(app, w, role, r):
    assert r.get_json()["need_id"] == w.need_b and interests(app) == [(w.need_b, w.users[role].expert_id)]


def check_withdraw_interest(app, w, role, r):
    assert interests(app) == []


def check_patch_need(app, w, role, r):
    assert r.get_json()["title"] == "改过的标题"
    assert query(app, lambda: db.session.get(Need, w.need_a).title) == "改过的标题"


def check_my_profile(app, w, role, r):
    assert r.get_json()["id"] == w.users[role].expert_id and r.get_json()["contacts"] == w.users[role].contacts


def check_patch_profile(app, w, role, r):
    keywords = query(app, lambda: {p.id: p.keywords for p in db.session.scalars(sa.select(ExpertProfile))})
    assert keywords[w.users[role].expert_id] == ["新关键词"]
    assert [k for i, k in keywords.items() if i != w.users[role].expert_id] == [[]]  # the other expert: untouched


def check_add_achievement(app, w, role, r):
    owner = query(app, lambda: db.session.get(Achievement, r.get_json()["id"]).expert_id)
    assert owner == w.users[role].expert_id


def check_delete_achievement(app, w, role, r):
    assert query(app, lambda: db.session.get(Achievement, w.achievement_a)) is None
    assert query(app, lambda: db.session.get(Achievement, w.achievement_b)) is not None


def check_get_expert(app, w, role, r):
    data = r.get_json()
    assert data["id"] == w.users["expert"].expert_id
    # contacts: the expert and staff; the linked enterprise only once connected (it is only proposed)
    assert ("contacts" in data) == (role in ("expert", "coordinator", "admin"))
    if "contacts" in data:
        assert data["contacts"] == w.users["expert"].contacts


def check_list_matches(app, w, role, r):
    ids = sorted(m["id"] for m in r.get_json()["items"])
    mine = {"enterprise": [w.match_a], "expert": [w.match_a], "other_enterprise": [w.match_b], "other_expert": [w.match_b]}
    assert ids == mine.get(role, sorted([w.match_a, w.match_b]))


def check_propose(app, w, role, r):
    assert r.get_json()["status"] == "proposed" and r.get_json()["expert_id"] == w.users["other_expert"].expert_id
    assert query(app, lambda: db.session.scalar(sa.select(sa.func.count()).select_from(Match))) == 3


def check_get_match(app, w, role, r):
    assert r.get_json()["id"] == w.match_a and r.get_json()["status"] == "proposed"
    assert ("contacts" in r.get_json()) == (role in ("coordinator", "admin"))


def check_respond(app, w, role, r):
    expected = {"enterprise": "enterprise_accepted", "expert": "expert_accepted"}[role]
    assert r.get_json()["status"] == expected
    assert query(app, lambda: db.session.get(Match, w.match_a).status.value) == expected


def check_close(app, w, role, r):
    assert r.get_json()["status"] == "closed" and r.get_json()["closed_reason"] == "duplicate"
    assert query(app, lambda: db.session.get(Match, w.match_a).status.value) == "closed"
    assert query(app, lambda: db.session.get(Match, w.match_b).status.value) == "proposed"


def check_stats(app, w, role, r):
    assert "summary" in r.get_json() and "funnel" in r.get_json()


def check_openapi(app, w, role, r):
    assert "/matches/{match_id}/respond" in r.get_json()["paths"]


def check_logout(app, w, role, r):
    assert app.test_client().get("/api/v1/matches", headers=w.headers[role]).status_code == 401


ENDPOINTS = {
    "openapi": Endpoint("GET", "/api/v1/openapi.json", lambda w: "/api/v1/openapi.json", _all(200), check=check_openapi),
    "login_wrong_password": Endpoint("POST", "/api/v1/auth/login", lambda w: "/api/v1/auth/login", _all(401),
                                     body=lambda w: {"email": w.users["enterprise"].email, "password": "not-the-password-1"}),
    "logout": Endpoint("POST", "/api/v1/auth/logout", lambda w: "/api/v1/auth/logout", _all(204, anonymous=401),
                       check=check_logout),
    "list_needs": Endpoint("GET", "/api/v1/needs", lambda w: "/api/v1/needs",
                           _all(200, anonymous=401, expert=403, other_expert=403), check=check_list_needs),
    "create_need": Endpoint("POST", "/api/v1/needs", lambda w: "/api/v1/needs",
                            _all(403, anonymous=401, enterprise=201, other_enterprise=201),
                            body=lambda w: {"title": "新的需求"}, check=check_create_need),
    "get_need": Endpoint("GET", "/api/v1/needs/<int:need_id>", lambda w: f"/api/v1/needs/{w.need_a}",
                         _all(200, anonymous=401, other_enterprise=404), check=check_get_need),  # B's expert may discover it
    "patch_need": Endpoint("PATCH", "/api/v1/needs/<int:need_id>", lambda w: f"/api/v1/needs/{w.need_a}",
                           _all(403, anonymous=401, enterprise=200, other_enterprise=404),
                           body=lambda w: {"title": "改过的标题"}, check=check_patch_need),
    "express_interest": Endpoint("POST", "/api/v1/needs/<int:need_id>/interest", lambda w: f"/api/v1/needs/{w.need_b}/interest",
                                 _all(403, anonymous=401, expert=201, other_expert=409), check=check_express_interest,
                                 codes={409: "conflict"}),  # B's expert is already proposed for it
    "withdraw_interest": Endpoint("DELETE", "/api/v1/needs/<int:need_id>/interest", lambda w: f"/api/v1/needs/{w.need_b}/interest",
                                  _all(403, anonymous=401, expert=204, other_expert=204), check=check_withdraw_interest),
    "recommended_needs": Endpoint("GET", "/api/v1/experts/me/recommended-needs", lambda w: "/api/v1/experts/me/recommended-needs",
                                  _all(403, anonymous=401, expert=503, other_expert=503)),  # no index in this world
    "suggestions": Endpoint("GET", "/api/v1/needs/<int:need_id>/suggestions", lambda w: f"/api/v1/needs/{w.need_a}/suggestions",
                            _all(403, anonymous=401, coordinator=503, admin=503)),
    "my_profile": Endpoint("GET", "/api/v1/experts/me", lambda w: "/api/v1/experts/me",
                           _all(403, anonymous=401, expert=200, other_expert=200), check=check_my_profile),
    "patch_my_profile": Endpoint("PATCH", "/api/v1/experts/me", lambda w: "/api/v1/experts/me",
                                 _all(403, anonymous=401, expert=200, other_expert=200),
                                 body=lambda w: {"keywords": ["新关键词"]}, check=check_patch_profile),
    "add_achievement": Endpoint("POST", "/api/v1/experts/me/achievements", lambda w: "/api/v1/experts/me/achievements",
                                _all(403, anonymous=401, expert=201, other_expert=201),
                                body=lambda w: {"kind": "paper", "title": "新成果"}, check=check_add_achievement),
    "delete_achievement": Endpoint("DELETE", "/api/v1/experts/me/achievements/<int:achievement_id>",
                                   lambda w: f"/api/v1/experts/me/achievements/{w.achievement_a}",
                                   _all(403, anonymous=401, expert=204, other_expert=404), check=check_delete_achievement),
    "get_expert": Endpoint("GET", "/api/v1/experts/<int:expert_id>", lambda w: f"/api/v1/experts/{w.users['expert'].expert_id}",
                           _all(200, anonymous=401, other_enterprise=404, other_expert=404), check=check_get_expert),
    "list_matches": Endpoint("GET", "/api/v1/matches", lambda w: "/api/v1/matches", _all(200, anonymous=401),
                             check=check_list_matches),
    "propose": Endpoint("POST", "/api/v1/matches", lambda w: "/api/v1/matches", _all(403, anonymous=401, coordinator=201, admin=201),
                        body=lambda w: {"need_id": w.need_a, "expert_id": w.users["other_expert"].expert_id},
                        check=check_propose),
    "get_match": Endpoint("GET", "/api/v1/matches/<int:match_id>", lambda w: f"/api/v1/matches/{w.match_a}",
                          _all(200, anonymous=401, other_enterprise=404, other_expert=404), check=check_get_match),
    "respond": Endpoint("POST", "/api/v1/matches/<int:match_id>/respond", lambda w: f"/api/v1/matches/{w.match_a}/respond",
                        _all(403, anonymous=401, enterprise=200, expert=200, other_enterprise=404, other_expert=404),
                        body=lambda w: {"accept": True}, check=check_respond),
    "close": Endpoint("POST", "/api/v1/matches/<int:match_id>/outcome", lambda w: f"/api/v1/matches/{w.match_a}/outcome",
                      _all(403, anonymous=401, coordinator=200, admin=200, other_enterprise=404, other_expert=404),
                      body=lambda w: {"status": "closed", "reason": "duplicate"}, check=check_close),
    "intent_too_early": Endpoint("POST", "/api/v1/matches/<int:match_id>/outcome", lambda w: f"/api/v1/matches/{w.match_a}/outcome",
                                 _all(409, anonymous=401, other_enterprise=404, other_expert=404),
                                 body=lambda w: {"status": "intent"}),
    "confirm_too_early": Endpoint("POST", "/api/v1/matches/<int:match_id>/confirmation",
                                  lambda w: f"/api/v1/matches/{w.match_a}/confirmation",
                                  _all(409, anonymous=401, other_enterprise=404, other_expert=404),
                                  body=lambda w: {"status": "contract", "confirm": True}),
    "stats": Endpoint("GET", "/api/v1/stats", lambda w: "/api/v1/stats", _all(403, anonymous=401, coordinator=200, admin=200),
                      check=check_stats),
    "unknown": Endpoint("GET", "/api/v1/<path:unknown>", lambda w: "/api/v1/no-such-thing", _all(404)),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_endpoint_answers_each_role(app, client, factory, name, role):
    endpoint = ENDPOINTS[name]
    world = build_world(app, factory)
    before = snapshot(app)
    kwargs = {"headers": world.headers[role]}
    if endpoint.body is not None:
        kwargs["json"] = endpoint.body(world)
    response = client.open(endpoint.path(world), method=endpoint.method, **kwargs)
    expected = endpoint.expected[role]
    assert response.status_code == expected, (name, role, response.get_data(as_text=True)[:300])
    if expected >= 400:
        error = response.get_json()["error"]
        assert error["code"] == (endpoint.codes or {}).get(expected, ERROR_CODES[expected])
        assert isinstance(error["message"], str) and error["message"]
        assert "Set-Cookie" not in response.headers
        assert snapshot(app) == before, f"{role} was refused {name} but the database changed"
    elif endpoint.check is not None:
        endpoint.check(app, world, role, response)
    if endpoint.method == "GET":
        assert snapshot(app) == before, f"GET {name} changed the database"


def test_the_table_covers_every_api_endpoint(app):
    served = {(method, rule.rule) for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    served -= {(m, "/api/v1/<path:unknown>") for m in ("POST", "PUT", "PATCH", "DELETE")}
    covered = {(e.method, e.rule) for e in ENDPOINTS.values()}
    assert served == covered


def test_the_openapi_document_lists_every_endpoint(app):
    with app.test_request_context():
        doc = document()
    documented = {(method.upper(), "/api/v1" + path.replace("{", "<int:").replace("}", ">"))
                  for path, item in doc["paths"].items() for method in item if method in ("get", "post", "patch", "delete")}
    covered = {(e.method, e.rule) for e in ENDPOINTS.values()} - {("GET", "/api/v1/<path:unknown>"),
                                                                  ("GET", "/api/v1/openapi.json")}
    assert documented == covered


# -- IDOR, named -----------------------------------------------------------------------------
def test_another_enterprises_need_and_match_look_like_they_do_not_exist(app, client, factory):
    w = build_world(app, factory)
    b = w.headers["other_enterprise"]
    for real, missing in ((f"/api/v1/needs/{w.need_a}", "/api/v1/needs/999999"),
                          (f"/api/v1/matches/{w.match_a}", "/api/v1/matches/999999")):
        seen, absent = client.get(real, headers=b), client.get(missing, headers=b)
        assert seen.status_code == absent.status_code == 404
        strip = str(real.rsplit("/", 1)[1])
        assert seen.get_json()["error"]["message"].replace(strip, "N") == absent.get_json()["error"]["message"].replace("999999", "N")
        assert "A的需求" not in seen.get_data(as_text=True)
    before = snapshot(app)
    assert client.patch(f"/api/v1/needs/{w.need_a}", headers=b, json={"title": "被篡改"}).status_code == 404
    assert client.post(f"/api/v1/matches/{w.match_a}/respond", headers=b, json={"accept": False, "reason": "budget"}).status_code == 404
    assert client.post(f"/api/v1/matches/{w.match_a}/outcome", headers=b, json={"status": "closed", "reason": "duplicate"}).status_code == 404
    assert snapshot(app) == before
    assert client.get(f"/api/v1/needs/{w.need_a}", headers=w.headers["enterprise"]).get_json()["title"] == "A的需求"


def test_expert_reads_another_expert_only_through_nothing(app, client, factory):
    w = build_world(app, factory)
    b = w.headers["other_expert"]
    assert client.get(f"/api/v1/experts/{w.users['expert'].expert_id}", headers=b).status_code == 404
    discovered = client.get(f"/api/v1/needs/{w.need_a}", headers=b)  # open, no constraint: B may discover it, read-only
    assert discovered.status_code == 200 and "progress" not in discovered.get_json()
    with app.app_context(), write_transaction():
        db.session.get(Need, w.need_a).status = NeedStatus.CLOSED
    assert client.get(f"/api/v1/needs/{w.need_a}", headers=b).status_code == 404  # closed and not proposed to B
    assert client.get(f"/api/v1/needs/{w.need_b}", headers=b).get_json()["title"] == "B的需求"  # proposed to B
    before = snapshot(app)
    assert client.post(f"/api/v1/matches/{w.match_a}/respond", headers=b, json={"accept": True}).status_code == 404
    assert client.delete(f"/api/v1/experts/me/achievements/{w.achievement_a}", headers=b).status_code == 404
    assert snapshot(app) == before
    assert client.get("/api/v1/needs", headers=b).status_code == 403


def test_enterprise_reads_an_expert_only_once_proposed_to_it(app, client, factory):
    w = build_world(app, factory)
    a, b = w.headers["enterprise"], w.headers["other_enterprise"]
    other_expert = w.users["other_expert"].expert_id
    assert client.get(f"/api/v1/experts/{other_expert}", headers=a).status_code == 404
    assert client.get(f"/api/v1/experts/{other_expert}", headers=b).get_json()["id"] == other_expert
    client.post("/api/v1/matches", headers=w.headers["coordinator"], json={"need_id": w.need_a, "expert_id": other_expert})
    linked = client.get(f"/api/v1/experts/{other_expert}", headers=a)
    assert linked.status_code == 200 and "contacts" not in linked.get_json()


@pytest.mark.parametrize("status", ["pending", "disabled"])
def test_a_token_stops_working_when_the_account_is_not_active(app, client, factory, status):
    w = build_world(app, factory)
    assert client.get("/api/v1/matches", headers=w.headers["expert"]).status_code == 200
    with app.app_context(), write_transaction():
        db.session.get(User, w.users["expert"].id).status = AccountStatus(status)
    response = client.get("/api/v1/matches", headers=w.headers["expert"])
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthorized"
    before = snapshot(app)
    assert client.post(f"/api/v1/matches/{w.match_a}/respond", headers=w.headers["expert"], json={"accept": True}).status_code == 401
    assert snapshot(app) == before


def test_anonymous_callers_get_a_json_401_everywhere(app, client, factory):
    w = build_world(app, factory)
    before = snapshot(app)
    for name, endpoint in ENDPOINTS.items():
        if endpoint.expected["anonymous"] != 401 or name == "login_wrong_password":
            continue
        response = client.open(endpoint.path(w), method=endpoint.method, json=endpoint.body(w) if endpoint.body else None)
        assert response.status_code == 401 and response.is_json, name
        assert set(response.get_json()) == {"error"} and set(response.get_json()["error"]) == {"code", "message"}
    assert snapshot(app) == before


def test_a_method_the_path_does_not_take_is_405_with_allow_and_an_unknown_path_is_404(app, client, factory):
    w = build_world(app, factory)
    before = snapshot(app)
    response = client.delete("/api/v1/needs", headers=w.headers["coordinator"])
    assert response.status_code == 405 and response.is_json
    assert set(response.headers["Allow"].replace(" ", "").split(",")) == {"GET", "POST"}
    assert response.get_json()["error"]["code"] == "method_not_allowed"
    response = client.put(f"/api/v1/matches/{w.match_a}", headers=w.headers["coordinator"], json={})
    assert response.status_code == 405 and "GET" in response.headers["Allow"]
    response = client.get("/api/v1/no-such-thing", headers=w.headers["coordinator"])
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
    assert snapshot(app) == before
