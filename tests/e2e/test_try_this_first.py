"""README's "Try this first" walk, step by step in Chromium against the demo data, so that the
walk stays true to the pages: the accounts it names, the need it points at, the labels it quotes
and the publication lines it gives to paste (read from README itself)."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import PROJECT_ROOT, signed_in_page, ui

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ENTERPRISE = "huangyg@dongchi.example.cn"
EXPERT = "fuqiang@caeri.example.cn"
PROFESSOR = "wujp@scut.example.cn"
COORDINATOR = "coordinator@demo.example.cn"
SPRING_NEED = "弹簧装车跑了两三万公里就断，断口在第二圈附近"


@pytest.fixture(scope="module")
def walk() -> str:
    text = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"^## Try this first.*?(?=^## )", text, re.S | re.M)
    assert found, "README has no 'Try this first' section"
    return found.group(0)


def test_the_walk_names_these_accounts_need_and_labels(walk):
    for words in (ENTERPRISE, EXPERT, PROFESSOR, COORDINATOR, SPRING_NEED, "付强",
                  ui("Matches"), ui("Proposals"), ui("Accept"), ui("Review queue"), ui("Propose the selected experts"),
                  ui("Read the lines"), ui("Add the ticked rows"), ui("Plan the assignment"), ui("Schedule per expert"),
                  ui("Menu"), ui("Accepted by enterprise"), ui("Connected"), ui("Proposed")):
        assert words in walk, words


def _open_spring_match(page):
    from playwright.sync_api import expect

    page.locator("header nav a[href='/matches/']").click()
    row = page.locator("#matches tbody tr").filter(has=page.get_by_role("link", name=SPRING_NEED, exact=True))
    expect(row).to_have_count(1)
    return row


def test_steps_2_and_3_enterprise_then_expert_accept_and_contacts_appear(live_server, browser, shot):
    from playwright.sync_api import expect

    context, page = signed_in_page(browser, live_server, ENTERPRISE)
    try:
        row = _open_spring_match(page)
        expect(row).to_contain_text("付强")
        expect(row.locator(".status")).to_have_text(ui("Proposed"))
        row.get_by_role("link").click()
        expect(page.locator("#contacts .hint")).to_be_visible()
        assert EXPERT not in page.locator("body").inner_text()
        page.click("#accept")
        expect(page.locator("#match-status")).to_have_text(ui("Accepted by enterprise"))
        shot(page, "walk-2-enterprise-accepted")
    finally:
        context.close()

    context, page = signed_in_page(browser, live_server, EXPERT)
    try:
        row = _open_spring_match(page)
        row.get_by_role("link").click()
        page.click("#accept")
        expect(page.locator("#match-status")).to_have_text(ui("Connected"))
        expect(page.locator("#contacts")).to_contain_text(ENTERPRISE)
        shot(page, "walk-3-expert-connected")
    finally:
        context.close()


def test_step_5_the_professor_pastes_the_readme_lines(live_server, browser, walk, shot):
    from playwright.sync_api import expect

    lines = re.search(r"paste for example\s*```\s*\n(.*?)\n\s*```", walk, re.S).group(1)
    lines = [line.strip() for line in lines.splitlines() if line.strip()]
    assert len(lines) == 3
    context, page = signed_in_page(browser, live_server, PROFESSOR)
    try:
        page.goto("/expert/profile")
        before = page.locator("#achievements ul.achievements > li").count()
        page.fill("#publications", "\n".join(lines))
        page.click("#bulk-read")
        rows = page.locator("#bulk-rows tbody tr")
        expect(rows).to_have_count(3)
        expect(page.locator("#bulk-summary")).to_contain_text(ui("%(count)s line(s) read", count=2))
        expect(rows.nth(0).locator("input[name$='-title']")).to_have_value("基于深度学习的冲压件表面缺陷检测")
        expect(rows.nth(0).locator("input[name$='-venue']")).to_have_value("机械工程学报")
        expect(rows.nth(1).locator("input[name$='-year']")).to_have_value("2021")
        expect(rows.nth(2).locator("input[type=checkbox]")).not_to_be_checked()
        expect(rows.nth(2).locator(".bulk-problem")).to_be_visible()
        rows.nth(1).locator("input[name$='-year']").fill("2022")
        rows.nth(1).locator("select[name$='-kind']").select_option("award")
        shot(page, "walk-5-preview")
        page.click("#bulk-confirm")
        expect(page).to_have_url(re.compile(r"/expert/profile#achievements$"))
        items = page.locator("#achievements ul.achievements > li")
        expect(items).to_have_count(before + 2)
        fixed = items.filter(has_text="Few-shot defect detection on assembly lines")
        expect(fixed).to_contain_text("(2022)")
        expect(fixed.locator(".tag")).to_have_text(ui("Award"))
        expect(items.filter(has_text="基于深度学习的冲压件表面缺陷检测")).to_contain_text("机械工程学报")
    finally:
        context.close()
