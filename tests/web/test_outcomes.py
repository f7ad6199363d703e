"""Outcomes both sides confirm (issue 12, gap 4): a contract or completion one side records
counts only once the other side (or a coordinator) confirms it; the date, amount and note are
checked field by field; the match page shows a stepper and who recorded and confirmed each step;
the API and its OpenAPI document offer the confirmation."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
import sqlalchemy as sa

from models import Match, MatchEvent, MatchOutcome, Notification, User, db
from tests.web.pages import submit
from web.domain import lifecycle as lc
from web.domain import matches as svc
from web.domain import stats
from web.domain.errors import IllegalTransition, ValidationError
from web.infra.tokens import issue_token
from web.localtime import local_today


@pytest.fixture
def cast(app, factory):
    """Made outside any app context: tests of the pages make requests, each with its own
    context (as in production); tests of the service take ``ctx`` as well."""
    enterprise = factory.user(role="enterprise", name="王工")
    expert = factory.user(role="expert", name="李教授")
    coordinator = factory.user(role="coordinator", name="张协调")
    need = factory.need(enterprise, title="冲压件毛刺问题", industry_codes=["36"], region="广东省茂名市")
    return {"enterprise": enterprise, "expert": expert, "coordinator": coordinator, "need": need}


def user(ref) -> User:
    db.session.commit()
    return db.session.get(User, ref.id)


def connected(cast, *, intent: bool = True) -> int:
    match, _ = svc.propose(user(cast["coordinator"]), cast["need"].id, cast["expert"].expert_id)
    svc.respond(user(cast["expert"]), match.id, True)
    svc.respond(user(cast["enterprise"]), match.id, True)
    if intent:
        svc.record_outcome(user(cast["expert"]), match.id, "intent", details={"amount": "5"})
    return match.id


def state(match_id: int) -> tuple:
    db.session.commit()
    match = db.session.get(Match, match_id)
    events = db.session.scalar(sa.select(sa.func.count()).select_from(MatchEvent).where(MatchEvent.match_id == match_id))
    records = [(r.step, r.state, r.amount_yuan) for r in db.session.scalars(
        sa.select(MatchOutcome).where(MatchOutcome.match_id == match_id).order_by(MatchOutcome.id))]
    return match.status.value, events, records


def counted() -> tuple[int, float]:
    """(needs with a contract, contract value in 万元) on the dashboard."""
    overall = stats.funnel()["overall"]
    return overall["needs_contract"], overall["contract_value_wan"]


# -- the rules -------------------------------------------------------------------------------
@pytest.mark.parametrize(("recorder", "confirmer"), [("expert", "enterprise"), ("enterprise", "expert"), ("expert", "coordinator")])
def test_a_contract_one_side_records_counts_once_the_other_side_or_a_coordinator_confirms_it(ctx, cast, recorder, confirmer):
    match_id = connected(cast)
    svc.record_outcome(user(cast[recorder]), match_id, "contract", note="合同已盖章", details={"amount": "30.5"})
    assert state(match_id)[0] == f"contract_by_{recorder}"
    assert counted() == (0, 0)  # one side's word does not count
    svc.decide_outcome(user(cast[confirmer]), match_id, "contract", True)
    assert state(match_id)[0] == "contract"
    assert counted() == (1, 30.5)
    before = state(match_id)
    for who in ("expert", "enterprise", "coordinator"):  # confirming again changes nothing, whoever asks
        svc.decide_outcome(user(cast[who]), match_id, "contract", True)
    assert state(match_id) == before and counted() == (1, 30.5)


@pytest.mark.parametrize("recorder", ["expert", "enterprise"])
def test_the_side_that_recorded_a_step_cannot_confirm_or_reject_it(ctx, cast, recorder):
    match_id = connected(cast)
    svc.record_outcome(user(cast[recorder]), match_id, "contract", details={"amount": "12"})
    before = state(match_id)
    for accept in (True, False):
        with pytest.raises(IllegalTransition) as refused:
            svc.decide_outcome(user(cast[recorder]), match_id, "contract", accept, reason="details_wrong")
        assert "cannot confirm or reject" in str(refused.value)
    with pytest.raises(IllegalTransition):  # nor can the other side "record" it again instead of confirming
        svc.record_outcome(user(cast["enterprise" if recorder == "expert" else "expert"]), match_id, "contract",
                           details={"amount": "99"})
    assert state(match_id) == before and counted() == (0, 0)


def test_a_coordinators_contract_counts_at_once_and_an_intent_needs_no_confirmation(ctx, cast):
    match_id = connected(cast)
    assert state(match_id)[0] == "intent" and stats.funnel()["overall"]["needs_intent"] == 1
    svc.record_outcome(user(cast["coordinator"]), match_id, "contract", details={"amount": "8"})
    assert state(match_id)[0] == "contract" and counted() == (1, 8)


def test_rejecting_needs_a_reason_goes_back_a_step_and_tells_the_recorder(ctx, cast):
    match_id = connected(cast)
    svc.record_outcome(user(cast["expert"]), match_id, "contract", details={"amount": "30"})
    before = state(match_id)
    with pytest.raises(ValidationError) as missing:
        svc.decide_outcome(user(cast["enterprise"]), match_id, "contract", False)
    assert set(missing.value.fields) == {"reason"} and state(match_id) == before
    svc.decide_outcome(user(cast["enterprise"]), match_id, "contract", False, reason="details_wrong", note="金额应为 25 万元")
    status, _, records = state(match_id)
    assert status == "intent" and records[-1] == ("contract", "rejected", 300_000) and counted() == (0, 0)
    record = db.session.scalar(sa.select(MatchOutcome).where(MatchOutcome.match_id == match_id, MatchOutcome.step == "contract"))
    assert (record.decided_side, record.reject_reason, record.reject_note) == ("enterprise", "details_wrong", "金额应为 25 万元")
    kinds = {(n.user_id, n.kind) for n in db.session.scalars(sa.select(Notification).where(Notification.match_id == match_id))}
    assert (cast["expert"].id, "reject_contract") in kinds and (cast["enterprise"].id, "reject_contract") not in kinds
    svc.decide_outcome(user(cast["enterprise"]), match_id, "contract", False, reason="details_wrong")  # again: no-op
    assert state(match_id)[0] == "intent"
    svc.record_outcome(user(cast["expert"]), match_id, "contract", details={"amount": "25"})  # recorded anew
    svc.decide_outcome(user(cast["coordinator"]), match_id, "contract", True)
    assert counted() == (1, 25)


def test_a_confirmation_meant_for_the_contract_never_confirms_a_completion(ctx, cast):
    match_id = connected(cast)
    svc.record_outcome(user(cast["coordinator"]), match_id, "contract", details={"amount": "10"})
    svc.record_outcome(user(cast["expert"]), match_id, "completed")
    svc.decide_outcome(user(cast["enterprise"]), match_id, "contract", True)  # a stale page: the contract counts already
    assert state(match_id)[0] == "completed_by_expert" and stats.funnel()["overall"]["needs_completed"] == 0
    svc.decide_outcome(user(cast["enterprise"]), match_id, "completed", True)
    assert state(match_id)[0] == "completed" and stats.funnel()["overall"]["needs_completed"] == 1


@pytest.mark.parametrize(("step", "details", "field", "problem"), [
    ("contract", {}, "amount", "required for a contract"),
    ("contract", {"amount": "-3"}, "amount", "must not be negative"),
    ("contract", {"amount": "0"}, "amount", "must be more than 0"),
    ("contract", {"amount": "三十"}, "amount", "must be a number"),
    ("contract", {"amount": "1.123456"}, "amount", "must have at most 4 decimal places"),
    ("contract", {"amount": True}, "amount", "must be a number"),
    ("contract", {"amount": "20", "date": "2026/12/01"}, "date", "must be a date as YYYY-MM-DD"),
    ("contract", {"amount": "20", "date": "tomorrow"}, "date", "must not be in the future"),
    ("contract", {"amount": "20", "date": "2000-01-01"}, "date", "must not be before the match was proposed"),
    ("intent", {"amount": "-1"}, "amount", "must not be negative"),
    ("completed", {"amount": "5"}, "amount", "is recorded only with an intent or a contract"),
])
def test_dates_and_amounts_are_checked_with_the_field_named(ctx, cast, step, details, field, problem):
    match_id = connected(cast, intent=step != "intent")
    if step == "completed":
        svc.record_outcome(user(cast["coordinator"]), match_id, "contract", details={"amount": "10"})
    if details.get("date") == "tomorrow":
        details = {**details, "date": (local_today() + timedelta(days=1)).isoformat()}
    before = state(match_id)
    with pytest.raises(ValidationError) as refused:
        svc.record_outcome(user(cast["expert"]), match_id, step, details=details)
    assert set(refused.value.fields) == {field} and refused.value.fields[field].startswith(problem)
    assert state(match_id) == before


def test_the_date_defaults_to_today_and_amounts_keep_their_decimals(ctx, cast):
    match_id = connected(cast)
    svc.record_outcome(user(cast["coordinator"]), match_id, "contract", details={"amount": "12,5"})
    record = db.session.scalar(sa.select(MatchOutcome).where(MatchOutcome.match_id == match_id, MatchOutcome.step == "contract"))
    assert (record.occurred_on, record.amount_yuan, record.state) == (local_today(), 125_000, "counted")


# -- the match page ------------------------------------------------------------------------------
def signed_in(app, factory, who):
    client = app.test_client()
    from tests.conftest import csrf_token

    page = client.get("/auth/login")
    client.post("/auth/login", data={"email": who.email, "password": factory.PASSWORD, "csrf_token": csrf_token(page)})
    return client


def stepper(page) -> list[tuple[str, str]]:
    import re

    return re.findall(r'data-step="(\w+)" data-state="(\w+)"', page.get_data(as_text=True))


def test_the_page_records_a_contract_the_other_side_confirms_with_stepper_and_timeline(app, factory, cast):
    with app.app_context():
        match_id = connected(cast)
    expert, enterprise = signed_in(app, factory, cast["expert"]), signed_in(app, factory, cast["enterprise"])
    page = expert.get(f"/matches/{match_id}")
    assert stepper(page) == [("proposed", "done"), ("accepted", "done"), ("connected", "done"), ("intent", "done"),
                             ("contract", "todo"), ("completed", "todo")]
    refused = submit(expert, page, "#progress", {"amount": "-5", "note": "已签"})
    assert refused.status_code == 400
    beside = refused.get_data(as_text=True).split('id="progress-amount"')[1].split("</div>")[0]
    assert "不能为负数" in beside
    with app.app_context():
        assert state(match_id)[0] == "intent"
    assert submit(expert, page, "#progress", {"amount": "40", "note": "已签"}).status_code == 302
    mine = expert.get(f"/matches/{match_id}")
    assert ("contract", "waiting") in stepper(mine) and 'id="decide"' not in mine.get_data(as_text=True)
    waiting = html.unescape(mine.get_data(as_text=True).split('id="awaiting-confirmation">')[1].split("</p>")[0])
    assert "等待企业（或协调员）确认" in waiting
    theirs = enterprise.get(f"/matches/{match_id}")
    assert 'id="decide"' in theirs.get_data(as_text=True) and 'id="record-contract"' not in theirs.get_data(as_text=True)
    with app.app_context():
        assert counted() == (0, 0)
    assert submit(enterprise, theirs, "#decide", button="confirm").status_code == 302
    done = enterprise.get(f"/matches/{match_id}")
    assert ("contract", "done") in stepper(done) and ("completed", "todo") in stepper(done)
    timeline = html.unescape(done.get_data(as_text=True).split('id="timeline"')[1].split("</ol>")[0])
    assert "操作人：专家 李教授" in timeline and "确认人：企业 王工" in timeline and "40 万元" in timeline
    with app.app_context():
        assert counted() == (1, 40)


def test_the_notifications_name_the_need_and_the_other_party(app, factory, cast):
    with app.app_context():
        match_id = connected(cast)
        svc.record_outcome(user(cast["expert"]), match_id, "contract", details={"amount": "40"})
    text = html.unescape(signed_in(app, factory, cast["enterprise"]).get("/notifications").get_data(as_text=True))
    assert "专家登记了签约" in text and "需求“冲压件毛刺问题” · 专家 李教授" in text


def test_an_anonymous_needs_enterprise_stays_unnamed_in_the_experts_notifications(app, factory, cast):
    need = factory.need(cast["enterprise"], title="匿名需求", anonymous=True)
    with app.app_context():
        svc.propose(user(cast["coordinator"]), need.id, cast["expert"].expert_id)
        organization = db.session.get(User, cast["enterprise"].id).organization.name
    text = html.unescape(signed_in(app, factory, cast["expert"]).get("/notifications").get_data(as_text=True))
    assert "需求“匿名需求”" in text and organization not in text


# -- the API -----------------------------------------------------------------------------------
def test_the_api_records_confirms_and_rejects_with_field_errors(app, client, cast):
    with app.app_context():
        match_id = connected(cast)
        as_ = {who: {"Authorization": f"Bearer {issue_token(user(cast[who]))}"} for who in ("expert", "enterprise")}
        today = local_today().isoformat()
    url = f"/api/v1/matches/{match_id}"
    bad = client.post(f"{url}/outcome", headers=as_["enterprise"], json={"status": "contract", "amount": -2})
    assert bad.status_code == 400 and set(bad.get_json()["error"]["fields"]) == {"amount"}
    bad = client.post(f"{url}/outcome", headers=as_["enterprise"], json={"status": "contract", "amount": 20, "date": "1.12.2026"})
    assert bad.status_code == 400 and set(bad.get_json()["error"]["fields"]) == {"date"}
    recorded = client.post(f"{url}/outcome", headers=as_["enterprise"],
                           json={"status": "contract", "amount": 20, "date": today, "note": "盖章"})
    body = recorded.get_json()
    assert recorded.status_code == 200 and body["status"] == "contract_by_enterprise"
    assert body["awaiting_confirmation"] == {"step": "contract", "by": ["expert"], "or_coordinator": True}
    assert body["events"][-1]["outcome"]["amount_wan"] == "20" and body["events"][-1]["outcome"]["state"] == "pending"
    own = client.post(f"{url}/confirmation", headers=as_["enterprise"], json={"status": "contract", "confirm": True})
    assert own.status_code == 409
    assert client.post(f"{url}/confirmation", headers=as_["expert"], json={"status": "contract", "confirm": "yes"}).status_code == 400
    no_reason = client.post(f"{url}/confirmation", headers=as_["expert"], json={"status": "contract", "confirm": False})
    assert no_reason.status_code == 400 and set(no_reason.get_json()["error"]["fields"]) == {"reason"}
    for _ in range(2):  # idempotent
        confirmed = client.post(f"{url}/confirmation", headers=as_["expert"], json={"status": "contract", "confirm": True})
        assert confirmed.status_code == 200 and confirmed.get_json()["status"] == "contract"
    outcome = confirmed.get_json()["events"][-2]["outcome"]
    assert (outcome["state"], outcome["decided_side"]) == ("counted", "expert")
    with app.app_context():
        assert counted() == (1, 20)


def test_the_openapi_document_reads_states_and_steps_from_the_lifecycle(client):
    document = client.get("/api/v1/openapi.json").get_json()
    schemas = document["components"]["schemas"]
    assert schemas["Match"]["properties"]["status"]["enum"] == [state.status.value for state in lc.STATES]
    assert {"contract_by_expert", "completed_by_enterprise"} <= set(schemas["Match"]["properties"]["status"]["enum"])
    confirmation = document["paths"]["/matches/{match_id}/confirmation"]["post"]
    body = confirmation["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["status", "confirm"] and body["properties"]["status"]["enum"] == ["completed", "contract"]
    assert body["properties"]["reason"]["enum"] == list(lc.RULE[lc.Action.REJECT_CONTRACT].reasons)
    assert {"date", "amount", "note", "status"} <= set(schemas["OutcomeInput"]["properties"])
    assert "409" in confirmation["responses"]


# -- the dashboard's seven-day card --------------------------------------------------------------
def test_the_unanswered_card_links_to_the_list_of_those_matches(app, factory, cast):
    from models import utcnow, write_transaction

    other = factory.user(role="expert", name="赵研究员")
    with app.app_context():
        stale, _ = svc.propose(user(cast["coordinator"]), cast["need"].id, cast["expert"].expert_id)
        fresh, _ = svc.propose(user(cast["coordinator"]), cast["need"].id, other.expert_id)
        stale, fresh = stale.id, fresh.id
        with write_transaction() as session:
            session.get(Match, stale).updated_at = utcnow() - timedelta(days=9)
    coordinator = signed_in(app, factory, cast["coordinator"])
    dashboard = coordinator.get("/dashboard/").get_data(as_text=True)
    card = dashboard.split('id="stale-link"')[0].rsplit("<a ", 1)[1] + dashboard.split('id="stale-link"')[1].split("</a>")[0]
    assert 'href="/matches/?status=stale"' in card and '<span class="dash-tile-value">1</span>' in card
    listed = coordinator.get("/matches/?status=stale").get_data(as_text=True)
    table = listed.split('id="matches"')[1]
    assert f"/matches/{stale}\"" in table and f"/matches/{fresh}\"" not in table
    assert signed_in(app, factory, cast["expert"]).get("/matches/?status=stale").status_code == 200  # not staff: own list
