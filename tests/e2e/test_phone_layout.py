"""Every main page of every role on a phone (390 × 844, Chromium in mobile mode), in Chinese and
in English: the page never scrolls sideways (wide tables scroll inside their own box), its
buttons are on screen, and the folded navigation menu opens. Screenshots go to ``artifacts/``
(``NN-phone-<locale>-<role>-<page>.png`` and ``…-menu.png`` with the menu open).

The pages are data (``PHONE_PAGES``): a new page is one more line. A page is reached by a fixed
path, or from a list page by following links/clicking (``steps``), so the demo data decides
which need, match or event is opened.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from tests.e2e.conftest import ARTIFACTS, ui

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
LOCALES = ("zh", "en")
EVENT_NAME = "手机端对接会"

# A pasted publication list for the achievements preview (one line the parser cannot read).
BULK_LINES = "\n".join((
    "陈志远, 李明. 荔枝花芽分化的温度调控研究[J]. 园艺学报, 2021, 48(3): 401-410.",
    "Chen, Z., & Li, M. (2020). Temperature control of floral induction in litchi. Scientia Horticulturae, 261, 108-117.",
    "看不出是什么的一行",
))


@dataclass(frozen=True)
class PhonePage:
    """One page to check. ``steps`` run after opening ``path``: ("click", css) follows the first
    match, ("fill", css, text) types into a field. ``ready`` must be visible when it is open."""

    role: str  # anonymous | enterprise | expert | coordinator
    name: str
    path: str
    steps: tuple[tuple[str, ...], ...] = ()
    ready: str = "main h1"
    needs_event: bool = False


PHONE_PAGES: list[PhonePage] = [
    PhonePage("anonymous", "home", "/", ready="#how-it-works"),
    PhonePage("anonymous", "login", "/auth/login"),
    PhonePage("anonymous", "signup", "/auth/signup"),
    PhonePage("enterprise", "needs", "/enterprise/needs", ready="#needs"),
    PhonePage("enterprise", "need-form", "/enterprise/needs/new", ready="#need-form"),
    PhonePage("enterprise", "need-detail", "/enterprise/needs", (("click", "#needs tbody a"),), ready=".page-head .status"),
    PhonePage("enterprise", "matches", "/matches/", ready="#matches"),
    PhonePage("enterprise", "match", "/matches/", (("click", "#matches tbody a"),), ready="#match-status"),
    PhonePage("enterprise", "notifications", "/notifications"),
    PhonePage("expert", "profile", "/expert/profile", ready="#profile-form"),
    PhonePage("expert", "achievements", "/expert/profile#achievements", ready="#bulk-form"),
    PhonePage("expert", "achievements-preview", "/expert/profile",
              (("fill", "#publications", BULK_LINES), ("click", "#bulk-form [type=submit]")), ready="#bulk-preview"),
    PhonePage("expert", "recommended", "/expert/recommended", ready="#recommended .suggestion"),
    PhonePage("expert", "discovered-need", "/expert/recommended", (("click", "#recommended a.need-link"),), ready="#need .facts"),
    PhonePage("expert", "proposals", "/matches/", ready="#matches"),
    PhonePage("expert", "match", "/matches/", (("click", "#matches tbody a"),), ready="#match-status"),
    PhonePage("coordinator", "queue", "/coordinator/queue", ready="#queue"),
    PhonePage("coordinator", "need-detail", "/coordinator/queue", (("click", "#queue tbody a"),), ready="#suggestions"),
    PhonePage("coordinator", "queue-filtered", "/coordinator/queue?state=all&proposals=with&interest=without&sort=most_proposals",
              ready="#queue tbody tr"),
    PhonePage("coordinator", "expert", "/coordinator/queue",
              (("click", "#queue tbody a"), ("click", "#suggestions a.expert-link")), ready="#expert .facts"),
    PhonePage("coordinator", "events", "/coordinator/events", ready="#event-form", needs_event=True),
    PhonePage("coordinator", "event-detail", "/coordinator/events", (("click", "#events tbody a"),), ready="#plan",
              needs_event=True),
    PhonePage("coordinator", "event-schedule", "/coordinator/events",
              (("click", "#events tbody a"), ("click", "main a[href$='/schedule']")), needs_event=True),
    PhonePage("coordinator", "accounts", "/coordinator/accounts"),
    PhonePage("coordinator", "import-export", "/transfer/"),
    PhonePage("coordinator", "dashboard", "/dashboard/"),
    PhonePage("coordinator", "matches", "/matches/", ready="#matches"),
    PhonePage("coordinator", "match", "/matches/", (("click", "#matches tbody a"),), ready="#match-status"),
]

# The page's horizontal overflow, and which elements stick out of the screen outside any box
# that scrolls or clips on its own (what a reader would have to scroll the whole page for).
LAYOUT_JS = """(screenWidth) => {
  // A mobile browser widens its layout viewport (window.innerWidth) to fit content wider than the
  // screen, so the screen's width, not innerWidth alone, is what the page must fit.
  const vw = Math.min(window.innerWidth, screenWidth);
  const boxed = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === 'auto' || o === 'scroll' || o === 'hidden' || o === 'clip') return true;
    }
    return false;
  };
  const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
    + (typeof el.className === 'string' && el.className.trim() ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
  const visible = (el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0
    && getComputedStyle(el).visibility !== 'hidden'; };
  const sticking = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (visible(el) && (r.right > vw + 0.5 || r.left < -0.5) && !boxed(el)) sticking.push(name(el) + ' [' + Math.round(r.left) + ', ' + Math.round(r.right) + ']');
  }
  const buttons = [];
  for (const el of document.querySelectorAll('main button, main [type=submit], main .button')) {
    const r = el.getBoundingClientRect();
    if (visible(el) && (r.right > vw + 0.5 || r.left < -0.5) && !boxed(el)) buttons.push(name(el) + ': ' + el.textContent.trim().slice(0, 30));
  }
  return {scrollWidth: document.scrollingElement.scrollWidth, innerWidth: window.innerWidth, screenWidth: screenWidth,
          sticking: sticking.slice(0, 12), buttons: buttons};
}"""


def assert_fits_the_phone(page, what: str) -> None:
    layout = page.evaluate(LAYOUT_JS, PHONE["viewport"]["width"])
    width = min(layout["innerWidth"], layout["screenWidth"])
    assert layout["scrollWidth"] <= width and layout["innerWidth"] <= layout["screenWidth"], (
        f"{what}: the page is {layout['scrollWidth']} px wide (layout viewport {layout['innerWidth']} px) "
        f"on a {layout['screenWidth']} px screen; sticking out: {layout['sticking']}")
    assert not layout["buttons"], f"{what}: buttons off screen: {layout['buttons']}"


def open_menu(page) -> None:
    """The folded menu: hidden at first, the button opens it, its links are then on screen."""
    from playwright.sync_api import expect

    nav = page.locator("#site-menu nav")
    expect(nav).to_be_hidden()
    page.click("#menu-button")
    expect(nav).to_be_visible()
    links = nav.locator("a")
    assert links.count() >= 2, "the menu holds no links"
    for link in links.all():
        expect(link).to_be_in_viewport()
    expect(page.locator("#switch-language")).to_be_visible()


@pytest.fixture(scope="module")
def phone_page(live_server, browser, browser_problems):
    """``phone_page(role, locale)``: a signed-in (or anonymous) phone tab in that UI language."""
    from playwright.sync_api import expect

    tabs = {}
    contexts = []
    accounts = {"enterprise": live_server.enterprise.email, "expert": live_server.showcase_expert_email,
                "coordinator": live_server.coordinator_email}

    def get(role: str, locale: str):
        if (role, locale) in tabs:
            return tabs[role, locale]
        context = browser.new_context(base_url=live_server.url, locale="zh-CN", **PHONE)
        context.set_default_timeout(30_000)
        browser_problems.watch(context, f"phone {role} {locale}")
        contexts.append(context)
        page = context.new_page()
        page.goto("/auth/login")
        if role != "anonymous":
            page.fill("#email", accounts[role])
            page.fill("#password", live_server.password)
            page.click("form [type=submit]#submit")
            expect(page.locator("#menu-button")).to_be_visible()
        if locale == "en":
            if role != "anonymous":
                page.click("#menu-button")
            page.click("#switch-language")
            expect(page.locator("html")).to_have_attribute("lang", "en")
        tabs[role, locale] = page
        return page

    yield get
    for context in contexts:
        context.close()


@pytest.fixture(scope="module")
def phone_event(phone_page):
    """A planned matchmaking event, made on the phone through the events form (so that the form
    itself is proven usable on a phone)."""
    from playwright.sync_api import expect

    page = phone_page("coordinator", "zh")
    page.goto("/coordinator/events")
    existing = page.locator("#events tbody a").filter(has_text=EVENT_NAME)
    if existing.count():
        return
    page.fill("#name", EVENT_NAME)
    page.fill("#starts_at", "2027-04-08T14:00")
    page.fill("#place", "湛江")
    page.click("#event-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/coordinator/events/\d+$"))
    for box in page.locator("#add-needs input[name=need_id]").all()[:2]:
        box.check()
    page.locator("#add-needs button[type=submit]").last.click()
    page.click("#invite-suggested")
    page.click("#plan-button")
    expect(page.locator("#plan .slot").first).to_be_visible()


def _reach(page, spec: PhonePage) -> None:
    from playwright.sync_api import expect

    page.goto("about:blank")  # a fresh load even when only the #fragment differs (the menu starts folded)
    page.goto(spec.path)
    for step in spec.steps:
        if step[0] == "click":
            target = page.locator(step[1]).first
            expect(target).to_be_visible()
            target.click()
            page.wait_for_load_state()
        elif step[0] == "fill":
            # Set without focusing: a focused field makes mobile Chromium shift the visual viewport,
            # and Playwright then hit-tests the next tap off by that shift (seen in the English run).
            page.locator(step[1]).evaluate("(field, text) => { field.value = text; }", step[2])
        else:
            raise AssertionError(f"unknown step {step}")
    expect(page.locator(spec.ready).first).to_be_visible()


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("spec", PHONE_PAGES, ids=lambda s: f"{s.role}-{s.name}")
def test_every_page_fits_a_phone_and_its_menu_opens(spec, locale, phone_page, request, shot):
    from playwright.sync_api import expect

    if spec.needs_event:
        request.getfixturevalue("phone_event")
    page = phone_page(spec.role, locale)
    _reach(page, spec)
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN" if locale == "zh" else "en")
    shot(page, f"phone-{locale}-{spec.role}-{spec.name}")
    assert_fits_the_phone(page, f"{spec.role} {spec.name} ({locale})")
    if spec.role == "anonymous":
        expect(page.locator("#menu-button")).to_have_count(0)  # nothing to fold: sign in / sign up stay visible
        expect(page.locator(".account a[href='/auth/login']")).to_be_in_viewport()
        return
    open_menu(page)
    assert_fits_the_phone(page, f"{spec.role} {spec.name} ({locale}), menu open")
    page.screenshot(path=str(ARTIFACTS / f"phone-{locale}-{spec.role}-{spec.name}-menu.png"))  # the screen, menu open


def test_the_menu_works_without_javascript(live_server, browser, shot):
    """The fold is a checkbox and its label: with scripts off the menu still opens."""
    from playwright.sync_api import expect

    context = browser.new_context(base_url=live_server.url, java_script_enabled=False, **PHONE)
    try:
        page = context.new_page()
        page.goto("/auth/login")
        page.fill("#email", live_server.coordinator_email)
        page.fill("#password", live_server.password)
        page.click("form [type=submit]#submit")
        expect(page).to_have_url(re.compile(r"/coordinator/queue$"))
        open_menu(page)
        page.locator("#site-menu nav").get_by_role("link", name=ui("Events")).click()
        expect(page).to_have_url(re.compile(r"/coordinator/events$"))
        expect(page.locator("#site-menu nav")).to_be_hidden()  # a new page starts folded
        shot(page, "phone-zh-coordinator-menu-without-javascript")
    finally:
        context.close()


def test_a_wide_table_scrolls_inside_its_box(phone_page):
    """The queue's table is wider than the phone: it scrolls sideways on its own, the page does not."""
    page = phone_page("coordinator", "zh")
    page.goto("/coordinator/queue")
    box = page.evaluate("""() => { const t = document.querySelector('#queue');
        return {client: t.clientWidth, scroll: t.scrollWidth, overflow: getComputedStyle(t).overflowX}; }""")
    assert box["client"] <= 390, box
    assert box["scroll"] > box["client"], box  # wider than the screen: its columns are not crushed
    assert box["overflow"] in ("auto", "scroll"), box
    lines = page.evaluate("""() => [...document.querySelectorAll('#queue thead th')].map(th => {
        const range = document.createRange(); range.selectNodeContents(th);
        return [th.textContent.trim(), new Set([...range.getClientRects()].map(r => Math.round(r.top))).size]; })""")
    assert all(count == 1 for _, count in lines), f"headers broken over several lines: {lines}"
    assert_fits_the_phone(page, "queue")
