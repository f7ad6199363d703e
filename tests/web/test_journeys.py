"""The three journeys through the HTML pages, driven like a browser: every form is read from
the page and sent back with what a browser would send (hidden inputs and real CSRF tokens).

enterprise: sign up → wait for approval → post a need → edit it → answer a proposal
expert:     sign up → wait for approval → keep a profile and achievements → answer proposals
coordinator: approve accounts → propose an expert for a need → follow and close matches
"""

from __future__ import annotations

import html
import re
from datetime import date, timedelta

import sqlalchemy as sa

from models import (
    AccountStatus,
    EmailMessage,
    ExpertProfile,
    Match,
    MatchEvent,
    MatchStatus,
    Need,
    NeedStatus,
    Notification,
    Organization,
    User,
    db,
    utcnow,
    write_transaction,
)
from tests.conftest import csrf_token
from tests.factories import Factory
from tests.web.pages import find_form, flashes, section, submit
from web.domain import matches as match_service

PASSWORD = Factory.PASSWORD

# The sentences each notification kind shows (web/domain/notify.py, English).
MESSAGES = {
    "proposed": "A coordinator proposed a match. Please accept or decline.",
    "expert_accepted": "The expert accepted. Please give your answer.",
    "enterprise_accepted": "The enterprise accepted. Please give your answer.",
    "connected": "Both sides accepted: contact details are now visible.",
    "expert_declined": "The expert declined the proposal.",
    "enterprise_declined": "The enterprise declined the proposal.",
    "intent": "A cooperation intent was recorded.",
    "contract": "A contract was signed.",
    "completed": "The cooperation was completed.",
    "closed": "The match was closed.",
}


# -- helpers ---------------------------------------------------------------------------------
def browser(app):
    """A fresh test client that reads the pages in English."""
    client = app.test_client()
    page = client.get("/auth/login")
    response = client.post("/lang/en", data={"csrf_token": csrf_token(page), "next": "/auth/login"})
    assert response.status_code == 302
    assert "Sign in" in client.get("/auth/login").data.decode()
    return client


def sign_in(client, email: str, password: str = PASSWORD):
    return submit(client, client.get("/auth/login"), "password", {"email": email, "password": password})


def signed_in(app, user) -> object:
    client = browser(app)
    response = sign_in(client, user.email)
    assert response.status_code == 302 and "/auth/login" not in response.headers["Location"], response.data[:300]
    return client


def text(response) -> str:
    return response.data.decode()


def notification_texts(client) -> list[str]:
    page = client.get("/notifications")
    assert page.status_code == 200
    return [re.sub(r"<[^>]+>", "", item).strip() for item in re.findall(r"<li[^>]*>(.*?)</li>", section(page, "notifications"), re.S)]


def shown(messages: list[str], kind: str) -> bool:
    return any(MESSAGES[kind] in m for m in messages)


def sentence(app, kind: str, locale: str = "zh") -> str:
    """The notification sentence for ``kind`` as an e-mail in ``locale`` shows it."""
    from flask_babel import force_locale

    from web.domain.notify import message

    with app.test_request_context(), force_locale(locale):
        return message(kind)


def kinds_for(app, user_id: int) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(sa.select(Notification.kind).where(Notification.user_id == user_id).order_by(Notification.id)))


def mails_to(app, address: str) -> list[tuple[str, str]]:
    with app.app_context():
        return [(m.subject, m.body) for m in db.session.scalars(
            sa.select(EmailMessage).where(EmailMessage.recipient == address).order_by(EmailMessage.id))]


def assert_no_contacts_in_mail(app, *users) -> None:
    """No e-mail in the outbox carries a phone, private e-mail or WeChat of these users."""
    secrets = [v for u in users for k, v in (u.contacts or {}).items() if k in ("phone", "email", "wechat")]
    with app.app_context():
        mails = [(m.recipient, m.subject + m.body) for m in db.session.scalars(sa.select(EmailMessage))]
    assert mails and secrets
    for recipient, content in mails:
        assert not [s for s in secrets if s in content], recipient


def events(app, match_id: int) -> list[tuple]:
    with app.app_context():
        return [(e.from_status, e.to_status, e.actor_id, e.actor_role, e.reason_code, e.note) for e in db.session.scalars(
            sa.select(MatchEvent).where(MatchEvent.match_id == match_id).order_by(MatchEvent.id))]


def status_of(app, match_id: int) -> str:
    with app.app_context():
        return db.session.get(Match, match_id).status.value


def act(app, actor_id: int, fn, *args, **kwargs):
    """Call a lifecycle service as a user, in its own app context; returns the match id."""
    with app.app_context():
        actor = db.session.get(User, actor_id)
        result = fn(actor, *args, **kwargs)
        match = result[0] if isinstance(result, tuple) else result
        return match.id


def proposal(app, factory, *, anonymous: bool = False, title: str = "减振器低速异响"):
    enterprise = factory.user(role="enterprise")
    expert = factory.user(role="expert")
    coordinator = factory.user(role="coordinator")
    need = factory.need(enterprise, title=title, anonymous=anonymous)
    match_id = act(app, coordinator.id, match_service.propose, need.id, expert.expert_id)
    return enterprise, expert, coordinator, need, match_id


def connected(app, factory):
    enterprise, expert, coordinator, need, match_id = proposal(app, factory)
    act(app, expert.id, match_service.respond, match_id, True)
    act(app, enterprise.id, match_service.respond, match_id, True)
    assert status_of(app, match_id) == "connected"
    return enterprise, expert, coordinator, need, match_id


# -- the journeys ----------------------------------------------------------------------------
def test_sign_up_approval_need_profile_proposal_and_connection_through_the_pages(app, factory):
    coordinator = factory.user(role="coordinator", email="staff@kexie.example.cn")
    enterprise_phone, enterprise_email, enterprise_wechat = "13700005678", "boss@corp.example.cn", "wx_corp_secret"
    expert_phone, expert_email, expert_wechat = "13900001234", "hidden@expert.example.cn", "wx_secret_abc"
    org_name = "茂名减振科技有限公司"

    # -- the enterprise signs up and must wait for approval
    ent = browser(app)
    signup = ent.get("/auth/signup")
    response = submit(ent, signup, "signup-form", {"role": "enterprise", "name": "周总", "organization": org_name,
                                                   "phone": enterprise_phone, "email": enterprise_email, "password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"].endswith("/auth/login")
    assert any("A coordinator will review your account" in f for f in flashes(ent.get("/auth/login")))
    refused = sign_in(ent, enterprise_email)
    assert refused.status_code == 200
    assert any("waiting for approval" in f for f in flashes(refused))  # the right password: told why
    assert ent.get("/enterprise/needs").status_code == 302  # still anonymous: sent to sign in
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == enterprise_email))
        assert user.status == AccountStatus.PENDING and user.organization.name == org_name
        assert user.organization.contact_phone == enterprise_phone
        enterprise_id, org_id = user.id, user.organization_id

    # -- the expert signs up too
    exp = browser(app)
    response = submit(exp, exp.get("/auth/signup"), "signup-form", {"role": "expert", "name": "李教授", "organization": "",
                                                                     "phone": "", "email": "li@univ.example.cn",
                                                                     "password": PASSWORD})
    assert response.status_code == 302
    assert sign_in(exp, "li@univ.example.cn").status_code == 200  # pending: not signed in
    with app.app_context():
        expert_user = db.session.scalar(sa.select(User).where(User.email == "li@univ.example.cn"))
        assert expert_user.status == AccountStatus.PENDING and expert_user.expert_profile is not None
        expert_id, expert_profile_id = expert_user.id, expert_user.expert_profile.id

    # -- the coordinator approves both from the accounts page
    coord = signed_in(app, coordinator)
    accounts = coord.get("/coordinator/accounts")
    listed = section(accounts, "pending-accounts")
    assert enterprise_email in listed and "li@univ.example.cn" in listed and org_name in listed
    for user_id in (enterprise_id, expert_id):
        response = submit(coord, coord.get("/coordinator/accounts"), f"/accounts/{user_id}/approve")
        assert response.status_code == 302
    accounts = coord.get("/coordinator/accounts")
    assert "No account is waiting." in text(accounts) and enterprise_email not in text(accounts)
    with app.app_context():
        assert {u.status for u in db.session.scalars(sa.select(User).where(User.id.in_([enterprise_id, expert_id])))} == {
            AccountStatus.ACTIVE}
        with write_transaction():  # no page edits an organisation's WeChat yet
            db.session.get(Organization, org_id).contact_wechat = enterprise_wechat

    # -- the enterprise signs in, posts a need, edits it and sees it listed
    response = sign_in(ent, enterprise_email)
    assert response.status_code == 302 and response.headers["Location"].endswith("/enterprise/needs")
    deadline = (date.today() + timedelta(days=90)).isoformat()
    response = submit(ent, ent.get("/enterprise/needs/new"), "need-form", {
        "title": "减振器低速过减速带异响", "description": "装车后低速过减速带咯噔响，想找专家分析原因",
        "industry_codes": ["36"], "region": "广东省茂名市", "cooperation_modes": ["consulting", "development"],
        "budget_min": "10", "budget_max": "30", "deadline": deadline, "anonymous": True})
    assert response.status_code == 302, flashes(response) or response.data[-2000:]
    need_id = int(re.search(r"/enterprise/needs/(\d+)$", response.headers["Location"]).group(1))
    detail = ent.get(f"/enterprise/needs/{need_id}")
    assert "减振器低速过减速带异响" in text(detail) and "广东省茂名市" in text(detail)

    edit = ent.get(f"/enterprise/needs/{need_id}/edit")
    assert find_form(edit.data, "need-form")  # the form shows the stored values; only two are changed
    response = submit(ent, edit, "need-form", {"title": "减振器异响（已补充车型）", "budget_max": "40"})
    assert response.status_code == 302, flashes(response)
    with app.app_context():
        need = db.session.get(Need, need_id)
        assert need.title == "减振器异响（已补充车型）" and need.budget_min == 10 and need.budget_max == 40
        assert need.industry_codes == ["36"] and need.cooperation_modes == ["consulting", "development"]
        assert need.anonymous is True and need.deadline.isoformat() == deadline and need.status == NeedStatus.OPEN
        assert need.organization_id == org_id
    listing = ent.get("/enterprise/needs")
    assert "减振器异响（已补充车型）" in section(listing, "needs") and "减振器低速过减速带异响" not in text(listing)

    # -- the expert signs in, fills in the profile and adds achievements
    response = sign_in(exp, "li@univ.example.cn")
    assert response.status_code == 302 and response.headers["Location"].endswith("/expert/profile")
    response = submit(exp, exp.get("/expert/profile"), "profile-form", {
        "name": "李教授", "title": "教授", "region": "广东省广州市", "research_areas": "车辆振动, NVH",
        "keywords": "减振器, 异响, 阻尼", "summary": "汽车减振器异响机理与阻尼匹配", "cooperation_modes": ["consulting"],
        "capacity": "2", "available": True, "phone": expert_phone, "email": expert_email, "wechat": expert_wechat})
    assert response.status_code == 302, flashes(response)
    for kind, title, year in (("patent", "一种低噪声减振器阀系", "2023"), ("paper", "减振器异响机理研究", "2021")):
        response = submit(exp, exp.get("/expert/profile"), "achievement-form", {"kind": kind, "title": title, "year": year})
        assert response.status_code == 302
    profile_page = exp.get("/expert/profile")
    achievements = section(profile_page, "achievements")
    assert "一种低噪声减振器阀系" in achievements and "减振器异响机理研究" in achievements
    assert expert_phone in text(profile_page)  # the expert sees their own contact fields
    with app.app_context():
        profile = db.session.get(ExpertProfile, expert_profile_id)
        assert profile.keywords == ["减振器", "异响", "阻尼"] and profile.capacity == 2
        assert (profile.phone, profile.email, profile.wechat) == (expert_phone, expert_email, expert_wechat)
        assert [(a.kind.value, a.year) for a in profile.achievements] == [("patent", 2023), ("paper", 2021)]

    # -- the coordinator reviews the need (no index yet) and proposes the expert
    assert "减振器异响（已补充车型）" in section(coord.get("/coordinator/queue"), "queue")
    review = coord.get(f"/coordinator/needs/{need_id}")
    assert review.status_code == 200
    assert "the index is being built" in section(review, "suggestions")
    assert org_name in text(review)  # coordinators always see who posted it
    response = submit(coord, review, "propose-form", {"expert_id": str(expert_profile_id)})
    assert response.status_code == 302
    assert any("1 expert(s) proposed" in f for f in flashes(coord.get(response.headers["Location"])))
    with app.app_context():
        match = db.session.scalar(sa.select(Match).where(Match.need_id == need_id))
        assert match.expert_id == expert_profile_id and match.status == MatchStatus.PROPOSED
        assert match.proposed_by_id == coordinator.id and match.score is None  # no index yet: no score
        match_id = match.id

    # -- the expert sees the proposal, without the anonymous enterprise's name or contacts
    mine = exp.get("/matches/")
    assert "减振器异响（已补充车型）" in section(mine, "matches") and "Proposed" in section(mine, "matches")
    page = exp.get(f"/matches/{match_id}")
    assert "Enterprise name shown once both sides accept" in text(page)
    for secret in (org_name, enterprise_phone, enterprise_email, enterprise_wechat):
        assert secret not in text(mine) and secret not in text(page)
    assert shown(notification_texts(exp), "proposed")
    response = submit(exp, page, "#answer", button="accept")
    assert response.status_code == 302
    after = exp.get(f"/matches/{match_id}")
    assert "You accepted. Waiting for the enterprise's answer." in html.unescape(flashes(after)[0]) and 'id="answer"' not in text(after)
    assert MESSAGES["expert_accepted"] not in text(after)  # that sentence is for the enterprise (bug 12.1)
    assert status_of(app, match_id) == "expert_accepted"

    # -- the enterprise was told, sees no expert contacts yet, and accepts: connected
    messages = notification_texts(ent)
    assert shown(messages, "proposed") and shown(messages, "expert_accepted")
    page = ent.get(f"/matches/{match_id}")
    assert "李教授" in text(page)
    for secret in (expert_phone, expert_email, expert_wechat, "li@univ.example.cn"):
        assert secret not in text(page)
    response = submit(ent, page, "#answer", button="accept")
    assert response.status_code == 302
    page = ent.get(f"/matches/{match_id}")
    assert 'id="match-status">Connected<' in text(page)
    contacts = section(page, "contacts")
    assert expert_phone in contacts and expert_email in contacts and expert_wechat in contacts

    # -- the expert now sees the enterprise, its name and its contacts
    page = exp.get(f"/matches/{match_id}")
    contacts = section(page, "contacts")
    assert enterprise_phone in contacts and enterprise_email in contacts and enterprise_wechat in contacts
    assert org_name in text(page) and "Enterprise name shown once both sides accept" not in text(page)
    assert shown(notification_texts(exp), "connected")
    assert shown(notification_texts(coord), "connected")
    with app.app_context():
        assert db.session.get(Need, need_id).status == NeedStatus.MATCHED
    assert [e[1] for e in events(app, match_id)] == ["proposed", "expert_accepted", "connected"]

    # -- notifications and e-mails went to the right people, without the other side's contacts
    assert kinds_for(app, expert_id) == ["proposed", "connected"]
    assert kinds_for(app, enterprise_id) == ["proposed", "expert_accepted"]
    # the coordinator was told of the two sign-ups and the new need, then of the connection
    assert kinds_for(app, coordinator.id) == ["signup_pending", "signup_pending", "need_posted", "connected"]
    expert_mail = mails_to(app, "li@univ.example.cn")
    enterprise_mail = mails_to(app, enterprise_email)
    coordinator_mail = mails_to(app, coordinator.email)
    assert len(expert_mail) == 2 and len(enterprise_mail) == 2 and len(coordinator_mail) == 1
    for subject, body in expert_mail:
        assert f"/matches/{match_id}" in body
        for secret in (enterprise_phone, enterprise_email, enterprise_wechat, org_name):
            assert secret not in body and secret not in subject
    for subject, body in enterprise_mail + coordinator_mail:
        assert f"/matches/{match_id}" in body
        for secret in (expert_phone, expert_email, expert_wechat, "li@univ.example.cn"):
            assert secret not in body and secret not in subject
    # e-mails are written in the recipient's language (zh unless the account says otherwise)
    assert sentence(app, "proposed") in expert_mail[0][1] and sentence(app, "connected") in expert_mail[1][1]
    assert sentence(app, "expert_accepted") in enterprise_mail[1][1]


def test_expert_declines_on_the_match_page_only_with_a_reason(app, factory):
    enterprise, expert, coordinator, need, match_id = proposal(app, factory)
    exp = signed_in(app, expert)
    page = exp.get(f"/matches/{match_id}")
    reasons = [v for v, _ in next(c for c in find_form(page.data, "#answer").controls if c.name == "reason").options]
    assert reasons == ["", *match_service.DECLINE_REASONS]

    response = submit(exp, page, "#answer", button="decline")  # no reason chosen
    assert response.status_code == 302
    page = exp.get(f"/matches/{match_id}")
    assert any("choose a reason for declining" in f for f in flashes(page))
    assert status_of(app, match_id) == "proposed" and len(events(app, match_id)) == 1

    response = submit(exp, page, "#answer", {"reason": "other"}, button="decline")  # "other" without a note
    page = exp.get(f"/matches/{match_id}")
    assert any("please explain the reason" in f for f in flashes(page))
    assert status_of(app, match_id) == "proposed"

    response = submit(exp, page, "#answer", {"reason": "other", "note": "明年才有空"}, button="decline")
    page = exp.get(f"/matches/{match_id}")
    assert "You declined the proposal. The coordinator has been told." in flashes(page)[0]
    assert 'id="answer"' not in text(page) and "Other (please explain)" in text(page) and "明年才有空" in text(page)
    assert events(app, match_id)[-1] == ("proposed", "expert_declined", expert.id, "expert", "other", "明年才有空")
    assert kinds_for(app, enterprise.id) == ["proposed", "expert_declined"]
    assert kinds_for(app, coordinator.id) == ["expert_declined"]
    ent = signed_in(app, enterprise)
    assert shown(notification_texts(ent), "expert_declined")


def test_enterprise_declines_on_the_match_page_with_a_listed_reason(app, factory):
    enterprise, expert, coordinator, need, match_id = proposal(app, factory)
    ent = signed_in(app, enterprise)
    response = submit(ent, ent.get(f"/matches/{match_id}"), "#answer", {"reason": "budget", "note": ""}, button="decline")
    assert response.status_code == 302
    page = ent.get(f"/matches/{match_id}")
    assert 'id="match-status">Declined by enterprise<' in text(page)
    assert status_of(app, match_id) == "enterprise_declined"
    assert events(app, match_id)[-1][1:5] == ("enterprise_declined", enterprise.id, "enterprise", "budget")
    exp = signed_in(app, expert)
    assert shown(notification_texts(exp), "enterprise_declined")
    assert 'id="answer"' not in text(exp.get(f"/matches/{match_id}"))  # nothing left to answer


def test_progress_intent_contract_completed_is_recorded_from_the_match_page(app, factory):
    """Each step is pressed on the page's "Record progress" form, by each party in turn."""
    enterprise, expert, coordinator, need, match_id = connected(app, factory)
    clients = {"expert": signed_in(app, expert), "enterprise": signed_in(app, enterprise),
               "coordinator": signed_in(app, coordinator)}
    steps = [("expert", "intent", "intent", MESSAGES["intent"]),
             ("enterprise", "contract", "contract_by_enterprise", "You recorded the contract. It counts once the expert confirms it."),
             ("expert", "confirm", "contract", "You confirmed it: it now counts."),
             ("coordinator", "completed", "completed", MESSAGES["completed"])]
    for who, action, status, message in steps:
        client = clients[who]
        page = client.get(f"/matches/{match_id}")
        if action == "confirm":  # the enterprise's contract counts once the expert confirms it
            response = submit(client, page, "#decide", button="confirm")
        else:
            assert f'id="record-{action}"' in text(page)
            amount = {"amount": "30"} if action == "contract" else {}
            response = submit(client, page, "#progress", {"note": f"{action} by {who}", **amount})
        assert response.status_code == 302
        after = client.get(f"/matches/{match_id}")
        assert status_of(app, match_id) == status, flashes(after)
        assert message in flashes(after)[0]
    history = events(app, match_id)
    assert [(e[0], e[1], e[3], e[5]) for e in history[-4:]] == [
        ("connected", "intent", "expert", "intent by expert"),
        ("intent", "contract_by_enterprise", "enterprise", "contract by enterprise"),
        ("contract_by_enterprise", "contract", "expert", ""),
        ("contract", "completed", "coordinator", "completed by coordinator"),
    ]
    page = clients["expert"].get(f"/matches/{match_id}")
    assert 'id="progress"' not in text(page) and 'id="close"' not in text(page)  # completed is final
    # each step reaches the two parties that did not record it
    assert kinds_for(app, expert.id) == ["proposed", "connected", "contract_by_enterprise", "completed"]
    assert kinds_for(app, enterprise.id) == ["proposed", "expert_accepted", "intent", "contract", "completed"]
    assert kinds_for(app, coordinator.id) == ["connected", "intent", "contract_by_enterprise", "contract"]
    assert shown(notification_texts(clients["coordinator"]), "contract")
    assert shown(notification_texts(clients["enterprise"]), "completed")
    assert_no_contacts_in_mail(app, expert, enterprise)


def test_coordinator_closes_another_match_from_the_page_with_a_reason(app, factory):
    enterprise, expert, coordinator, need, match_id = proposal(app, factory)
    act(app, expert.id, match_service.respond, match_id, True)
    coord = signed_in(app, coordinator)
    page = coord.get(f"/matches/{match_id}")
    reasons = [v for v, _ in next(c for c in find_form(page.data, "#close").controls if c.name == "reason").options]
    assert reasons == ["", *match_service.CLOSE_REASONS]

    submit(coord, page, "#close", {"reason": "", "note": ""})  # no reason: refused
    page = coord.get(f"/matches/{match_id}")
    assert status_of(app, match_id) == "expert_accepted"
    assert any("choose a reason for closing" in f for f in flashes(page))

    response = submit(coord, page, "#close", {"reason": "need_withdrawn", "note": "企业已撤回"})
    assert response.status_code == 302
    page = coord.get(f"/matches/{match_id}")
    assert status_of(app, match_id) == "closed", flashes(page)
    assert 'id="close"' not in text(page) and 'id="match-status">Closed<' in text(page)
    assert "Need withdrawn" in text(page) and "企业已撤回" in text(page)  # the history shows why
    assert events(app, match_id)[-1] == ("expert_accepted", "closed", coordinator.id, "coordinator", "need_withdrawn", "企业已撤回")
    with app.app_context():
        assert db.session.get(Match, match_id).closed_reason == "need_withdrawn: 企业已撤回"
    for user in (expert, enterprise):
        assert shown(notification_texts(signed_in(app, user)), "closed")
    assert len(mails_to(app, expert.email)) == 2 and len(mails_to(app, enterprise.email)) == 3  # proposed, (accepted), closed
    assert_no_contacts_in_mail(app, expert, enterprise)


def test_coordinators_see_proposals_nobody_answered_for_seven_days(app, factory):
    enterprise, expert, coordinator, need, stale_id = proposal(app, factory, title="七天无人应答的需求")
    half_id = act(app, coordinator.id, match_service.propose, factory.need(enterprise, title="专家已接受的需求").id,
                  factory.user(role="expert", name="王工").expert_id)
    act(app, db_user_id(app, half_id), match_service.respond, half_id, True)
    fresh_id = act(app, coordinator.id, match_service.propose, factory.need(enterprise, title="刚推荐的需求").id, expert.expert_id)
    declined_id = act(app, coordinator.id, match_service.propose, factory.need(enterprise, title="早已谢绝的需求").id,
                      expert.expert_id)
    act(app, expert.id, match_service.respond, declined_id, False, reason="timeline")
    with app.app_context(), write_transaction() as session:
        for match_id, days in ((stale_id, 8), (half_id, 10), (fresh_id, 3), (declined_id, 30)):
            session.execute(sa.update(Match).where(Match.id == match_id).values(updated_at=utcnow() - timedelta(days=days)))

    coord = signed_in(app, coordinator)
    page = coord.get("/matches/")
    stale = section(page, "stale")
    assert "No answer for 7 days or more" in text(page) and "(2)" in text(page)
    assert "七天无人应答的需求" in stale and "专家已接受的需求" in stale
    assert "刚推荐的需求" not in stale and "早已谢绝的需求" not in stale
    entries = dict(re.findall(r'href="/matches/(\d+)">[^<]*</a>(.*?)</li>', stale, re.S))
    assert "expert has not answered" in entries[str(stale_id)] and "enterprise has not answered" in entries[str(stale_id)]
    assert "expert has not answered" not in entries[str(half_id)] and "enterprise has not answered" in entries[str(half_id)]
    assert stale.index("专家已接受的需求") < stale.index("七天无人应答的需求")  # longest wait first

    for user in (expert, enterprise):
        assert 'id="stale"' not in text(signed_in(app, user).get("/matches/"))


def db_user_id(app, match_id: int) -> int:
    """The user id of a match's expert."""
    with app.app_context():
        return db.session.get(Match, match_id).expert.user_id


def test_expert_sign_up_keeps_the_phone_given(app, factory):
    """The sign-up form asks every applicant for a private phone; an expert's must reach the profile."""
    coordinator = factory.user(role="coordinator")
    exp = browser(app)
    submit(exp, exp.get("/auth/signup"), "signup-form", {"role": "expert", "name": "陈研究员", "phone": "13900004321",
                                                         "email": "chen@inst.example.cn", "password": PASSWORD})
    with app.app_context():
        user_id = db.session.scalar(sa.select(User.id).where(User.email == "chen@inst.example.cn"))
    coord = signed_in(app, coordinator)
    submit(coord, coord.get("/coordinator/accounts"), f"/accounts/{user_id}/approve")
    assert sign_in(exp, "chen@inst.example.cn").status_code == 302
    with app.app_context():
        assert db.session.get(User, user_id).expert_profile.phone == "13900004321"
    assert 'value="13900004321"' in text(exp.get("/expert/profile"))
