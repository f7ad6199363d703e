"""Fixtures: ``app``, ``client``, ``runner``, ``auth`` (log in as a role) and data factories.

Each test gets its own database: a copy of a migrated template (SQLite), so tests do not
depend on each other's data.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from tests.factories import Factory  # noqa: E402
from web import create_app  # noqa: E402

REQUIRE_ALL = os.environ.get("MATCHER_REQUIRE_ALL") == "1"


def unavailable(reason: str):
    """Skip locally with a plain reason; in CI (MATCHER_REQUIRE_ALL=1) that is a failure."""
    if REQUIRE_ALL:
        pytest.fail(f"required in CI but unavailable: {reason}")
    pytest.skip(reason)


def _config(instance: Path, database_url: str, **overrides) -> dict:
    values = {
        "TESTING": True,
        "INSTANCE_DIR": str(instance),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "INDEX_DIR": str(instance / "index"),
        "UPLOAD_DIR": str(instance / "uploads"),
        "WTF_CSRF_ENABLED": True,
        "RATELIMIT_ENABLED": False,
        "SERVER_NAME": None,
    }
    values.update(overrides)
    return values


def make_app(instance: Path, database_url: str, **overrides):
    os.environ["MATCHER_ENV"] = "testing"
    return create_app(_config(instance, database_url, **overrides))


@pytest.fixture(scope="session")
def template_db(tmp_path_factory) -> Path:
    """A SQLite database migrated with Alembic once per session."""
    from flask_migrate import upgrade

    base = tmp_path_factory.mktemp("template")
    path = base / "template.db"
    app = make_app(base, f"sqlite:///{path}")
    with app.app_context():
        upgrade()
        from models import db

        db.engine.dispose()
    return path


@pytest.fixture
def app(tmp_path, template_db):
    """A fresh app and database. No app context is held: requests made by the test client
    get their own context (and their own ``g``), as in production."""
    db_path = tmp_path / "test.db"
    shutil.copy(template_db, db_path)
    application = make_app(tmp_path, f"sqlite:///{db_path}")
    yield application
    with application.app_context():
        from models import db

        db.engine.dispose()


@pytest.fixture
def ctx(app):
    """An app context for tests that work with the database directly (no client requests)."""
    with app.app_context():
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def factory(app) -> Factory:
    return Factory(app)


class AuthActions:
    """Log a test client in as a user, with a real CSRF token from the login page."""

    def __init__(self, client, factory: Factory) -> None:
        self.client = client
        self.factory = factory

    def login(self, user, password: str = Factory.PASSWORD):
        page = self.client.get("/auth/login")
        token = csrf_token(page)
        return self.client.post(
            "/auth/login", data={"email": user.email, "password": password, "csrf_token": token}, follow_redirects=False
        )

    def login_as(self, role: str, **kwargs):
        user = self.factory.user(role=role, **kwargs)
        response = self.login(user)
        assert response.status_code == 302, response.data[:500]
        return user


@pytest.fixture
def auth(client, factory) -> AuthActions:
    return AuthActions(client, factory)


def csrf_token(response) -> str:
    import re

    match = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', response.data) or re.search(
        rb'name="csrf_token" value="([^"]+)"', response.data
    )
    assert match, "no CSRF token in page"
    return match.group(1).decode()
