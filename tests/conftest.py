"""Fixtures: ``app``, ``client``, ``runner``, ``auth`` (log in as a role) and data factories.

Each test gets its own database, copied from a template migrated once per session: a file
copy on SQLite (the default), ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL
(``pytest --db postgresql``; the server at ``MATCHER_TEST_POSTGRES``, default
postgresql+psycopg://postgres@127.0.0.1:5432/postgres). Tests therefore never depend on
each other's data.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from tests.factories import Factory  # noqa: E402
from web import create_app  # noqa: E402

REQUIRE_ALL = os.environ.get("MATCHER_REQUIRE_ALL") == "1"
# One embedding store for the whole session: a text is embedded once, whichever test indexes it
# (the tests of the store itself use their own files).
SESSION_EMBEDDINGS = Path(os.environ.get("MATCHER_TEST_EMBEDDING_STORE") or
                          Path(__import__("tempfile").gettempdir()) / f"matcher-test-embeddings-{os.getpid()}.sqlite")
POSTGRES_ADMIN_URL = os.environ.get("MATCHER_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def pytest_addoption(parser):
    parser.addoption("--db", choices=["sqlite", "postgresql"], default="sqlite",
                     help="database backend for the tests that use one (default: sqlite)")


def pytest_report_header(config):
    return f"database backend: {config.getoption('--db')}"


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
        "EMBEDDING_STORE": str(SESSION_EMBEDDINGS),
    }
    values.update(overrides)
    return values


@contextlib.contextmanager
def recorded_statements(app):
    """The SQL statements the app's engine executes inside the block (a list, filled as they run)."""
    import sqlalchemy as sa

    from models import db

    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def record(conn, cursor, statement, *args):
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


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


class PostgresDatabases:
    """Creates and drops per-test databases on the local PostgreSQL server."""

    def __init__(self, admin_url: str) -> None:
        import sqlalchemy as sa

        self.admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
        self.base_url = sa.engine.make_url(admin_url)
        self.prefix = f"matcher_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.count = 0

    def url(self, name: str) -> str:
        return self.base_url.set(database=name).render_as_string(hide_password=False)

    def execute(self, sql: str) -> None:
        import sqlalchemy as sa

        with self.admin.connect() as conn:
            conn.execute(sa.text(sql))

    def create(self, template: str | None = None) -> str:
        self.count += 1
        name = f"{self.prefix}_{self.count}" if template else f"{self.prefix}_template"
        self.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return name

    def drop(self, name: str) -> None:
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres(request):
    if request.config.getoption("--db") != "postgresql":
        yield None
        return
    import sqlalchemy as sa

    try:
        databases = PostgresDatabases(POSTGRES_ADMIN_URL)
        with databases.admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # any reason the server cannot be used
        unavailable(f"PostgreSQL half of the suite NOT run: {POSTGRES_ADMIN_URL} unreachable ({type(exc).__name__}: {exc})")
    yield databases
    with databases.admin.connect() as conn:
        leftovers = conn.execute(sa.text("SELECT datname FROM pg_database WHERE datname LIKE :p"),
                                 {"p": f"{databases.prefix}%"}).scalars().all()
    for name in leftovers:
        databases.drop(name)
    databases.admin.dispose()


@pytest.fixture(scope="session")
def postgres_template(postgres, tmp_path_factory):
    if postgres is None:
        return None
    from flask_migrate import upgrade

    name = postgres.create()
    base = tmp_path_factory.mktemp("pg-template")
    app = make_app(base, postgres.url(name))
    with app.app_context():
        upgrade()
        from models import db

        db.engine.dispose()
    return name


@pytest.fixture
def database_url(request, tmp_path, template_db, postgres, postgres_template):
    """A fresh, migrated database for one test."""
    if postgres is None:
        db_path = tmp_path / "test.db"
        shutil.copy(template_db, db_path)
        yield f"sqlite:///{db_path}"
        return
    name = postgres.create(template=postgres_template)
    yield postgres.url(name)
    postgres.drop(name)


@pytest.fixture
def app(tmp_path, database_url):
    """A fresh app and database. No app context is held: requests made by the test client
    get their own context (and their own ``g``), as in production."""
    application = make_app(tmp_path, database_url)
    yield application
    with application.app_context():
        from models import db

        db.session.remove()
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
