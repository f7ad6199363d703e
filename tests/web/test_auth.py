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
