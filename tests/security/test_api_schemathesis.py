"""Property-based API tests: schemathesis drives every operation of /api/v1 in-process (WSGI).

Every operation runs once per caller (anonymous, enterprise, expert, coordinator, admin; a
bearer token from POST /api/v1/auth/login) against its own copy of a database seeded once per
module, so that ids 1..4 of needs, experts and matches (and achievements 1..8) exist, belong to
the caller where that makes sense, and half of the generated path parameters hit them. Every
response must not be a server error, must use a documented status code, must match the
documented schema, and must be JSON (an error object for every error).

The pinned tests at the end reproduce what the fuzzer found, deterministically.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from web.api.openapi import document

ROLES = ("anonymous", "enterprise", "expert", "coordinator", "admin")
SEEDED_IDS = 4  # ids 1..SEEDED_IDS exist for needs, experts, achievements and matches
MAX_EXAMPLES = 25


def json_body(ctx, response, case):
    """Every answer of the API is JSON (a 204 aside), with a JSON content type and an error
    object for every error status."""
    if case.method.upper() in ("OPTIONS", "HEAD"):  # Flask answers these itself, without a body
        return None
    if response.status_code == 204:
        assert not response.content, "204 with a body"
        return None
    content_type = (response.headers.get("content-type") or [""])[0]  # lowercase keys, list values
    assert content_type.split(";")[0].strip() == "application/json", f"content type {content_type!r}, not JSON"
    data = json.loads(response.content)
    if response.status_code >= 400:
        assert isinstance(data, dict) and isinstance(data.get("error"), dict), f"error without error object: {data!r}"
        assert isinstance(data["error"].get("code"), str) and isinstance(data["error"].get("message"), str)
    return None


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance, json_body]


def _login(client, user) -> dict:
    from tests.factories import Factory

    response = client.post("/api/v1/auth/login", json={"email": user.email, "password": Factory.PASSWORD})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


def seed(client, factory) -> dict[str, dict]:
    """Users of every role, needs 1..4, experts 1..4, achievements 1..8, matches 1..4 in
    different states; the enterprise owns every need and expert 1 takes part in every match."""
    org = factory.organization(name="茂名减振器有限公司")
    enterprise = factory.user(role="enterprise", organization=org)
    experts = [factory.user(role="expert", name=f"专家{i}", keywords=["减振器", "NVH"], capacity=3) for i in range(SEEDED_IDS)]
    coordinator = factory.user(role="coordinator")
    admin = factory.user(role="admin")
    for number, expert in enumerate(experts, start=1):
        factory.achievement(expert, title=f"汽车减振器阻尼特性研究{number}")
        factory.achievement(expert, title=f"Shock absorber noise {number}", kind="patent", year=2020)
    needs = [
        factory.need(enterprise, title="减振器异响问题"),
        factory.need(enterprise, title="弹簧断裂", anonymous=True, industry_codes=["36"], budget_min=5, budget_max=20),
        factory.need(enterprise, title="罗非鱼疫苗", status="matched"),
        factory.need(enterprise, title="已关闭的需求", status="closed"),
    ]
    headers = {"enterprise": _login(client, enterprise), "coordinator": _login(client, coordinator),
               "admin": _login(client, admin)}
    headers["expert"] = _login(client, experts[0])
    pairs = [(needs[0], experts[0]), (needs[1], experts[0]), (needs[2], experts[0]), (needs[0], experts[1])]
    for need, expert in pairs:
        response = client.post("/api/v1/matches", headers=headers["coordinator"], json={"need_id": need.id, "expert_id": expert.expert_id})
        assert response.status_code == 201, response.get_json()
    # match 1 proposed, 2 connected, 3 declined by the expert, 4 in intent (expert 2 is not the caller)
    other = _login(client, experts[1])
    steps = [
        ("2/respond", headers["expert"], {"accept": True}, "expert_accepted"),
        ("2/respond", headers["enterprise"], {"accept": True}, "connected"),
        ("3/respond", headers["expert"], {"accept": False, "reason": "no_capacity"}, "expert_declined"),
        ("4/respond", other, {"accept": True}, "expert_accepted"),
        ("4/respond", headers["enterprise"], {"accept": True}, "connected"),
        ("4/outcome", headers["coordinator"], {"status": "intent"}, "intent"),
    ]
    for path, who, body, status in steps:
        response = client.post(f"/api/v1/matches/{path}", headers=who, json=body)
        assert response.status_code == 200 and response.get_json()["status"] == status, response.get_json()
    headers["anonymous"] = {}
    return headers


@pytest.fixture(scope="module")
def seeded_database(tmp_path_factory, template_db, postgres, postgres_template):
    """The migrated template plus the seed data and its search index, made once per module:
    how to get a fresh copy of the database, the bearer headers of each role (valid for
    every copy: same SECRET_KEY, same users) and the index directory."""
    from tests.conftest import make_app
    from tests.factories import Factory

    base = tmp_path_factory.mktemp("api-seed")
    if postgres is None:
        seeded = base / "seeded.db"
        shutil.copy(template_db, seeded)
        url = f"sqlite:///{seeded}"
    else:
        seeded_name = postgres.create(template=postgres_template)
        url = postgres.url(seeded_name)
    index_dir = base / "index"
    app = make_app(base, url, INDEX_DIR=str(index_dir))
    headers = seed(app.test_client(), Factory(app))
    with app.app_context():
        # A real index, so that suggestions answer 200 (a 503 "index not ready" would hide
        # the ranking code from the fuzzer); the test apps only read it.
        from matcher.embedding import ModelNotFound
        from models import db
        from tests.conftest import unavailable
        from web.matching.indexing import Indexer

        indexer = Indexer(str(index_dir), app.config["MATCHER_EMBEDDING_MODEL"])
        indexer.acquire()
        try:
            assert indexer.start().startswith("rebuilt")
        except ModelNotFound as exc:
            unavailable(f"the API fuzz run needs the embedding model for suggestions: {exc}")
        finally:
            indexer.release()
        db.session.remove()
        db.engine.dispose()

    def fresh_copy(tmp_path: Path):
        if postgres is None:
            target = tmp_path / "test.db"
            shutil.copy(seeded, target)
            return f"sqlite:///{target}", None
        name = postgres.create(template=seeded_name)
        return postgres.url(name), name

    return fresh_copy, headers, index_dir


@pytest.fixture(params=ROLES)
def role(request) -> str:
    return request.param


@pytest.fixture
def seeded_app(tmp_path, seeded_database, postgres):
    """A fresh copy of the seeded database for every test, so that what one operation's
    examples change (deleted achievements, closed matches) does not leak into the next."""
    from tests.conftest import make_app

    fresh_copy, _headers, index_dir = seeded_database
    url, name = fresh_copy(tmp_path)
    application = make_app(tmp_path, url, INDEX_DIR=str(index_dir))
    yield application
    with application.app_context():
        from models import db

        db.session.remove()
        db.engine.dispose()
    if name is not None:
        postgres.drop(name)


@pytest.fixture
def auth_headers(role, seeded_database) -> dict:
    return seeded_database[1][role]


def _existing_ids(context, path_parameters):
    """Half of the time, replace each generated id by one that exists (1..SEEDED_IDS)."""
    if not path_parameters:
        return st.just(path_parameters)
    real = st.fixed_dictionaries({name: st.integers(1, SEEDED_IDS) for name in path_parameters})
    return st.one_of(st.just(path_parameters), real)


# The document does not depend on the database, so the schema is loaded once, at import;
# each test sends its requests to its own app (``app=`` below). (schemathesis' lazy
# ``from_fixture`` loader does not work with pytest 9.2: it sets ``Function._nodeid``.)
schema = schemathesis.openapi.from_dict(document())
schema.hooks.register_hook_with_name(_existing_ids, "flatmap_path_parameters")
FUZZ = settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                       HealthCheck.function_scoped_fixture, HealthCheck.data_too_large])


@pytest.mark.usefixtures("role")  # once per role
@schema.exclude(path=["/auth/login", "/auth/logout"]).parametrize()  # logout would revoke the shared tokens
@FUZZ
def test_api_conforms_to_its_openapi_document(case, seeded_app, auth_headers):
    case.call_and_validate(headers=auth_headers, checks=CHECKS, app=seeded_app)


@schema.include(path="/auth/login").parametrize()
@FUZZ
def test_login_conforms_to_its_openapi_document(case, seeded_app):
    """Login ignores who is calling, so it runs once (each attempt costs an argon2 hash)."""
    case.call_and_validate(checks=CHECKS, app=seeded_app)


# -- pinned reproductions of what the fuzzer found -------------------------------------------
TOO_BIG = (2**63, 10**30)  # beyond a signed 64-bit database integer
ID_ENDPOINTS = (
    ("GET", "/api/v1/needs/{id}", "enterprise", None),
    ("PATCH", "/api/v1/needs/{id}", "enterprise", {"title": "新标题"}),
    ("GET", "/api/v1/needs/{id}/suggestions", "coordinator", None),
    ("GET", "/api/v1/experts/{id}", "coordinator", None),
    ("DELETE", "/api/v1/experts/me/achievements/{id}", "expert", None),
    ("GET", "/api/v1/matches/{id}", "coordinator", None),
    ("POST", "/api/v1/matches/{id}/respond", "expert", {"accept": True}),
    ("POST", "/api/v1/matches/{id}/outcome", "coordinator", {"status": "closed"}),
    ("POST", "/api/v1/matches/{id}/confirmation", "expert", {"status": "contract", "confirm": True}),
)


def _call(app, headers, method, url, body=None):
    response = app.test_client().open(url, method=method, headers=headers, json=body)
    assert response.is_json, response.data[:200]
    return response


@pytest.mark.parametrize("big", TOO_BIG, ids=["2**63", "10**30"])
@pytest.mark.parametrize(("method", "template", "who", "body"), ID_ENDPOINTS,
                         ids=[f"{m} {t.removeprefix('/api/v1')}" for m, t, _w, _b in ID_ENDPOINTS])
def test_an_id_beyond_the_database_range_is_not_found(seeded_app, seeded_database, method, template, who, body, big):
    response = _call(seeded_app, seeded_database[1][who], method, template.format(id=big), body)
    assert response.status_code == 404, (response.status_code, response.get_json())


@pytest.mark.parametrize("big", TOO_BIG, ids=["2**63", "10**30"])
@pytest.mark.parametrize("field", ["need_id", "expert_id"])
def test_proposing_an_id_beyond_the_database_range_is_not_found(seeded_app, seeded_database, field, big):
    body = {"need_id": 1, "expert_id": 2, field: big}
    response = _call(seeded_app, seeded_database[1]["coordinator"], "POST", "/api/v1/matches", body)
    assert response.status_code in (400, 404), (response.status_code, response.get_json())


@pytest.mark.parametrize("value", ["\u00b2", "\u00b9\u2070", "1" * 5000, "0" * 5000],
                         ids=["superscript-2", "superscript-10", "5000-digits", "5000-zeros"])
@pytest.mark.parametrize(("url", "name"), [("/api/v1/needs", "limit"), ("/api/v1/needs", "offset"),
                                           ("/api/v1/matches", "limit"), ("/api/v1/needs/1/suggestions", "limit")])
def test_a_number_parameter_that_is_not_a_plain_number_is_a_400(seeded_app, seeded_database, url, name, value):
    """``str.isdigit`` accepts "²" and digit strings longer than ``int()`` converts."""
    response = seeded_app.test_client().get(url, query_string={name: value}, headers=seeded_database[1]["coordinator"])
    assert response.is_json, response.data[:200]
    assert response.status_code == 400, (response.status_code, response.get_json())
    assert name in response.get_json()["error"]["fields"]


DEEP_JSON = "[" * 100_000 + "]" * 100_000  # valid JSON that json.loads refuses with RecursionError
JSON_BODY_ENDPOINTS = (
    ("POST", "/api/v1/auth/login", "anonymous"),
    ("POST", "/api/v1/needs", "enterprise"),
    ("PATCH", "/api/v1/needs/1", "enterprise"),
    ("PATCH", "/api/v1/experts/me", "expert"),
    ("POST", "/api/v1/experts/me/achievements", "expert"),
    ("POST", "/api/v1/matches", "coordinator"),
    ("POST", "/api/v1/matches/1/respond", "expert"),
    ("POST", "/api/v1/matches/1/outcome", "coordinator"),
    ("POST", "/api/v1/matches/1/confirmation", "expert"),
)


@pytest.mark.parametrize("body", [DEEP_JSON, '{"title": ' + DEEP_JSON + "}"], ids=["deep-array", "deep-field"])
@pytest.mark.parametrize(("method", "url", "who"), JSON_BODY_ENDPOINTS, ids=[f"{m} {u.removeprefix('/api/v1')}" for m, u, _w in JSON_BODY_ENDPOINTS])
def test_a_deeply_nested_json_body_is_a_400(seeded_app, seeded_database, method, url, who, body):
    """``request.get_json(silent=True)`` swallows ValueError, not the RecursionError of 100,000
    nested arrays (well below MAX_CONTENT_LENGTH)."""
    response = seeded_app.test_client().open(url, method=method, headers=seeded_database[1][who], data=body,
                                             content_type="application/json")
    assert response.is_json, response.data[:200]
    assert response.status_code == 400, (response.status_code, response.get_json())


# JSON may spell a lone UTF-16 surrogate ("\\ud800"); json.loads turns it into a str that no
# UTF-8 database column (nor argon2) can take: UnicodeEncodeError, HTTP 500.
SURROGATE_BODIES = (
    ("POST", "/api/v1/needs", "enterprise", '{"title": "a\\ud800b"}', {"title"}),
    ("PATCH", "/api/v1/needs/1", "enterprise", '{"description": "\\udfff"}', {"description"}),
    ("PATCH", "/api/v1/experts/me", "expert", '{"name": "\\ud800"}', {"name"}),
    ("PATCH", "/api/v1/experts/me", "expert", '{"keywords": ["ok", "\\udc00"]}', {"keywords"}),
    ("PATCH", "/api/v1/experts/me", "expert", '{"contacts": {"phone": "\\ud800"}}', {"phone", "contacts"}),
    ("POST", "/api/v1/experts/me/achievements", "expert", '{"kind": "paper", "title": "\\ud800"}', {"title"}),
    ("POST", "/api/v1/matches/1/respond", "expert", '{"accept": false, "reason": "other", "note": "\\ud800"}', {"note"}),
    ("POST", "/api/v1/matches/1/outcome", "coordinator", '{"status": "closed", "reason": "other", "note": "\\ud800"}', {"note"}),
)


@pytest.mark.parametrize(("method", "url", "who", "body", "fields"), SURROGATE_BODIES,
                         ids=[f"{m} {u.removeprefix('/api/v1')} {sorted(f)[0]}" for m, u, _w, _b, f in SURROGATE_BODIES])
def test_text_with_a_lone_surrogate_is_a_400_naming_the_field(seeded_app, seeded_database, method, url, who, body, fields):
    response = seeded_app.test_client().open(url, method=method, headers=seeded_database[1][who], data=body,
                                             content_type="application/json")
    assert response.is_json, response.data[:200]
    assert response.status_code == 400, (response.status_code, response.get_json())
    assert fields & set(response.get_json()["error"].get("fields", {})), response.get_json()


@pytest.mark.parametrize("body", ['{"email": "\\ud800@example.cn", "password": "correct-horse-battery-staple-7"}',
                                  '{"email": "a@example.cn", "password": "\\ud800"}'], ids=["email", "password"])
def test_login_with_a_lone_surrogate_is_refused_not_a_500(seeded_app, body):
    response = seeded_app.test_client().post("/api/v1/auth/login", data=body, content_type="application/json")
    assert response.is_json, response.data[:200]
    assert response.status_code in (400, 401), (response.status_code, response.get_json())
