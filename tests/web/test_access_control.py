"""Every route denies by default: walk the URL map as anonymous and as each role."""

from __future__ import annotations

import pytest
from werkzeug.routing import IntegerConverter

from models import Role
from web.access import ACCESS_ATTR

ROLES = [r.value for r in Role]


def _routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        view = app.view_functions[rule.endpoint]
        args = {name: 1 if isinstance(rule._converters[name], IntegerConverter) else "x" for name in rule.arguments}
        url = rule.build(args, append_unknown=False)[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, url, method, getattr(view, ACCESS_ATTR, None)


def _call(client, method: str, url: str):
    return client.open(url, method=method, data={}, headers={"Accept": "text/html"})


def test_every_endpoint_declares_who_may_call_it(app):
    missing = [endpoint for endpoint, _, _, rule in _routes(app) if rule is None]
    assert missing == []


def test_anonymous_callers_reach_only_public_endpoints(app, client):
    app.config["WTF_CSRF_ENABLED"] = False  # reach the access check even on POST
    for endpoint, url, method, rule in _routes(app):
        if rule[0] == "public":
            continue
        response = _call(client, method, url)
        assert response.status_code in (302, 401, 403, 404), (endpoint, method, response.status_code)
        if response.status_code == 302:
            assert "/auth/login" in response.headers["Location"], (endpoint, response.headers["Location"])


@pytest.mark.parametrize("role", ROLES)
def test_wrong_roles_are_refused_everywhere(app, client, auth, role):
    auth.login_as(role)
    app.config["WTF_CSRF_ENABLED"] = False
    for endpoint, url, method, rule in _routes(app):
        kind, allowed = rule
        if kind == "public" or Role(role) in allowed:
            continue
        response = _call(client, method, url)
        assert response.status_code in (403, 404), (role, endpoint, method, response.status_code)


@pytest.mark.parametrize("role", ROLES)
def test_allowed_roles_never_get_a_server_error_on_any_route(app, client, auth, role):
    auth.login_as(role)
    app.config["WTF_CSRF_ENABLED"] = False
    for endpoint, url, method, rule in _routes(app):
        kind, allowed = rule
        if endpoint in {"auth.logout", "main.set_language"}:
            continue
        if kind == "public" or Role(role) in allowed:
            response = _call(client, method, url)
            assert response.status_code < 500, (role, endpoint, method, response.status_code)


def test_an_undeclared_route_is_closed(app, client, auth):
    def secret():
        return "secret"

    app.add_url_rule("/undeclared", "undeclared", secret)
    auth.login_as("admin")
    assert client.get("/undeclared").status_code == 403
