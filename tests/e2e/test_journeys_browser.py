"""The three journeys through the real pages, in headless Chromium against the real server.

The steps run in file order and hand each other the need and match they created (``journey``):
enterprise posts a need → coordinator reviews the suggestions and proposes an expert → the
expert accepts (no enterprise contacts yet) → the enterprise accepts and sees the expert's
contacts → the coordinator, in English, records intent and contract → the expert edits the
profile. UI labels are compared with the server's own catalogues (``ui``), so the assertions
hold whether or not the Chinese translations are filled in; data (titles, names, contact
details) and element ids carry the rest.
"""

from __future__ import annotations

import re
import time

import pytest

from tests.conftest import unavailable
from tests.e2e.conftest import PROJECT_ROOT, sign_in, ui

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NEED = {
    "title": "罗非鱼夏季链球菌病死鱼多，想在饲料里做免疫增强",
    "description": (
        "我们是做水产饲料的，客户主要养吉富罗非鱼。每年七八月水温超过32度，塘里就爆发链球菌病，"
        "鱼眼睛突出、打转，死鱼率能到两三成，无乳链球菌检出最多。客户一直靠拌抗生素，现在要减抗。"
        "想找专家一起开发添加免疫增强剂或益生菌的功能饲料，配合疫苗，做养殖试验验证效果。"
    ),
    "industry": ["04", "13"],
    "region": "广东省广州市",
    "modes": ["consulting", "development"],
    "budget_min": "10",
    "budget_max": "50",
    "deadline": "2027-06-30",
}
NEW_KEYWORD = "功能饲料免疫增强"
ACHIEVEMENT = {"kind": "patent", "year": "2025", "title": "一种提高罗非鱼抗链球菌病能力的复合免疫增强饲料添加剂",
               "abstract": "由β-葡聚糖、枯草芽孢杆菌和中草药提取物复配，养殖试验中攻毒后存活率提高约25%。"}


@pytest.fixture(scope="module")
def journey() -> dict:
    """What the steps hand on: need_id, match_id, expert (ExpertAccount)."""
    return {}


def needs(journey: dict, *keys: str):
    missing = [k for k in keys if k not in journey]
    if missing:
        pytest.fail(f"an earlier step of the journey failed (no {', '.join(missing)}); see the first failure")
    return [journey[k] for k in keys]


def expect_signed_in(page, name: str, path: str) -> None:
    from playwright.sync_api import expect

    expect(page).to_have_url(re.compile(re.escape(path) + r"$"))
    expect(page.locator("#logout")).to_be_visible()
    expect(page.locator(".account .who")).to_contain_text(name)


def match_row(page, title: str):
    return page.locator("#matches tbody tr").filter(has=page.get_by_role("link", name=title, exact=True))


# -- sign-in -------------------------------------------------------------------------------------

def test_a_wrong_password_shows_an_error_and_starts_no_session(live_server, browser, shot):
    from playwright.sync_api import expect

    context = browser.new_context(base_url=live_server.url)
    try:
        page = context.new_page()
        sign_in(page, live_server.enterprise.email, live_server.password + "-wrong")
        expect(page).to_have_url(re.compile(r"/auth/login$"))
        expect(page.locator(".flash-error")).to_have_text(ui("Wrong e-mail or password, or the account is not active yet."))
        expect(page.locator("#email")).to_have_value(live_server.enterprise.email)
        expect(page.locator("#password")).to_have_value("")  # the password is never sent back
        expect(page.locator("#logout")).to_have_count(0)
        expect(page.locator(".account .who")).to_have_count(0)
        shot(page, "login-wrong-password")
        # No session: a member page sends the browser back to the sign-in page.
        page.goto("/enterprise/needs")
        expect(page).to_have_url(re.compile(r"/auth/login\?next=/enterprise/needs$"))
        expect(page.locator("#needs")).to_have_count(0)
        assert page.request.get("/matches/", max_redirects=0).status == 302
    finally:
        context.close()


def test_the_default_ui_language_is_chinese(live_server, browser, shot):
    from playwright.sync_api import expect

    if not (PROJECT_ROOT / "web/translations/zh/LC_MESSAGES/messages.mo").exists():
        unavailable("the translation catalogues are not compiled (make translations)")
    context = browser.new_context(base_url=live_server.url)
    try:
        page = context.new_page()
        page.goto("/auth/login")
        expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
        expect(page.locator("#switch-language")).to_have_text("English")
        expect(page.locator("h1")).to_have_text(ui("Sign in"))
        shot(page, "login-default-language")
        for text in (page.locator("h1").inner_text(), page.locator("label[for=password]").inner_text(),
                     page.locator("footer").inner_text()):
            assert re.search(r"[\u4e00-\u9fff]", text), f"not Chinese: {text!r}"
    finally:
        context.close()


# -- 1. enterprise posts a need --------------------------------------------------------------------

def test_1_enterprise_signs_in_and_posts_a_need(live_server, role_page, journey, shot):
    from playwright.sync_api import expect

    enterprise = live_server.enterprise
    page = role_page("enterprise")
    sign_in(page, enterprise.email, live_server.password)
    expect_signed_in(page, enterprise.name, "/enterprise/needs")
    expect(page.locator("h1")).to_have_text(ui("Our needs"))
    shot(page, "enterprise-our-needs-before")

    page.locator("header nav").get_by_role("link", name=ui("Post a need")).click()
    expect(page).to_have_url(re.compile(r"/enterprise/needs/new$"))
    form = page.locator("#need-form")
    form.locator("#title").fill(NEED["title"])
    form.locator("#description").fill(NEED["description"])
    form.locator("#industry_codes").select_option(NEED["industry"])
    form.locator("#region").fill(NEED["region"])
    form.locator("#deadline").fill(NEED["deadline"])
    for mode in NEED["modes"]:
        form.locator(f"input[name=cooperation_modes][value={mode}]").check()
    form.locator("#budget_min").fill(NEED["budget_min"])
    form.locator("#budget_max").fill(NEED["budget_max"])
    form.locator("#anonymous").check()
    shot(page, "enterprise-need-form")
    form.locator("[type=submit]").click()

    expect(page).to_have_url(re.compile(r"/enterprise/needs/\d+$"))
    need_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator(".flash-success")).to_have_text(ui("Your need is posted. A coordinator will look for experts."))
    expect(page.locator("h1")).to_have_text(NEED["title"])
    expect(page.locator(".page-head .status")).to_have_text(ui("Open"))
    expect(page.locator("p.prewrap")).to_have_text(NEED["description"])
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("04 渔业, 13 农副食品加工业")  # codes with their names
    expect(facts).to_contain_text(NEED["region"])
    expect(facts).to_contain_text(f"{NEED['budget_min']}–{NEED['budget_max']}")
    expect(facts).to_contain_text(NEED["deadline"])
    expect(facts.locator(".tag")).to_have_text([ui("Technical consulting"), ui("Joint development")])
    shot(page, "enterprise-need-posted")

    page.locator("header nav").get_by_role("link", name=ui("Our needs")).click()
    row = page.locator("#needs tbody tr").filter(has=page.get_by_role("link", name=NEED["title"], exact=True))
    expect(row).to_have_count(1)
    expect(row.locator("a")).to_have_attribute("href", f"/enterprise/needs/{need_id}")
    expect(row.locator(".status")).to_have_text(ui("Open"))
    shot(page, "enterprise-our-needs-after")
    journey["need_id"] = need_id


# -- 2. coordinator reviews suggestions and proposes -------------------------------------------------

def test_2_coordinator_reviews_the_suggestions_and_proposes_an_expert(live_server, role_page, journey, shot):
    from playwright.sync_api import expect

    (need_id,) = needs(journey, "need_id")
    page = role_page("coordinator")
    sign_in(page, live_server.coordinator_email, live_server.password)
    expect_signed_in(page, "协调员", "/coordinator/queue")
    expect(page.locator("h1")).to_have_text(ui("Review queue"))
    # The queue pages (oldest first): the coordinator searches for the new need.
    page.fill("#q", NEED["title"])
    page.click("#apply-filters")
    expect(page).to_have_url(re.compile(r"/coordinator/queue\?q="))
    queued = page.locator("#queue tbody tr").filter(has=page.get_by_role("link", name=NEED["title"], exact=True))
    expect(queued).to_contain_text(live_server.enterprise.organization)
    shot(page, "coordinator-queue")
    queued.get_by_role("link").click()

    expect(page).to_have_url(re.compile(rf"/coordinator/needs/{need_id}$"))
    expect(page.locator("#suggestions .flash-warning")).to_have_count(0)  # the index answered
    cards = page.locator("#suggestions li.suggestion")
    expect(cards.first).to_be_visible()
    assert cards.count() >= 5, f"only {cards.count()} suggestion(s)"
    # Each card shows its band and the calibrated chance of relevance, e.g. "中等匹配 · 41%".
    chances = [int(re.search(r"(\d+)%", text).group(1)) for text in cards.locator(".band").all_inner_texts()]
    assert chances and all(0 <= c <= 100 for c in chances), chances
    eligible = [c for c, card in zip(chances, cards.all(), strict=True) if "excluded" not in (card.get_attribute("class") or "")]
    assert eligible == sorted(eligible, reverse=True), f"eligible suggestions are not ranked by relevance: {eligible}"
    first = cards.first
    expect(first.locator("table.reasons tr").first).to_be_visible()
    assert first.locator("table.reasons td.num").first.inner_text().startswith("+")
    expect(page.locator("#suggestions p.terms mark").first).to_be_visible()
    expect(page.locator("#suggestions p.terms").first).to_contain_text(ui("Matched terms"))
    # The need's own text is highlighted with the terms that matched.
    expect(page.locator("section.card p.prewrap mark").first).to_be_visible()
    shot(page, "coordinator-suggestions")

    # Tick the best eligible expert that has matched terms and a sign-in account.
    candidates = cards.filter(has=page.locator("input[name=expert_id]")).filter(has=page.locator("p.terms mark"))
    chosen = None
    for card in candidates.all():
        expert_id = int(card.locator("input[name=expert_id]").get_attribute("value"))
        if expert_id in live_server.experts:
            chosen = card, live_server.experts[expert_id]
            break
    assert chosen, "no eligible suggestion with matched terms and an account"
    card, expert = chosen
    expect(card.locator("strong")).to_have_text(expert.name)
    terms = card.locator("p.terms mark").all_inner_texts()
    assert all(t.strip() for t in terms), terms
    card.locator("input[name=expert_id]").check()
    page.click("#propose")

    expect(page).to_have_url(re.compile(rf"/coordinator/needs/{need_id}$"))
    expect(page.locator(".flash-success")).to_have_text(ui("%(count)s expert(s) proposed. Both sides were notified.", count=1))
    proposed = page.locator(f"#suggestion-{expert.profile_id}")
    expect(proposed.locator(".status.status-proposed")).to_have_text(ui("Proposed"))
    expect(proposed.locator("input[name=expert_id]")).to_have_count(0)
    shot(page, "coordinator-proposed")

    page.locator("header nav").get_by_role("link", name=ui("Matches")).click()
    expect(page).to_have_url(re.compile(r"/matches/$"))
    row = match_row(page, NEED["title"])
    expect(row).to_have_count(1)
    expect(row).to_contain_text(expert.name)
    expect(row.locator(".status")).to_have_text(ui("Proposed"))
    match_id = int(row.get_by_role("link").get_attribute("href").rstrip("/").rsplit("/", 1)[1])
    journey.update(match_id=match_id, expert=expert)

    # The language button: same page, now in English.
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("h1")).to_have_text(ui("Matches"))
    expect(page.locator("#switch-language")).to_have_text("English")
    page.click("#switch-language")
    expect(page).to_have_url(re.compile(r"/matches/$"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#switch-language")).to_have_text("中文")
    expect(page.locator("h1")).to_have_text("Matches")
    expect(page.locator("#matches thead")).to_contain_text("Expert")
    expect(match_row(page, NEED["title"]).locator(".status")).to_have_text("Proposed")
    expect(page.locator("header nav")).to_contain_text("Review queue")
    shot(page, "coordinator-matches-english")

    # Coordinators see both sides' contacts; nobody has answered yet.
    row = match_row(page, NEED["title"])
    row.get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"/matches/{match_id}$"))
    expect(page.locator("#contacts")).to_contain_text(expert.contact_email)
    expect(page.locator("#answer")).to_have_count(0)
    expect(page.locator("#progress")).to_have_count(0)


# -- 3. expert answers without seeing the enterprise's contacts --------------------------------------

def test_3_expert_opens_the_proposal_without_enterprise_contacts_and_accepts(live_server, role_page, journey, shot):
    from playwright.sync_api import expect

    match_id, expert = needs(journey, "match_id", "expert")
    enterprise = live_server.enterprise
    page = role_page("expert")
    sign_in(page, expert.email, live_server.password)
    expect_signed_in(page, expert.name, "/expert/profile")

    page.locator("header nav").get_by_role("link", name=ui("Proposals")).click()
    expect(page.locator("h1")).to_have_text(ui("Proposals"))
    row = match_row(page, NEED["title"])
    expect(row.locator(".status")).to_have_text(ui("Proposed"))
    shot(page, "expert-proposals")
    row.get_by_role("link").click()

    expect(page).to_have_url(re.compile(rf"/matches/{match_id}$"))
    expect(page.locator("h1")).to_have_text(NEED["title"])
    expect(page.locator("p.prewrap").first).to_have_text(NEED["description"])
    expect(page.locator("#contacts .hint")).to_be_visible()
    body = page.locator("body").inner_text()
    for secret in (enterprise.phone, enterprise.contact_email, enterprise.wechat, enterprise.contact_name,
                   enterprise.organization):  # the need is anonymous: no company name either
        assert secret not in body, f"the expert sees {secret!r} before both sides accepted"
    assert enterprise.phone not in page.content()
    shot(page, "expert-proposal-before-accepting")

    page.click("#accept")
    expect(page).to_have_url(re.compile(rf"/matches/{match_id}$"))
    expect(page.locator(".flash-success")).to_be_visible()
    expect(page.locator("#match-status")).to_have_class(re.compile(r"\bstatus-expert_accepted\b"))
    expect(page.locator("#match-status")).to_have_text(ui("Accepted by expert"))
    expect(page.locator("#answer")).to_have_count(0)
    assert enterprise.phone not in page.locator("body").inner_text()
    shot(page, "expert-accepted")


# -- 1 (continued). enterprise accepts and sees the expert's contacts --------------------------------

def test_1b_enterprise_accepts_and_sees_the_experts_contact_details(live_server, role_page, journey, shot):
    from playwright.sync_api import expect

    match_id, expert = needs(journey, "match_id", "expert")
    page = role_page("enterprise")
    page.goto("/enterprise/needs")
    page.locator("header nav").get_by_role("link", name=ui("Matches")).click()
    row = match_row(page, NEED["title"])
    expect(row).to_contain_text(expert.name)
    expect(row.locator(".status")).to_have_text(ui("Accepted by expert"))
    row.get_by_role("link").click()

    expect(page).to_have_url(re.compile(rf"/matches/{match_id}$"))
    expect(page.locator("#contacts .hint")).to_be_visible()
    assert expert.phone not in page.locator("body").inner_text(), "expert contacts shown before the enterprise accepted"
    shot(page, "enterprise-match-before-accepting")
    page.click("#accept")

    expect(page.locator("#match-status")).to_have_class(re.compile(r"\bstatus-connected\b"))
    expect(page.locator("#match-status")).to_have_text(ui("Connected"))
    contacts = page.locator("#contacts")
    for value in (expert.phone, expert.contact_email, expert.wechat):
        expect(contacts).to_contain_text(value)
    expect(contacts).to_contain_text(live_server.enterprise.organization)
    expect(page.locator("#answer")).to_have_count(0)
    expect(page.locator("#record-intent")).to_be_visible()
    shot(page, "enterprise-connected-contacts")

    page.goto(f"/enterprise/needs/{journey['need_id']}")
    expect(page.locator(".page-head .status")).to_have_text(ui("Matched"))


# -- 2 (continued). coordinator records progress, in English -----------------------------------------

def test_2b_coordinator_sees_the_connected_match_in_english(live_server, role_page, journey, shot):
    from playwright.sync_api import expect

    match_id, expert = needs(journey, "match_id", "expert")
    page = role_page("coordinator")
    page.goto("/matches/?status=active")
    expect(page.locator("html")).to_have_attribute("lang", "en")  # the choice is kept in the session
    expect(page.locator(".filters a.active")).to_have_text("In progress")
    row = match_row(page, NEED["title"])
    expect(row.locator(".status")).to_have_text("Connected")
    row.get_by_role("link").click()

    expect(page).to_have_url(re.compile(rf"/matches/{match_id}$"))
    expect(page.locator("#match-status")).to_have_text("Connected")
    expect(page.locator("#contacts")).to_contain_text(live_server.enterprise.contact_email)
    expect(page.locator("#contacts")).to_contain_text(expert.phone)
    expect(page.locator("#progress h2")).to_have_text("Record progress")
    expect(page.locator("#record-intent")).to_have_text("Cooperation intent")
    expect(page.locator("#close-match")).to_have_text("Close")
    history = page.locator("ol.timeline li").all_inner_texts()
    assert [h.split(" ", 2)[-1].split(" — ")[0].strip() for h in history] == ["Proposed", "Accepted by expert", "Connected"], history
    assert "by Expert" in history[1]  # the timeline says who took each step
    shot(page, "coordinator-connected-english")


def test_2c_coordinator_records_intent_and_contract(live_server, role_page, journey, shot):
    from playwright.sync_api import expect

    (match_id,) = needs(journey, "match_id")
    page = role_page("coordinator")
    page.goto(f"/matches/{match_id}")
    page.locator("#progress textarea[name=note]").fill("双方已现场考察，同意先做三个月养殖试验")
    page.click("#record-intent")
    page.wait_for_load_state()
    shot(page, "coordinator-intent")
    errors = page.locator(".flash-error").all_inner_texts()
    assert not errors, f"recording the intent failed: {errors}"
    expect(page.locator("#match-status")).to_have_text("Cooperation intent")

    expect(page.locator("#record-contract")).to_have_text("Contract signed")
    page.fill("#progress-amount", "25")  # 万元; a coordinator's record counts at once
    page.click("#record-contract")
    expect(page.locator("#match-status")).to_have_class(re.compile(r"\bstatus-contract\b"))
    expect(page.locator("#match-status")).to_have_text("Contract signed")
    expect(page.locator("#record-completed")).to_have_text("Completed")
    history = page.locator("ol.timeline li").all_inner_texts()
    for label in ("Proposed", "Accepted by expert", "Connected", "Cooperation intent", "Contract signed"):
        assert any(label in item for item in history), (label, history)
    assert any("三个月养殖试验" in item for item in history), history
    shot(page, "coordinator-contract")

    page.goto("/matches/?status=active")
    expect(match_row(page, NEED["title"]).locator(".status")).to_have_text("Contract signed")


# -- 3 (continued). expert keeps the profile up to date ---------------------------------------------

def test_3b_expert_profile_form_shows_keywords_and_research_areas_as_lists(role_page, journey, shot):
    from playwright.sync_api import expect

    (expert,) = needs(journey, "expert")
    page = role_page("expert")
    page.locator("header nav").get_by_role("link", name=ui("My profile")).click()
    expect(page).to_have_url(re.compile(r"/expert/profile$"))
    shot(page, "expert-profile")
    expect(page.locator("#profile-form #name")).to_have_value(expert.name)
    expect(page.locator("#profile-form #research_areas")).to_have_value(", ".join(expert.research_areas), timeout=2_000)
    expect(page.locator("#profile-form #keywords")).to_have_value(", ".join(expert.keywords), timeout=2_000)


def test_3c_expert_adds_a_keyword_and_an_achievement(live_server, role_page, journey, shot):
    from playwright.sync_api import expect

    (expert,) = needs(journey, "expert")
    page = role_page("expert")
    page.goto("/expert/profile")
    profile = page.locator("#profile-form")
    expect(profile.locator("#name")).to_have_value(expert.name)
    count_before = page.locator("#achievements ul.achievements > li").count()
    assert expert.keywords and NEW_KEYWORD not in expert.keywords

    # The keyword list typed in full, as an expert who retypes the field would, with one
    # keyword added (the field's initial value is checked by the test above).
    profile.locator("#keywords").fill(", ".join((*expert.keywords, NEW_KEYWORD)))
    shot(page, "expert-profile-edit")
    profile.locator("[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/expert/profile$"))
    expect(page.locator(".flash-success")).to_have_text(ui("Profile saved. Suggestions will use it within seconds."))
    keywords = page.locator("#profile-form #keywords").input_value()
    for keyword in (*expert.keywords, NEW_KEYWORD):
        assert keyword in keywords, (keyword, keywords)
    expect(page.locator("#profile-form #name")).to_have_value(expert.name)
    expect(page.locator("#profile-form #phone")).to_have_value(expert.phone)  # private fields kept
    expect(page.locator("#profile-form #wechat")).to_have_value(expert.wechat)

    form = page.locator("#achievement-form")
    form.locator("select[name=kind]").select_option(ACHIEVEMENT["kind"])
    form.locator("input[name=year]").fill(ACHIEVEMENT["year"])
    form.locator("input[name=title]").fill(ACHIEVEMENT["title"])
    form.locator("textarea[name=abstract]").fill(ACHIEVEMENT["abstract"])
    form.locator("[type=submit]").click()

    expect(page).to_have_url(re.compile(r"/expert/profile#achievements$"))
    expect(page.locator(".flash-success")).to_have_text(ui("Achievement added."))
    items = page.locator("#achievements ul.achievements > li")
    expect(items).to_have_count(count_before + 1)
    added = items.filter(has_text=ACHIEVEMENT["title"])
    expect(added).to_have_count(1)
    expect(added.locator(".tag")).to_have_text(ui("Patent"))
    expect(added).to_contain_text(f"({ACHIEVEMENT['year']})")
    expect(added).to_contain_text(ACHIEVEMENT["abstract"][:20])
    expect(page.locator("#achievements h2")).to_contain_text(f"({count_before + 1})")
    assert NEW_KEYWORD in page.locator("#profile-form #keywords").input_value()
    shot(page, "expert-profile-after")

    # The server's indexer thread picks both changes up (the outbox drains to zero).
    deadline = time.monotonic() + 30
    while (lag := live_server.health()["index_lag"]) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert lag == 0, f"index lag still {lag} after 30 s:\n{live_server.log_tail()}"


def test_4_coordinator_plans_an_event_in_local_time_and_the_schedule_shows_local_times(live_server, role_page, shot):
    from playwright.sync_api import expect

    page = role_page("coordinator")
    page.goto("/coordinator/events")
    if "/auth/login" in page.url:
        sign_in(page, live_server.coordinator_email, live_server.password)
        page.goto("/coordinator/events")
    expect(page.locator("label[for=starts_at]")).to_contain_text("Asia/Shanghai")
    page.fill("#name", "罗非鱼产业对接会")
    page.fill("#starts_at", "2027-03-20T09:30")  # Beijing time, as a coordinator in Guangzhou means it
    page.fill("#place", "广州")
    page.click("#event-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/coordinator/events/\d+$"))
    expect(page.locator("main")).to_contain_text("2027-03-20 09:30")
    boxes = page.locator("#add-needs input[name=need_id]")
    for box in boxes.all()[:2]:
        box.check()
    page.fill("#add-needs input[name=demand]", "1")
    page.locator("#add-needs button[type=submit]").last.click()
    page.click("#invite-suggested")
    page.click("#plan-button")
    expect(page.locator("#plan .slot").first).to_be_visible()
    shot(page, "event-planned")
    page.locator("main a[href$='/schedule']").click()  # the tab may be in either language by now
    expect(page.locator("main")).to_contain_text("UTC+08:00")
    meetings = page.locator("main ol li").all_inner_texts()
    assert meetings and all(re.match(r"\d\d:\d\d — ", m) for m in meetings), meetings
    assert any(m.startswith("09:30 — ") for m in meetings), meetings
    assert not any(m.startswith("01:30") for m in meetings), meetings  # not UTC
    shot(page, "event-schedule-local-time")


def test_no_server_errors_and_no_console_errors(live_server, browser_problems):
    """Across every step above: no 5xx answer, no uncaught script error, no console error
    (a Content-Security-Policy violation would show here)."""
    assert browser_problems.items == []
