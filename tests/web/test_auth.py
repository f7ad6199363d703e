import pytest

from tests.conftest import csrf_token


def test_login_with_right_password_lands_on_the_role_home(client, auth, factory):
    user = factory.user(role="enterprise")
    response = auth.login(user)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/enterprise/needs")
    page = client.get("/enterprise/needs")
    assert page.status_code == 200 and user.name.encode() in page.data


def test_wrong_password_does_not_sign_in(client, auth, factory):
    user = factory.user(role="coordinator")
    response = auth.login(user, password="wrong-password-123")
    assert response.status_code == 200
    assert client.get("/coordinator/queue").status_code in (302, 401)


def test_pending_account_cannot_sign_in(client, auth, factory):
    user = factory.user(role="expert", status="pending")
    auth.login(user)
    response = client.get("/expert/profile")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


NEUTRAL = "邮箱或密码错误，或账号尚未启用"


def test_a_pending_account_with_the_right_password_is_told_it_awaits_approval(client, auth, factory):
    user = factory.user(role="expert", status="pending")
    page = auth.login(user).get_data(as_text=True)
    assert "等待平台协调员审核" in page and NEUTRAL not in page
    wrong = auth.login(user, password="wrong-password-123").get_data(as_text=True)
    assert NEUTRAL in wrong and "审核" not in wrong  # a wrong password tells nothing about the account


def test_a_disabled_account_with_the_right_password_is_told_whom_to_contact(client, auth, factory):
    user = factory.user(role="enterprise", status="disabled")
    page = client.get("/auth/login?lang=en")
    response = client.post("/auth/login?lang=en", data={"email": user.email, "password": factory.PASSWORD, "csrf_token": csrf_token(page)})
    text = response.get_data(as_text=True)
    assert "Your account has been disabled" in text and "contact the coordinators" in text
    assert client.get("/enterprise/needs").status_code == 302


@pytest.mark.parametrize(("status", "code"), [("pending", "account_pending"), ("disabled", "account_disabled")])
def test_the_api_login_says_why_an_inactive_account_may_not_sign_in(client, factory, status, code):
    user = factory.user(role="expert", status=status)
    right = client.post("/api/v1/auth/login", json={"email": user.email, "password": factory.PASSWORD})
    assert right.status_code == 403 and right.get_json()["error"]["code"] == code and "token" not in right.get_json()
    wrong = client.post("/api/v1/auth/login", json={"email": user.email, "password": "wrong-password-123"})
    assert wrong.status_code == 401 and wrong.get_json()["error"]["code"] == "unauthorized"


def test_post_without_csrf_token_is_rejected(client, factory):
    user = factory.user(role="coordinator")
    response = client.post("/auth/login", data={"email": user.email, "password": factory.PASSWORD})
    assert response.status_code == 400
    assert client.get("/coordinator/queue").status_code == 302


def test_logout_requires_post_with_token_and_ends_the_session(client, auth, factory):
    auth.login_as("coordinator")
    page = client.get("/coordinator/queue")
    assert client.get("/auth/logout").status_code == 405
    response = client.post("/auth/logout", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 302
    assert client.get("/coordinator/queue").status_code == 302


def test_next_parameter_only_redirects_within_the_site(client, factory):
    user = factory.user(role="coordinator")
    for target, expected in [("/coordinator/queue", "/coordinator/queue"), ("https://evil.example.com/", "/coordinator/queue"),
                             ("//evil.example.com/x", "/coordinator/queue"), ("/\\evil.example.com", "/coordinator/queue")]:
        client.get("/")
        page = client.get(f"/auth/login?next={target}")
        response = client.post("/auth/login", data={"email": user.email, "password": factory.PASSWORD,
                                                     "csrf_token": csrf_token(page), "next": target})
        assert response.status_code == 302
        assert response.headers["Location"].endswith(expected), (target, response.headers["Location"])
        client.post("/auth/logout", data={"csrf_token": csrf_token(client.get("/coordinator/queue"))})


def test_old_session_cookie_is_void_after_logout(client, auth, factory, app):
    auth.login_as("coordinator")
    stolen = client.get_cookie("session").value
    client.post("/auth/logout", data={"csrf_token": csrf_token(client.get("/coordinator/queue"))})
    other = app.test_client()
    other.set_cookie("session", stolen)
    assert other.get("/coordinator/queue").status_code == 302
