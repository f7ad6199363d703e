"""The security checklist, one test (or more) per item."""

from __future__ import annotations

import logging
import re

import pytest
import sqlalchemy as sa
from werkzeug.routing import IntegerConverter

from models import User, db
from tests.conftest import csrf_token, make_app
from web.domain.errors import ValidationError
from web.infra.passwords import check_password_policy, hash_password, verify_password

# -- passwords ------------------------------------------------------------------------------


@pytest.mark.parametrize("password", ["short7!", "password", "12345678", "qwertyuiop", "woaini1314", "Password1"])
def test_weak_passwords_are_refused(password):
    with pytest.raises(ValidationError):
        check_password_policy(password)


def test_password_equal_to_the_email_is_refused():
    with pytest.raises(ValidationError):
        check_password_policy("li.ming@univ.example.cn", email="li.ming@univ.example.cn")


def test_passwords_are_hashed_with_argon2id():
    hashed = hash_password("lychee-orchard-2026")
    assert hashed.startswith("$argon2id$") and "lychee" not in hashed
    assert verify_password(hashed, "lychee-orchard-2026") and not verify_password(hashed, "lychee-orchard-2027")


# -- sessions -------------------------------------------------------------------------------


def test_session_is_renewed_at_login(client, factory):
    user = factory.user(role="coordinator")
    page = client.get("/auth/login")
    with client.session_transaction() as session:
        session["planted"] = "by-an-attacker"
    client.post("/auth/login", data={"email": user.email, "password": factory.PASSWORD, "csrf_token": csrf_token(page)})
    with client.session_transaction() as session:
        assert "planted" not in session and session.get("_user_id") == f"{user.id}:1"


def test_password_change_ends_other_sessions_but_keeps_this_one(app, client, auth, factory):
    user = auth.login_as("expert")
    other = app.test_client()
    other.set_cookie("session", client.get_cookie("session").value)
    assert other.get("/expert/profile").status_code == 200
    token = other.post("/api/v1/auth/login", json={"email": user.email, "password": factory.PASSWORD}).get_json()["token"]
    page = client.get("/auth/password")
    response = client.post("/auth/password", data={"csrf_token": csrf_token(page), "current_password": factory.PASSWORD,
                                                   "new_password": "a-new-and-long-passphrase"})
    assert response.status_code == 302
    assert client.get("/expert/profile").status_code == 200
    assert other.get("/expert/profile").status_code == 302
    assert other.get("/api/v1/experts/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_wrong_current_password_changes_nothing(app, client, auth):
    user = auth.login_as("expert")
    page = client.get("/auth/password")
    response = client.post("/auth/password", data={"csrf_token": csrf_token(page), "current_password": "not-it-at-all",
                                                   "new_password": "a-new-and-long-passphrase"})
    assert response.status_code == 200
    with app.app_context():
        assert verify_password(db.session.get(User, user.id).password_hash, "correct-horse-battery-staple-7")


def test_cookies_are_httponly_and_samesite_lax(client, factory):
    user = factory.user(role="coordinator")
    page = client.get("/auth/login")
    response = client.post("/auth/login", data={"email": user.email, "password": factory.PASSWORD, "csrf_token": csrf_token(page)})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # development over plain HTTP


def test_production_refuses_to_start_without_a_secret_key(monkeypatch, tmp_path):
    from web import create_app
    from web.config import ProductionConfig

    monkeypatch.setenv("MATCHER_INSTANCE_DIR", str(tmp_path))
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(ProductionConfig())


def test_production_cookies_are_secure_and_hsts_is_sent(monkeypatch, tmp_path, database_url):
    from web import create_app
    from web.config import ProductionConfig

    monkeypatch.setenv("MATCHER_INSTANCE_DIR", str(tmp_path))
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv("MATCHER_BASE_URL", "https://kx.example.cn")
    monkeypatch.setenv("DATABASE_URL", database_url)
    app = create_app(ProductionConfig())
    app.config.update(RATELIMIT_ENABLED=False)
    from tests.factories import Factory

    user = Factory(app).user(role="coordinator")
    client = app.test_client()
    page = client.get("/auth/login", base_url="https://kx.example.cn")
    assert "max-age=31536000" in page.headers["Strict-Transport-Security"]
    response = client.post("/auth/login", base_url="https://kx.example.cn", headers={"Referer": "https://kx.example.cn/auth/login"},
                           data={"email": user.email, "password": Factory.PASSWORD, "csrf_token": csrf_token(page)})
    assert response.status_code == 302 and "Secure" in response.headers["Set-Cookie"]
    forged = app.test_client()
    page = forged.get("/auth/login", base_url="https://kx.example.cn")
    cross_site = forged.post("/auth/login", base_url="https://kx.example.cn", headers={"Referer": "https://evil.example.com/"},
                             data={"email": user.email, "password": Factory.PASSWORD, "csrf_token": csrf_token(page)})
    assert cross_site.status_code == 400  # HTTPS also checks that the form came from this site


# -- requests -------------------------------------------------------------------------------


def test_security_headers_are_on_every_response(client):
    for path in ("/", "/auth/login", "/no-such-page", "/api/v1/openapi.json"):
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        for directive in ("object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "default-src 'self'"):
            assert directive in csp, (path, directive)
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
        assert "Strict-Transport-Security" not in headers  # only in production


def _state_changing_routes(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods & {"POST", "PUT", "PATCH", "DELETE"}):
            view = app.view_functions[rule.endpoint]
            if getattr(view, "_csrf_exempt", False):
                continue
            args = {name: 1 if isinstance(rule._converters[name], IntegerConverter) else "approve" for name in rule.arguments}
            yield rule.endpoint, rule.build(args, append_unknown=False)[1], method


@pytest.mark.parametrize("role", ["enterprise", "expert", "coordinator", "admin"])
def test_every_cookie_authenticated_state_change_needs_a_csrf_token(app, client, auth, role):
    auth.login_as(role)
    for endpoint, url, method in _state_changing_routes(app):
        response = client.open(url, method=method, data={"x": "1"})
        assert response.status_code in (400, 403, 404), (endpoint, method, response.status_code)
        if response.status_code == 400:
            assert b"csrf" in response.data.lower() or "表单".encode() in response.data or b"form expired" in response.data.lower(), endpoint


def test_bearer_token_calls_need_no_csrf_token_but_cookie_api_calls_do(client, auth, factory):
    user = auth.login_as("enterprise")
    cookie_call = client.post("/api/v1/needs", json={"title": "钛合金"})
    assert cookie_call.status_code == 400 and cookie_call.get_json()["error"]["code"] == "csrf_failed"
    token = client.post("/api/v1/auth/login", json={"email": user.email, "password": factory.PASSWORD}).get_json()["token"]
    other = client.application.test_client()
    assert other.post("/api/v1/needs", json={"title": "钛合金"}, headers={"Authorization": f"Bearer {token}"}).status_code == 201


def test_request_bodies_are_limited(app, client, auth):
    auth.login_as("enterprise")
    app.config["MAX_CONTENT_LENGTH"] = 1024
    page = client.get("/enterprise/needs/new")
    response = client.post("/enterprise/needs/new", data={"csrf_token": csrf_token(page), "title": "x", "description": "长" * 5000})
    assert response.status_code == 413
    api = client.post("/api/v1/auth/login", data="{" + '"a":1,' * 500 + '"b":2}', content_type="application/json")
    assert api.status_code == 413 and api.get_json()["error"]["code"]


def test_errors_show_a_generic_page_without_internals(app, client):
    def boom():
        raise RuntimeError("secret internal detail /work/main/web")

    from web.access import public

    app.add_url_rule("/boom", "boom", public(boom))
    app.add_url_rule("/api/v1/boom", "api_boom", public(boom))
    page = client.get("/boom")
    assert page.status_code == 500 and b"secret internal detail" not in page.data and b"Traceback" not in page.data
    api = client.get("/api/v1/boom")
    assert api.status_code == 500 and api.get_json() == {"error": {"code": "internal_error", "message": "internal error"}}


def test_a_unique_clash_at_the_same_moment_is_a_409_without_the_values(app, client, factory, caplog):
    """What a service's own check cannot see yet (two sign-ups of one e-mail at once) ends as a
    409 with the transaction rolled back, and the log does not quote the clashing value."""
    import sqlalchemy as sa

    from models import Role, User, db, write_transaction
    from web.access import public

    taken = factory.user(role="expert", email="taken@clash.example.cn")

    def clash():
        with write_transaction() as session:
            session.add(User(email="fresh@clash.example.cn", password_hash="x", name="A", role=Role.EXPERT))
            session.add(User(email=taken.email, password_hash="x", name="B", role=Role.EXPERT))
        return "unreachable"

    app.add_url_rule("/clash", "clash", public(clash))
    app.add_url_rule("/api/v1/clash", "api_clash", public(clash))
    with caplog.at_level("WARNING"):
        page = client.get("/clash")
        api = client.get("/api/v1/clash")
    assert page.status_code == 409 and b"taken@clash" not in page.data
    assert api.status_code == 409 and api.get_json()["error"]["code"] == "conflict"
    assert "integrity_conflict" in caplog.text and "taken@clash" not in caplog.text
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User).where(User.email == "fresh@clash.example.cn")) == 0


# -- rate limiting and security logging ------------------------------------------------------


@pytest.fixture
def limited_app(tmp_path, database_url):
    return make_app(tmp_path, database_url, RATELIMIT_ENABLED=True, PROXY_COUNT=1)


def test_login_is_rate_limited_per_client_behind_the_proxy(limited_app, caplog):
    client = limited_app.test_client()
    caplog.set_level(logging.WARNING, logger="matcher.security")
    statuses = [client.post("/api/v1/auth/login", json={"email": "a@b.example.cn", "password": "x" * 10},
                            headers={"X-Forwarded-For": "203.0.113.7"}).status_code for _ in range(12)]
    assert statuses[:10] == [401] * 10 and statuses[10:] == [429, 429]
    # Another account (the first one is now throttled per account as well) from another client.
    other_client = client.post("/api/v1/auth/login", json={"email": "c@d.example.cn", "password": "x" * 10},
                               headers={"X-Forwarded-For": "198.51.100.9"})
    assert other_client.status_code == 401  # keyed on the real client address, not the proxy's
    assert any("rate_limited" in r.getMessage() for r in caplog.records)


def test_rate_limits_can_live_in_redis(tmp_path, database_url):
    import redis

    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError as exc:
        from tests.conftest import unavailable

        unavailable(f"Redis at 127.0.0.1:6379 is not reachable ({exc})")
    import uuid

    prefix = f"matcher-test-{uuid.uuid4().hex[:8]}"
    app = make_app(tmp_path, database_url, RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/0",
                   RATELIMIT_KEY_PREFIX=prefix)
    try:
        statuses = [app.test_client().post("/api/v1/auth/login", json={"email": "a@b.example.cn", "password": "y" * 10}).status_code
                    for _ in range(11)]
        assert statuses[-1] == 429
        assert redis.Redis(host="127.0.0.1", port=6379).keys(f"*{prefix}*")
    finally:
        client = redis.Redis(host="127.0.0.1", port=6379)
        for key in client.scan_iter(f"*{prefix}*"):
            client.delete(key)


def test_security_events_are_logged_without_secrets(client, auth, factory, caplog):
    caplog.set_level(logging.INFO, logger="matcher.security")
    user = factory.user(role="enterprise")
    auth.login(user, password="wrong-password-x")
    auth.login(user)
    client.get("/coordinator/queue")
    messages = [r.getMessage() for r in caplog.records if r.name == "matcher.security"]
    assert any(m.startswith("login_failed") for m in messages)
    assert any(m.startswith("login_succeeded") for m in messages)
    assert any(m.startswith("access_denied") and "status=403" in m for m in messages)
    joined = "\n".join(messages)
    assert user.email not in joined and "wrong-password-x" not in joined and factory.PASSWORD not in joined


def test_log_lines_carry_utc_iso_timestamps():
    from web import LOG_FORMAT, UTCFormatter

    record = logging.LogRecord("matcher.security", logging.WARNING, __file__, 1, "login_failed", None, None)
    record.created = 0.0
    record.msecs = 0
    line = UTCFormatter(LOG_FORMAT).format(record)
    assert re.match(r"^1970-01-01T00:00:00\.000Z WARNING matcher\.security login_failed$", line)


def test_no_contact_detail_reaches_any_log_line(client, factory, caplog):
    caplog.set_level(logging.DEBUG)
    enterprise, expert, coordinator = (factory.user(role=r) for r in ("enterprise", "expert", "coordinator"))
    tokens = {u.role: client.post("/api/v1/auth/login", json={"email": u.email, "password": factory.PASSWORD}).get_json()["token"]
              for u in (enterprise, expert, coordinator)}
    h = {role: {"Authorization": f"Bearer {t}"} for role, t in tokens.items()}
    need = client.post("/api/v1/needs", headers=h["enterprise"], json={"title": "荔枝保鲜"}).get_json()
    match = client.post("/api/v1/matches", headers=h["coordinator"], json={"need_id": need["id"], "expert_id": expert.expert_id}).get_json()
    for role in ("expert", "enterprise"):
        client.post(f"/api/v1/matches/{match['id']}/respond", headers=h[role], json={"accept": True})
    from web.infra.mail import deliver_pending

    with client.application.app_context():
        deliver_pending({"MAIL_SERVER": ""})
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 3
    text = caplog.text
    for secret in list(expert.contacts.values()) + [enterprise.contacts["phone"], enterprise.contacts["wechat"]]:
        assert secret not in text, secret
