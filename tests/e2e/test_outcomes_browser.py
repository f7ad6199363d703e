"""A contract the enterprise recorded counts once the expert confirms it (issue 12, gap 4), in
headless Chromium against the real server and the demo data: the dashboard leaves it out, the
expert sees it awaiting his confirmation on the stepper and confirms it, the timeline says who
recorded and who confirmed it, and the dashboard then adds its amount. The expert uses a phone
(390 px): the stepper wraps inside its box."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests.e2e.conftest import ui

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def pending_contract(live_server) -> dict:
    """The demo's contract recorded by an enterprise and not yet confirmed (data/demo/industry)."""
    engine = sa.create_engine(f"sqlite:///{live_server.instance / 'matcher.db'}")
    try:
        with engine.connect() as conn:
            row = conn.execute(sa.text(
                "SELECT m.id, u.email, p.name, o.amount_yuan FROM matches m JOIN expert_profiles p ON p.id = m.expert_id "
                "JOIN users u ON u.id = p.user_id JOIN match_outcomes o ON o.match_id = m.id AND o.state = 'pending' "
                "WHERE m.status = 'contract_by_enterprise' ORDER BY m.id LIMIT 1")).one()
    finally:
        engine.dispose()
    return {"match_id": row[0], "email": row[1], "name": row[2], "amount": Decimal(row[3]) / 10_000}


def contract_value(page) -> Decimal:
    page.goto("/dashboard/")
    return Decimal(page.locator('#figures [data-figure="contract_value_wan"] dd').inner_text().strip())


def test_the_expert_confirms_the_contract_the_enterprise_recorded_and_the_dashboard_counts_it(live_server, browser, role_page, shot):
    from playwright.sync_api import expect

    pending = pending_contract(live_server)
    coordinator = role_page("coordinator")
    coordinator.goto("/auth/login")
    coordinator.fill("#email", live_server.coordinator_email)
    coordinator.fill("#password", live_server.password)
    coordinator.click("form [type=submit]#submit")
    before = contract_value(coordinator)

    context = browser.new_context(base_url=live_server.url, locale="zh-CN", viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        page.goto("/auth/login")
        page.fill("#email", pending["email"])
        page.fill("#password", live_server.password)
        page.click("form [type=submit]#submit")
        page.goto(f"/matches/{pending['match_id']}")
        expect(page.locator('#stepper [data-step="contract"]')).to_have_attribute("data-state", "waiting")
        expect(page.locator("#awaiting-confirmation")).to_contain_text(ui("the expert"))
        expect(page.locator("#decide")).to_be_visible()
        assert page.evaluate("(() => { const s = document.getElementById('stepper'); return s.scrollWidth <= s.clientWidth + 1 })()"), \
            "the stepper overflows its box at 390 px"
        shot(page, "expert-confirms-contract-390")
        page.click("#confirm-contract")
        page.wait_for_load_state()
        expect(page.locator("#match-status")).to_have_class(re.compile(r"\bstatus-contract\b"))
        expect(page.locator('#stepper [data-step="contract"]')).to_have_attribute("data-state", "done")
        expect(page.locator("#decide")).to_have_count(0)
        record = page.locator('#timeline .outcome-record[data-state="counted"]').last
        expect(record).to_contain_text(ui("confirmed by %(who)s", who=f"{ui('Expert')} {pending['name']}"))
        shot(page, "contract-confirmed")
    finally:
        context.close()

    assert contract_value(coordinator) == before + pending["amount"]
    shot(coordinator, "dashboard-after-confirmation")
