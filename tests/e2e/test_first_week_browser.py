"""Issue 12's browser journey, end to end in headless Chromium against the real server and the
demo data: an expert finds an open need on 为您推荐的需求 and says 我感兴趣; the coordinator
finds that need through the queue's search, sees the expert among the interested experts and
proposes him; both sides accept (contacts appear only then); the enterprise records the
contract with a date and an amount (万元), which the dashboard leaves out until the expert
confirms it; then the dashboard counts the need in the contract stage and adds the amount.
Finally the expert, on his phone (390 px), says he is interested in another need.

The accounts come from the demo data, picked the same way on every run: the first demo expert
(by profile id) who has a login and no match at all and is none of the accounts README's walk
uses; the need is the best-ranked one on his own recommendations page that has no match yet
(so the funnel's contract stage moves by exactly one need) and whose enterprise has a login.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from tests.e2e.conftest import ARTIFACTS, signed_in_page, ui
from tests.e2e.test_try_this_first import ENTERPRISE as README_ENTERPRISE
from tests.e2e.test_try_this_first import EXPERT as README_EXPERT
from tests.e2e.test_try_this_first import PROFESSOR as README_PROFESSOR
from web.config import DEFAULT_TIMEZONE

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CONTRACT_WAN = Decimal("37.5")  # the contract's amount in 万元, as typed
NAVIGATION_TIMEOUT = 60_000  # ms: the machine is shared; a page that answers late is not a failure


def _query(live_server, sql: str, **params) -> list[tuple]:
    engine = sa.create_engine(f"sqlite:///{live_server.instance / 'matcher.db'}")
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(sa.text(sql), params)]
    finally:
        engine.dispose()


def quiet_experts(live_server) -> list[tuple[int, str, str]]:
    """Demo experts with a login and no match, by profile id: (profile id, e-mail, name)."""
    rows = _query(live_server,
                  "SELECT p.id, u.email, p.name FROM expert_profiles p JOIN users u ON u.id = p.user_id "
                  "WHERE u.status = 'active' AND NOT EXISTS (SELECT 1 FROM matches m WHERE m.expert_id = p.id) "
                  "ORDER BY p.id")
    return [row for row in rows if row[1] not in (README_EXPERT, README_PROFESSOR)]


def need_owner(live_server, need_id: int) -> dict | None:
    """The need's enterprise login and contact details, if the need has no match yet."""
    rows = _query(live_server,
                  "SELECT u.email, n.title, o.name, o.contact_phone, o.contact_email, n.industry_codes FROM needs n "
                  "JOIN organizations o ON o.id = n.organization_id JOIN users u ON u.organization_id = o.id "
                  "WHERE n.id = :need AND n.status = 'open' AND u.role = 'enterprise' AND u.status = 'active' "
                  "AND NOT EXISTS (SELECT 1 FROM matches m WHERE m.need_id = n.id) ORDER BY u.id",
                  need=need_id)
    if not rows or rows[0][0] == README_ENTERPRISE:
        return None
    email, title, org, phone, contact_email, _industries = rows[0]
    return {"email": email, "title": title, "organization": org, "phone": phone, "contact_email": contact_email}


def sign_in(browser, live_server, email: str, width: int = 1280):
    return signed_in_page(browser, live_server, email, width=width, timeout=30_000, navigation_timeout=NAVIGATION_TIMEOUT)


def open_recommended(page) -> None:
    from playwright.sync_api import expect

    nav = page.locator("#recommended-link")
    if not nav.is_visible():  # the phone layout folds the navigation into a menu
        page.click("#menu-button")
    nav.click()
    page.wait_for_load_state()
    expect(page.locator("#recommended h1")).to_have_text(ui("Needs recommended for you"))


def pick_need(page, live_server, skip: frozenset[int] = frozenset()) -> tuple[int, dict]:
    """The best-ranked need on the recommendations page that has no match and an enterprise login."""
    items = page.locator("#recommended li.suggestion")
    ids = [int(item.get_attribute("id").removeprefix("need-")) for item in items.all()]
    assert ids, "the expert's recommendations page lists no need"
    for need_id in ids:
        owner = None if need_id in skip else need_owner(live_server, need_id)
        if owner is not None:
            return need_id, owner
    pytest.fail(f"none of the recommended needs {ids} is unmatched with an enterprise login")


def express_interest(page, need_id: int, title: str) -> None:
    from playwright.sync_api import expect

    card = page.locator(f"#need-{need_id}")
    expect(card.locator("strong").first).to_have_text(title)
    expect(card.locator(".band")).to_contain_text("%")  # the engine's relevance for this expert
    expect(card.locator(f"#withdraw-interest-{need_id}")).to_have_count(0)
    card.locator(f"#interest-{need_id}").click()
    page.wait_for_load_state()
    expect(page.locator(".flash-success")).to_contain_text(
        ui("Your interest was recorded. The coordinator sees it on the need and may propose you."))
    card = page.locator(f"#need-{need_id}")
    expect(card.locator(".tag", has_text=ui("You are interested"))).to_be_visible()
    expect(card.locator(f"#withdraw-interest-{need_id}")).to_be_visible()
    expect(page.locator(f"#my-interests #interest-row-{need_id}")).to_contain_text(title)


def part(locator, name: str) -> None:
    """A screenshot of one block (the full-page shots of long pages are hard to read)."""
    locator.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def no_page_overflow(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1")


def dashboard(page) -> tuple[int, Decimal]:
    """The funnel's contract stage (needs) and the contract value (万元), as the page shows them."""
    from playwright.sync_api import expect

    page.goto("/dashboard/")
    expect(page.locator("#funnel-table")).to_be_visible()
    stage = int(page.locator('#funnel-table [data-stage="needs_contract"]').inner_text().strip())
    value = page.locator('#figures [data-figure="contract_value_wan"] dd').inner_text().strip()
    return stage, Decimal("0") if value == "—" else Decimal(value)


def open_match(page, title: str) -> None:
    from playwright.sync_api import expect

    page.locator("header nav a[href='/matches/']").first.click()
    page.wait_for_load_state()
    row = page.locator("#matches tbody tr").filter(has=page.get_by_role("link", name=title, exact=True))
    expect(row).to_have_count(1)
    row.get_by_role("link", name=title, exact=True).click()
    page.wait_for_load_state()
    expect(page.locator("h1")).to_have_text(title)


def expect_status(page, label: str) -> None:
    """The match page shows ``label`` as its state (the page's messages in the failure, if not)."""
    from playwright.sync_api import expect

    try:
        expect(page.locator("#match-status")).to_have_text(label)
    except AssertionError as exc:
        messages = page.locator(".flash, .error").all_inner_texts()
        raise AssertionError(f"{exc}\npage messages: {messages}") from None


def accept(page) -> None:
    page.locator("#accept").click()
    page.wait_for_load_state()


def interest_on_a_phone(page, live_server, shot, skip: frozenset[int]) -> None:
    """The interest step at 390 px: the list and its button fit the screen and the answer shows.
    (The same signed-in tab, narrowed: every sign-in counts against the server's per-address
    limit of sign-ins per minute, which the e2e session as a whole runs close to.)"""
    from playwright.sync_api import expect

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/")
    open_recommended(page)
    need_id, need = pick_need(page, live_server, skip)
    button = page.locator(f"#interest-{need_id}")
    expect(button).to_be_visible()
    box = button.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, f"the button is off screen: {box}"
    assert no_page_overflow(page), "the recommendations page overflows at 390 px"
    express_interest(page, need_id, need["title"])
    assert no_page_overflow(page), "the recommendations page overflows at 390 px after the interest"
    shot(page, "first-week-expert-interested-390")
    part(page.locator(f"#need-{need_id}"), "first-week-interest-card-390")


def test_an_expert_discovers_a_need_is_proposed_both_accept_and_a_confirmed_contract_reaches_the_dashboard(
        live_server, browser, shot):
    from playwright.sync_api import expect

    contexts = []
    try:
        # -- the expert discovers a need and says he is interested ----------------------------------------
        profile_id, expert_email, expert_name = quiet_experts(live_server)[0]
        expert_account = live_server.experts[profile_id]
        context, expert = sign_in(browser, live_server, expert_email)
        contexts.append(context)
        open_recommended(expert)
        need_id, need = pick_need(expert, live_server)
        title = need["title"]
        express_interest(expert, need_id, title)
        shot(expert, "first-week-expert-interested")

        # -- the coordinator finds the need in the queue, sees the interest and proposes him -------------
        context, coordinator = sign_in(browser, live_server, live_server.coordinator_email)
        contexts.append(context)
        contract_stage, contract_value = dashboard(coordinator)
        coordinator.locator("header nav a[href='/coordinator/queue']").first.click()
        coordinator.wait_for_load_state()
        coordinator.fill("#q", title)
        coordinator.click("#apply-filters")
        coordinator.wait_for_load_state()
        link = coordinator.locator(f"#queue a[href$='/coordinator/needs/{need_id}']")
        expect(link).to_have_text(title)
        shot(coordinator, "first-week-queue-search")
        link.click()
        coordinator.wait_for_load_state()
        interested = coordinator.locator(f"#interests #interest-{expert_account.profile_id}")
        expect(interested).to_contain_text(expert_name)
        expect(coordinator.locator("#interests h2")).to_contain_text(ui("Experts who expressed interest"))
        shot(coordinator, "first-week-need-interested-experts")
        part(interested.locator("xpath=ancestor::section[1]"), "first-week-interested-experts-block")
        interested.locator(f"#propose-interested-{profile_id}").click()
        coordinator.wait_for_load_state()
        expect(coordinator.locator(".flash-success")).to_contain_text(
            ui("%(count)s expert(s) proposed. Both sides were notified.", count=1))
        interested = coordinator.locator(f"#interests #interest-{profile_id}")
        expect(interested.locator(".status")).to_have_text(ui("Proposed"))
        expect(interested.locator(f"#propose-interested-{profile_id}")).to_have_count(0)

        # -- the expert accepts: no enterprise contact yet -------------------------------------------------
        open_match(expert, title)
        expect(expert.locator("#contacts")).to_contain_text(
            ui("Contact details of both sides appear here once the expert and the enterprise have both accepted."))
        for secret in (need["phone"], need["contact_email"]):
            if secret:
                expect(expert.locator("body")).not_to_contain_text(secret)
        accept(expert)
        expect_status(expert, ui("Accepted by expert"))
        expect(expert.locator("#contacts")).not_to_contain_text(need["phone"] or "\x00")

        # -- the enterprise accepts: now both see each other's contacts -----------------------------------
        context, enterprise = sign_in(browser, live_server, need["email"])
        contexts.append(context)
        open_match(enterprise, title)
        for secret in (expert_account.phone, expert_account.contact_email):
            if secret:
                expect(enterprise.locator("body")).not_to_contain_text(secret)
        accept(enterprise)
        expect_status(enterprise, ui("Connected"))
        contacts = enterprise.locator("#contacts")
        expect(contacts).to_contain_text(expert_account.phone)
        expect(contacts).to_contain_text(expert_account.contact_email)
        expert.reload()
        expect(expert.locator("#contacts")).to_contain_text(need["phone"])
        expect(expert.locator("#contacts")).to_contain_text(need["organization"])
        shot(expert, "first-week-connected-contacts")

        # -- the enterprise records the intent, then the contract with its date and amount ----------------
        today = datetime.now(ZoneInfo(DEFAULT_TIMEZONE)).date().isoformat()  # the server's time zone (harness default)
        expect(enterprise.locator("#record-intent")).to_be_visible()
        enterprise.fill("#progress-date", today)
        enterprise.click("#record-intent")
        enterprise.wait_for_load_state()
        expect_status(enterprise, ui("Cooperation intent"))
        enterprise.fill("#progress-date", today)
        enterprise.fill("#progress-amount", str(CONTRACT_WAN))
        enterprise.fill("#progress-note", "首期合同，含中试")
        enterprise.click("#record-contract")
        enterprise.wait_for_load_state()
        expect(enterprise.locator('#stepper [data-step="contract"]')).to_have_attribute("data-state", "waiting")
        expect(enterprise.locator("#awaiting-confirmation")).to_contain_text(ui("the expert"))
        pending = enterprise.locator('#timeline .outcome-record[data-state="pending"]')
        expect(pending).to_have_count(1)
        expect(pending).to_contain_text(ui("%(amount)s (10,000 CNY)", amount=CONTRACT_WAN))
        expect(pending).to_contain_text(ui("awaiting confirmation"))
        expect(pending).to_contain_text(today)
        shot(enterprise, "first-week-contract-awaiting-expert")

        # the dashboard does not count it yet
        assert dashboard(coordinator) == (contract_stage, contract_value), \
            "the dashboard counts a contract the other side has not confirmed"

        # -- the expert confirms: the dashboard counts the need and adds the amount -----------------------
        expert.reload()
        expect(expert.locator("#decide")).to_be_visible()
        expect(expert.locator("#awaiting-confirmation")).to_contain_text(ui("the expert"))
        expert.click("#confirm-contract")
        expert.wait_for_load_state()
        expect(expert.locator("#match-status")).to_have_class(re.compile(r"\bstatus-contract\b"))
        expect(expert.locator('#stepper [data-step="contract"]')).to_have_attribute("data-state", "done")
        expect(expert.locator("#decide")).to_have_count(0)
        expect(expert.locator("#awaiting-confirmation")).to_have_count(0)
        counted = expert.locator('#timeline .outcome-record[data-state="counted"]').last  # the intent's is first
        expect(counted).to_contain_text(ui("%(amount)s (10,000 CNY)", amount=CONTRACT_WAN))
        expect(counted).to_contain_text(ui("confirmed by %(who)s", who=f"{ui('Expert')} {expert_name}"))

        assert dashboard(coordinator) == (contract_stage + 1, contract_value + CONTRACT_WAN)
        shot(coordinator, "first-week-dashboard-contract-counted")
        part(coordinator.locator("#funnel"), "first-week-dashboard-funnel")
        part(coordinator.locator("[id^=breakdown-]").first, "first-week-dashboard-breakdown")
        # the breakdown tables scroll inside their box; their row labels stay readable (a month on one
        # line, not one character per line)
        lines = coordinator.evaluate("""() => [...document.querySelectorAll('[id^=breakdown-] tbody th[scope=row]')]
            .filter(th => /^\\d{4}-\\d{2}$/.test(th.textContent.trim()))
            .map(th => { const r = document.createRange(); r.selectNodeContents(th);
                         return [th.textContent.trim(), new Set([...r.getClientRects()].map(x => Math.round(x.top))).size]; })""")
        assert lines, "the dashboard has no month breakdown"
        assert all(n == 1 for _label, n in lines), f"month labels wrap: {lines}"

        # -- the same expert, on his phone, says he is interested in another need -------------------------
        interest_on_a_phone(expert, live_server, shot, skip=frozenset({need_id}))
    finally:
        for context in contexts:
            context.close()
