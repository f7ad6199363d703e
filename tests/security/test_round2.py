"""Issue 13 ("security round 2"): each finding reproduced, and now failing to succeed."""

from __future__ import annotations

import pytest

from tests.conftest import csrf_token

# -- 3. control characters in ``next`` ---------------------------------------------------------

NASTY_NEXT = ["/needs\r\nSet-Cookie: planted=1", "/x\nLocation: https://evil.example", "/a\x00b", "/a\tb", "/a\x7fb",
              "/\u2028evil", "/ok\u0085"]


@pytest.mark.parametrize("target", NASTY_NEXT)
def test_control_characters_in_next_of_the_language_switch_fall_back_to_home(client, target):
    page = client.get("/")
    response = client.post("/lang/en", data={"csrf_token": csrf_token(page), "next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert "planted" not in response.headers.get("Set-Cookie", "")


@pytest.mark.parametrize("target", NASTY_NEXT)
def test_control_characters_in_next_of_the_login_fall_back_to_the_role_home(client, factory, target):
    user = factory.user(role="coordinator")
    page = client.get("/auth/login")
    response = client.post("/auth/login", data={"csrf_token": csrf_token(page), "email": user.email,
                                                "password": factory.PASSWORD, "next": target})
    assert response.status_code == 302
    assert "\r" not in response.headers["Location"] and "\n" not in response.headers["Location"]
    assert response.headers["Location"].startswith("/coordinator")


def test_a_plain_next_still_works(client, factory):
    page = client.get("/")
    response = client.post("/lang/en", data={"csrf_token": csrf_token(page), "next": "/auth/login?next=/x"})
    assert response.headers["Location"] == "/auth/login?next=/x"


# -- 5. only admins manage staff accounts; nobody disables themselves --------------------------

def _status(app, user_id: int) -> str:
    from models import User, db

    with app.app_context():
        return db.session.get(User, user_id).status.value


def _decide(client, user_id: int, decision: str):
    page = client.get("/coordinator/accounts")
    return client.post(f"/coordinator/accounts/{user_id}/{decision}", data={"csrf_token": csrf_token(page)})


def test_a_coordinator_cannot_disable_another_coordinator_or_an_admin(app, client, auth, factory):
    auth.login_as("coordinator")
    colleague, admin = factory.user(role="coordinator"), factory.user(role="admin")
    for target in (colleague, admin):
        assert _decide(client, target.id, "reject").status_code == 403
        assert _status(app, target.id) == "active"


def test_a_coordinator_cannot_disable_itself(app, client, auth):
    me = auth.login_as("coordinator")
    assert _decide(client, me.id, "reject").status_code == 403
    assert _status(app, me.id) == "active"
    assert client.get("/coordinator/queue").status_code == 200  # still signed in


def test_an_admin_cannot_disable_itself_but_manages_coordinators(app, client, auth, factory):
    me = auth.login_as("admin")
    coordinator = factory.user(role="coordinator")
    assert _decide(client, me.id, "reject").status_code == 403
    assert _status(app, me.id) == "active"
    assert _decide(client, coordinator.id, "reject").status_code == 302
    assert _status(app, coordinator.id) == "disabled"


def test_a_coordinator_still_approves_and_rejects_enterprises_and_experts(app, client, auth, factory):
    auth.login_as("coordinator")
    pending = factory.user(role="enterprise", status="pending")
    expert = factory.user(role="expert")
    assert _decide(client, pending.id, "approve").status_code == 302
    assert _decide(client, expert.id, "reject").status_code == 302
    assert (_status(app, pending.id), _status(app, expert.id)) == ("active", "disabled")


# -- 6. the proposed match's score is the server's ---------------------------------------------

def _match_score(app, need_id: int):
    import sqlalchemy as sa

    from models import Match, db

    with app.app_context():
        return db.session.scalar(sa.select(Match.score).where(Match.need_id == need_id))


def _propose_forged(client, need_id: int, expert_id: int):
    page = client.get(f"/coordinator/needs/{need_id}")
    assert page.status_code == 200
    return client.post(f"/coordinator/needs/{need_id}/propose", data={
        "csrf_token": csrf_token(page), "expert_id": str(expert_id), f"score_{expert_id}": "1e999"})


def test_a_forged_score_is_ignored_before_the_index_exists(app, client, auth, factory):
    owner, expert = factory.user(role="enterprise"), factory.user(role="expert")
    need = factory.need(owner)
    auth.login_as("coordinator")
    assert _propose_forged(client, need.id, expert.expert_id).status_code == 302
    assert _match_score(app, need.id) is None


def test_the_stored_score_is_the_engines_score_of_the_pair_not_the_forms(app, client, auth, factory):
    from web.matching.indexing import Indexer

    owner = factory.user(role="enterprise")
    spring = factory.user(role="expert", name="弹簧专家")
    factory.achievement(spring, title="悬架弹簧腐蚀疲劳断裂机理与喷丸强化")
    need = factory.need(owner, title="弹簧跑两万公里就断了", description="断口有锈")
    with app.app_context():
        Indexer(app.config["INDEX_DIR"], app.config["MATCHER_EMBEDDING_MODEL"]).start()
    auth.login_as("coordinator")
    assert _propose_forged(client, need.id, spring.expert_id).status_code == 302
    stored = _match_score(app, need.id)
    with app.app_context():
        from web.matching.search import pair_scores

        expected = pair_scores(need.id, [spring.expert_id])[spring.expert_id]
    assert stored == pytest.approx(expected) and 0 < stored <= 1


# -- 10. instance folder 0700, its files 0600 ----------------------------------------------------

def _mode(path) -> int:
    import stat

    return stat.S_IMODE(path.stat().st_mode)


def test_the_instance_folder_and_the_sqlite_files_are_private(tmp_path):
    import sqlalchemy as sa

    from models import db
    from tests.conftest import make_app

    instance = tmp_path / "instance"
    app = make_app(instance, f"sqlite:///{instance / 'matcher.db'}")
    with app.app_context():
        with db.engine.begin() as connection:
            connection.execute(sa.text("CREATE TABLE probe (x INTEGER)"))
            connection.execute(sa.text("INSERT INTO probe VALUES (1)"))
        assert _mode(instance) == 0o700
        for name in ("matcher.db", "matcher.db-wal", "matcher.db-shm"):
            assert _mode(instance / name) == 0o600, name
        db.engine.dispose()


def test_an_existing_instance_folder_and_database_are_made_private(tmp_path):
    from tests.conftest import make_app

    instance = tmp_path / "old"
    instance.mkdir(mode=0o755)
    (instance / "matcher.db").write_bytes(b"")
    (instance / "matcher.db").chmod(0o644)
    make_app(instance, f"sqlite:///{instance / 'matcher.db'}")
    assert (_mode(instance), _mode(instance / "matcher.db")) == (0o700, 0o600)


def test_the_secret_key_and_the_demo_credentials_are_private(tmp_path):
    from web.config import _instance_secret
    from web.infra.demo_credentials import FILE, save_credentials

    instance = tmp_path / "fresh"
    _instance_secret(instance)
    save_credentials(str(instance), "demo-password", [])
    assert _mode(instance) == 0o700
    assert _mode(instance / "secret_key") == 0o600 and _mode(instance / FILE) == 0o600


# -- 11. API logout revokes the bearer token ---------------------------------------------------

def test_api_logout_revokes_the_bearer_token(app, client, factory):
    user = factory.user(role="expert")
    token = client.post("/api/v1/auth/login", json={"email": user.email, "password": factory.PASSWORD}).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/experts/me", headers=headers).status_code == 200
    assert app.test_client().post("/api/v1/auth/logout", headers=headers).status_code == 204
    refused = app.test_client().get("/api/v1/experts/me", headers=headers)
    assert refused.status_code == 401 and refused.get_json()["error"]["code"] == "unauthorized"
    assert app.test_client().post("/api/v1/auth/logout", headers=headers).status_code == 401
    fresh = client.post("/api/v1/auth/login", json={"email": user.email, "password": factory.PASSWORD}).get_json()["token"]
    assert client.get("/api/v1/experts/me", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200


def test_api_logout_is_in_the_openapi_document(client):
    assert "post" in client.get("/api/v1/openapi.json").get_json()["paths"]["/auth/logout"]


# -- 1. the Host header never writes links -----------------------------------------------------

def _api_match(client, factory):
    enterprise, expert, coordinator = (factory.user(role=r) for r in ("enterprise", "expert", "coordinator"))
    tokens = {u.role: client.post("/api/v1/auth/login", json={"email": u.email, "password": factory.PASSWORD}).get_json()["token"]
              for u in (enterprise, expert, coordinator)}
    headers = {role: {"Authorization": f"Bearer {t}"} for role, t in tokens.items()}
    need = client.post("/api/v1/needs", headers=headers["enterprise"], json={"title": "荔枝保鲜"}).get_json()
    match = client.post("/api/v1/matches", headers=headers["coordinator"],
                        json={"need_id": need["id"], "expert_id": expert.expert_id}).get_json()
    return match["id"], headers, enterprise


def _emails(app, recipient: str) -> list[str]:
    import sqlalchemy as sa

    from models import EmailMessage, db

    with app.app_context():
        return list(db.session.scalars(sa.select(EmailMessage.body).where(EmailMessage.recipient == recipient)
                                       .order_by(EmailMessage.id)))


@pytest.mark.parametrize("how", ["host_header", "base_url"])
def test_a_request_with_an_untrusted_host_is_refused_and_queues_nothing(app, client, factory, how):
    match_id, headers, enterprise = _api_match(client, factory)
    before = _emails(app, enterprise.email)
    kwargs = {"headers": {**headers["expert"], "Host": "attacker.example"}} if how == "host_header" else {
        "headers": headers["expert"], "base_url": "http://attacker.example"}
    response = client.post(f"/api/v1/matches/{match_id}/respond", json={"accept": True}, **kwargs)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_request"
    assert _emails(app, enterprise.email) == before


def test_e_mail_links_start_with_the_configured_base_url_whatever_the_trusted_host(tmp_path, database_url):
    from tests.conftest import make_app
    from tests.factories import Factory

    app = make_app(tmp_path, database_url, BASE_URL="https://kx.example.cn/portal",
                   TRUSTED_HOSTS=["kx.example.cn", "internal.example.cn", "localhost"])
    client = app.test_client()
    factory = Factory(app)
    match_id, headers, enterprise = _api_match(client, factory)
    response = client.post(f"/api/v1/matches/{match_id}/respond", json={"accept": True},
                           headers=headers["expert"], base_url="http://internal.example.cn")
    assert response.status_code == 200
    assert f"https://kx.example.cn/portal/matches/{match_id}" in _emails(app, enterprise.email)[-1]


def test_links_built_outside_a_request_use_the_base_url(app, factory):
    from models import Match, db
    from web.domain.notify import _match_link

    owner, expert = factory.user(role="enterprise"), factory.user(role="expert")
    need = factory.need(owner)
    with app.app_context():
        link = _match_link(None, Match(id=7, need_id=need.id, expert_id=expert.expert_id))
        db.session.rollback()
    assert link == "http://127.0.0.1:8000/matches/7"


def test_production_refuses_to_start_without_a_base_url(monkeypatch, tmp_path):
    from web import create_app
    from web.config import ProductionConfig

    monkeypatch.setenv("MATCHER_INSTANCE_DIR", str(tmp_path))
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.delenv("MATCHER_BASE_URL", raising=False)
    with pytest.raises(RuntimeError, match="MATCHER_BASE_URL"):
        create_app(ProductionConfig())
    monkeypatch.setenv("MATCHER_BASE_URL", "kx.example.cn")
    with pytest.raises(RuntimeError, match="absolute http"):
        create_app(ProductionConfig())


def test_production_trusts_only_the_base_url_host_unless_configured(monkeypatch, tmp_path):
    from web.config import ProductionConfig

    monkeypatch.setenv("MATCHER_BASE_URL", "https://kx.example.cn")
    assert ProductionConfig().TRUSTED_HOSTS == ["kx.example.cn"]
    monkeypatch.setenv("MATCHER_TRUSTED_HOSTS", "kx.example.cn, .kx.example.cn")
    assert ProductionConfig().TRUSTED_HOSTS == ["kx.example.cn", ".kx.example.cn"]


def test_an_html_page_with_an_untrusted_host_is_a_plain_400(client):
    response = client.get("/auth/login", headers={"Host": "attacker.example"})
    assert response.status_code == 400 and b"csrf_token" not in response.data


# -- 8. no-store on what carries contact details -----------------------------------------------

def _connected_match(app, client, factory):
    match_id, headers, enterprise = _api_match(client, factory)
    for role in ("expert", "enterprise"):
        assert client.post(f"/api/v1/matches/{match_id}/respond", headers=headers[role], json={"accept": True}).status_code == 200
    return match_id, headers


def test_pages_api_answers_and_exports_with_contacts_are_not_stored(app, client, auth, factory):
    match_id, headers = _connected_match(app, client, factory)
    from models import Match, db

    with app.app_context():
        match = db.session.get(Match, match_id)
        need_id, expert_id = match.need_id, match.expert_id
    api = {f"/api/v1/matches/{match_id}": headers["expert"], "/api/v1/matches": headers["enterprise"],
           f"/api/v1/experts/{expert_id}": headers["enterprise"], "/api/v1/experts/me": headers["expert"],
           f"/api/v1/needs/{need_id}": headers["coordinator"]}
    for path, who in api.items():
        response = app.test_client().get(path, headers=who)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store", path
    auth.login_as("coordinator")
    for path in (f"/matches/{match_id}", f"/coordinator/needs/{need_id}", "/transfer/export/experts.csv",
                 "/transfer/export/experts.xlsx", "/transfer/export/needs.csv", "/transfer/export/needs.xlsx"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store", path


def test_the_expert_profile_page_is_not_stored(client, auth):
    auth.login_as("expert")
    response = client.get("/expert/profile")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"


def test_public_pages_and_static_files_may_still_be_cached(client):
    assert "no-store" not in client.get("/").headers.get("Cache-Control", "")
    static = client.get("/static/style.css")
    assert static.status_code == 200 and "no-store" not in static.headers.get("Cache-Control", "")


# -- 9. sign-up does not reveal registered e-mails or organisations ----------------------------

def _sign_up(app, **fields):
    client = app.test_client()
    with client.session_transaction() as session:
        session["lang"] = "en"
    page = client.get("/auth/signup")
    data = {"csrf_token": csrf_token(page), "role": "enterprise", "name": "张三", "organization": "全新企业有限公司",
            "phone": "", "email": "new.person@fresh.example.cn", "password": "a-long-and-unusual-passphrase"}
    data.update(fields)
    response = client.post("/auth/signup", data=data)
    return response, client.get(response.headers["Location"]) if response.status_code == 302 else response


def _outbox(app) -> list[tuple[str, str]]:
    import sqlalchemy as sa

    from models import EmailMessage, db

    with app.app_context():
        return [(m.recipient, m.subject + "\n" + m.body) for m in db.session.scalars(sa.select(EmailMessage).order_by(EmailMessage.id))]


def _flash_text(page) -> str:
    import re

    return " ".join(re.findall(r'class="flash[^"]*"[^>]*>(.*?)<', page.data.decode(), re.S))


def test_signing_up_with_a_registered_email_looks_like_a_new_sign_up_and_tells_the_owner(app, factory):
    owner = factory.user(role="expert", email="li.ming@univ.example.cn")
    fresh, fresh_page = _sign_up(app, email="someone.new@fresh.example.cn", organization="企业甲")
    taken, taken_page = _sign_up(app, email="li.ming@univ.example.cn", organization="企业乙")
    assert fresh.status_code == taken.status_code == 302
    assert fresh.headers["Location"] == taken.headers["Location"]
    assert _flash_text(fresh_page) == _flash_text(taken_page) and "A coordinator will review" in _flash_text(taken_page)
    mails = [body for recipient, body in _outbox(app) if recipient == owner.email]
    assert len(mails) == 1 and "该邮箱已有账户" in mails[0] and "http://127.0.0.1:8000/auth/login" in mails[0]


def test_signing_up_a_registered_organisation_looks_the_same_and_tells_its_accounts(app, factory):
    org = factory.organization(name="茂名石化机械有限公司", contact_email="office@maoming.example.cn")
    holder = factory.user(role="enterprise", organization=org)
    fresh, fresh_page = _sign_up(app, email="a.new@fresh.example.cn", organization="另一家新企业")
    taken, taken_page = _sign_up(app, email="b.new@fresh.example.cn", organization="茂名石化机械有限公司")
    assert fresh.status_code == taken.status_code == 302
    assert _flash_text(fresh_page) == _flash_text(taken_page)
    told = {recipient for recipient, body in _outbox(app) if "茂名石化机械有限公司" in body}
    assert told == {holder.email, "office@maoming.example.cn"}
    import sqlalchemy as sa

    from models import User, db

    with app.app_context():
        assert db.session.scalar(sa.select(User).where(User.email == "b.new@fresh.example.cn")) is None


def test_sign_up_errors_that_do_not_depend_on_existing_accounts_still_show(app, factory):
    factory.user(role="expert", email="li.ming@univ.example.cn")
    for email in ("li.ming@univ.example.cn", "free.one@fresh.example.cn"):
        response, _page = _sign_up(app, email=email, password="password")
        assert response.status_code == 200 and "too common" in response.data.decode()


# -- 4. per-account throttling across the web and the API --------------------------------------

def _throttled_app(tmp_path, database_url, **overrides):
    from tests.conftest import make_app

    return make_app(tmp_path, database_url, RATELIMIT_ENABLED=True, PROXY_COUNT=1,
                    LOGIN_ACCOUNT_LIMITS="4 per 15 minutes", PASSWORD_CHECK_LIMITS="3 per 15 minutes", **overrides)


def _web_login(app, email: str, password: str, address: str):
    client = app.test_client()
    page = client.get("/auth/login", headers={"X-Forwarded-For": address})
    return client.post("/auth/login", headers={"X-Forwarded-For": address},
                       data={"csrf_token": csrf_token(page), "email": email, "password": password})


def _api_login(app, email: str, password: str, address: str):
    return app.test_client().post("/api/v1/auth/login", json={"email": email, "password": password},
                                  headers={"X-Forwarded-For": address})


def _lockout_across_web_and_api(app):
    from tests.factories import Factory

    factory = Factory(app)
    victim, bystander = factory.user(role="enterprise"), factory.user(role="enterprise")
    # Four failures from four addresses, two on each surface, with the address written differently.
    assert _web_login(app, victim.email, "guess-number-1", "203.0.113.1").status_code == 200
    assert _api_login(app, victim.email.upper(), "guess-number-2", "203.0.113.2").status_code == 401
    assert _web_login(app, f"  {victim.email} ", "guess-number-3", "203.0.113.3").status_code == 200
    assert _api_login(app, victim.email, "guess-number-4", "203.0.113.4").status_code == 401
    # Now even the right password is refused, on both surfaces, from yet another address.
    api = _api_login(app, victim.email, Factory.PASSWORD, "198.51.100.7")
    assert api.status_code == 429 and int(api.headers["Retry-After"]) > 0
    assert api.get_json()["error"]["code"] == "too_many_requests"
    web = _web_login(app, victim.email, Factory.PASSWORD, "198.51.100.8")
    assert web.status_code == 429 and int(web.headers["Retry-After"]) > 0
    # Another account is not affected.
    assert _api_login(app, bystander.email, Factory.PASSWORD, "198.51.100.7").status_code == 200


def test_failed_sign_ins_lock_the_account_across_web_and_api_in_memory(tmp_path, database_url):
    _lockout_across_web_and_api(_throttled_app(tmp_path, database_url))


def test_failed_sign_ins_lock_the_account_across_web_and_api_in_redis(tmp_path, database_url):
    import uuid

    import redis

    from tests.conftest import unavailable

    server = redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1)
    try:
        server.ping()
    except redis.exceptions.ConnectionError as exc:
        unavailable(f"Redis at 127.0.0.1:6379 is not reachable ({exc})")
    prefix = f"matcher-test-{uuid.uuid4().hex[:8]}"
    app = _throttled_app(tmp_path, database_url, RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/0", RATELIMIT_KEY_PREFIX=prefix)
    try:
        _lockout_across_web_and_api(app)
        keys = [key.decode() for key in server.scan_iter(f"*{prefix}*account-login*")]
        assert keys and not any("@" in key for key in keys)  # counted in Redis, keyed without the address
    finally:
        for key in server.scan_iter(f"*{prefix}*"):
            server.delete(key)


def test_the_current_password_check_of_the_password_change_is_throttled(tmp_path, database_url):
    from models import User, db
    from tests.conftest import AuthActions
    from tests.factories import Factory
    from web.infra.passwords import verify_password

    app = _throttled_app(tmp_path, database_url)
    client = app.test_client()
    user = AuthActions(client, Factory(app)).login_as("expert")
    with client.session_transaction() as session:
        session["lang"] = "en"

    def change(current: str):
        page = client.get("/auth/password")
        return client.post("/auth/password", data={"csrf_token": csrf_token(page), "current_password": current,
                                                   "new_password": "a-new-and-long-passphrase"})

    assert [change(f"wrong-guess-{i}").status_code for i in range(3)] == [200, 200, 200]
    refused = change(Factory.PASSWORD)
    assert refused.status_code == 429 and "Too many wrong current passwords" in refused.data.decode()
    with app.app_context():
        assert verify_password(db.session.get(User, user.id).password_hash, Factory.PASSWORD)
