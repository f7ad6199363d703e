"""Browser tests: the real server (gunicorn, as `make run` starts it) on a fresh instance with
the demo dataset and a built suggestion index, driven by Debian's headless Chromium.

Fixtures: ``live_server`` (session), ``browser`` (session), ``role_page`` (one signed-in tab
per role, shared by the tests of a module), ``shot`` (screenshots to ``artifacts/``) and
``browser_problems`` (server errors and console errors seen by any tab).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from benchmarks.harness import OFFLINE, HarnessError, Instance, Server, free_port
from tests.conftest import make_app, unavailable

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
DEMO_PASSWORD = "e2e-Demo-passw0rd-7"
SERVER_START_TIMEOUT = 120  # seconds; the worker loads the embedding model and the index


@dataclass(frozen=True)
class ExpertAccount:
    profile_id: int
    email: str  # sign-in e-mail (the profile e-mail, lower-cased)
    name: str
    phone: str
    contact_email: str
    wechat: str
    research_areas: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class EnterpriseAccount:
    email: str
    name: str
    organization: str
    contact_name: str
    phone: str
    contact_email: str
    wechat: str


@dataclass
class LiveServer:
    server: Server
    instance: Path
    password: str
    coordinator_email: str
    enterprise: EnterpriseAccount
    experts: dict[int, ExpertAccount] = field(default_factory=dict)
    showcase_expert_email: str = ""  # the demo expert with the most matches (the one README names)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def log(self) -> Path:
        return self.server.log

    def log_tail(self, lines: int = 40) -> str:
        return self.server.tail(lines) or "(no server log)"

    def health(self) -> dict:
        return self.server.health(timeout=5)


def ui(msgid: str, locale: str = "zh", **params) -> str:
    """What the server shows for ``msgid`` in ``locale``: read from the same catalogues the
    server uses, so assertions hold whatever state the translations are in."""
    from babel.support import Translations

    translations = Translations.load(str(PROJECT_ROOT / "web" / "translations"), [locale], domain="messages")
    text = translations.gettext(msgid)
    return text % params if params else text


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium and the Python Playwright driver, or a skip (a failure in CI)."""
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        unavailable("the Python package playwright is not installed (pip install -r requirements-dev.txt)")
    return CHROMIUM


def _prepare_instance(instance: Path) -> tuple[str, EnterpriseAccount, dict[int, ExpertAccount], str]:
    """Migrated SQLite database with the demo dataset, and the suggestion index built once."""
    from flask_migrate import upgrade

    app = make_app(instance, f"sqlite:///{instance / 'matcher.db'}")
    with app.app_context():
        import sqlalchemy as sa

        from models import ExpertProfile, Role, User, db
        from web.infra.demo import load_demo, read_dataset
        from web.matching.indexing import Indexer

        upgrade()
        _, logins = load_demo(read_dataset(), password=DEMO_PASSWORD)
        coordinator = next(x.email for x in logins if x.role == Role.COORDINATOR)
        enterprise_email = next(x.email for x in logins if x.role == Role.ENTERPRISE)
        showcase_expert = next(x.email for x in logins if x.role == Role.EXPERT)
        user = db.session.scalar(sa.select(User).where(User.email == enterprise_email))
        org = user.organization
        enterprise = EnterpriseAccount(user.email, user.name, org.name, org.contact_name, org.contact_phone,
                                       org.contact_email, org.contact_wechat)
        experts = {
            p.id: ExpertAccount(p.id, p.user.email, p.name, p.phone, p.email, p.wechat,
                                tuple(p.research_areas or ()), tuple(p.keywords or ()))
            for p in db.session.scalars(sa.select(ExpertProfile).where(ExpertProfile.user_id.is_not(None)))
        }
        db.session.rollback()
        indexer = Indexer(app.config["INDEX_DIR"], app.config["MATCHER_EMBEDDING_MODEL"])
        indexer.acquire()
        try:
            result = indexer.start()
        finally:
            indexer.release()
        assert result.startswith(("rebuilt", "loaded")), result
        db.session.remove()
        db.engine.dispose()
    return coordinator, enterprise, experts, showcase_expert


@pytest.fixture(scope="session")
def live_server(chromium, tmp_path_factory) -> LiveServer:
    """gunicorn as `make run` starts it (development settings, the indexer thread) on the instance."""
    ARTIFACTS.mkdir(exist_ok=True)
    for old in itertools.chain(ARTIFACTS.glob("*.png"), ARTIFACTS.glob("server.log")):
        old.unlink()
    instance = tmp_path_factory.mktemp("e2e-instance")
    coordinator, enterprise, experts, showcase_expert = _prepare_instance(instance)
    # PROXY_COUNT=1: the server reads the client address from X-Forwarded-For, which the
    # ``browser`` fixture sets per browser context (see there)
    env = Instance(instance).env(MATCHER_ENV="development", MATCHER_INDEX_POLL_SECONDS="0.5", PROXY_COUNT="1", **OFFLINE)
    server = Server(env, free_port(), ARTIFACTS / "server.log")
    live = LiveServer(server, instance, DEMO_PASSWORD, coordinator, enterprise, experts, showcase_expert)
    server.start()
    try:
        try:
            server.wait_index(SERVER_START_TIMEOUT, accept=lambda report: report.get("database") == "ok")
        except HarnessError as exc:
            pytest.fail(str(exc))
        yield live
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser(chromium):
    from playwright.sync_api import sync_playwright

    manager = sync_playwright().start()
    try:
        instance = manager.chromium.launch(executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS)
    except Exception as exc:
        manager.stop()
        unavailable(f"Chromium did not start: {exc}")
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)  # a loaded CI machine answers slowly; the default is 5 s
    _one_address_per_context(instance)
    yield instance
    instance.close()
    manager.stop()


def _one_address_per_context(browser) -> None:
    """Each browser context is another user on another machine: it gets its own client address
    (X-Forwarded-For, trusted by the server through PROXY_COUNT=1). Otherwise every sign-in of
    the session comes from 127.0.0.1 and the per-address sign-in limit (10 a minute) refuses
    the later ones, depending on how fast the tests before them ran."""
    clients = itertools.count(1)
    new_context = browser.new_context

    def new_context_with_address(**kwargs):
        number = next(clients)
        headers = {"X-Forwarded-For": f"10.12.{number // 250}.{number % 250 + 1}", **(kwargs.pop("extra_http_headers", None) or {})}
        return new_context(extra_http_headers=headers, **kwargs)

    browser.new_context = new_context_with_address


@dataclass
class Problems:
    """HTTP 5xx answers, uncaught page errors and console errors (e.g. CSP violations)."""

    items: list[str] = field(default_factory=list)

    def watch(self, context, role: str) -> None:
        def on_response(response):
            if response.status >= 500:
                self.items.append(f"[{role}] HTTP {response.status} {response.request.method} {response.url}")

        def on_console(message):
            if message.type == "error":
                self.items.append(f"[{role}] console: {message.text}")

        context.on("response", on_response)
        context.on("console", on_console)
        context.on("weberror", lambda error: self.items.append(f"[{role}] page error: {error.error}"))


def sign_in(page, email: str, password: str) -> None:
    """Fill and send the sign-in form (the caller checks the outcome)."""
    page.goto("/auth/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("form [type=submit]#submit")


def signed_in_page(browser, live_server, email: str, *, width: int = 1280, timeout: int = 20_000,
                   navigation_timeout: int | None = None):
    """A new browser context (own cookies, Chinese) signed in as ``email``: (context, page)."""
    from playwright.sync_api import expect

    context = browser.new_context(base_url=live_server.url, locale="zh-CN", viewport={"width": width, "height": 900})
    context.set_default_timeout(timeout)
    if navigation_timeout is not None:
        context.set_default_navigation_timeout(navigation_timeout)
    page = context.new_page()
    sign_in(page, email, live_server.password)
    expect(page.locator("#logout")).to_have_count(1)
    return context, page


@pytest.fixture(scope="module")
def browser_problems() -> Problems:
    return Problems()


@pytest.fixture(scope="module")
def role_page(live_server, browser, browser_problems):
    """``role_page("coordinator")``: that role's tab (own cookies), created on first use."""
    contexts = {}
    pages = {}

    def get(role: str):
        if role not in pages:
            context = browser.new_context(base_url=live_server.url, locale="zh-CN", viewport={"width": 1280, "height": 900})
            context.set_default_timeout(20_000)
            browser_problems.watch(context, role)
            contexts[role] = context
            pages[role] = context.new_page()
        return pages[role]

    yield get
    for context in contexts.values():
        context.close()


_shots = itertools.count(1)


@pytest.fixture(scope="session")
def shot():
    """``shot(page, "enterprise-need-posted")`` → artifacts/NN-enterprise-need-posted.png."""

    def take(page, name: str) -> Path:
        safe = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")
        path = ARTIFACTS / f"{next(_shots):02d}-{safe}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
