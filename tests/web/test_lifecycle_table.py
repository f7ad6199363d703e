"""The lifecycle table (web/domain/lifecycle.py) is what the service enforces.

Every case below is derived from the table, not listed by hand: for every state × every action
× every side, the table says "allowed" (a row), "already done" (``done_in``), "not this side's
action" or "not from this state", and the service must do exactly that — an allowed step
changes the state and writes one MatchEvent with actor and reason and the notifications the
row names; every other case changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import count

import pytest
import sqlalchemy as sa

from models import (
    EmailMessage,
    Match,
    MatchEvent,
    MatchOutcome,
    MatchStatus,
    Need,
    NeedStatus,
    Notification,
    User,
    db,
    write_transaction,
)
from web.domain import lifecycle as lc
from web.domain import matches as svc
from web.domain import needs as need_service
from web.domain.errors import Conflict, IllegalTransition, PermissionDenied
from web.domain.lifecycle import Action, Side

_titles = count(1)


@dataclass
class Cast:
    enterprise: object
    expert: object
    coordinator: object

    def of(self, side: Side):
        return {Side.EXPERT: self.expert, Side.ENTERPRISE: self.enterprise, Side.COORDINATOR: self.coordinator}[side]


@pytest.fixture
def cast(ctx, factory) -> Cast:
    return Cast(factory.user(role="enterprise"), factory.user(role="expert"), factory.user(role="coordinator"))


def user(ref) -> User:
    db.session.commit()  # end the read transaction: see what other requests wrote
    return db.session.get(User, ref.id)


def reason_for(action: Action) -> str:
    """A listed reason that needs no note (the table's first), or none."""
    reasons = lc.RULE[action].reasons
    return next(r for r in reasons if r != "other") if len(reasons) > 1 else ""


def details_for(action: Action) -> dict | None:
    """The date and amount an action records, as its rule asks (the date defaults to today)."""
    rule = lc.RULE[action]
    if rule.records is None:
        return None
    return {"amount": "12.5"} if rule.amount == "required" else {}


def take(cast: Cast, match_id: int, need_id: int, action: Action, side: Side):
    actor = user(cast.of(side))
    if action == Action.WITHDRAW:
        return need_service.withdraw_need(actor, need_id)
    return svc.act(actor, match_id, action, reason=reason_for(action), details=details_for(action))


def match_in(cast: Cast, factory, status: MatchStatus) -> tuple[int, int]:
    """A new need with one match walked to ``status`` along the table's own path."""
    need_id = factory.need(cast.enterprise, title=f"需求{next(_titles)}").id
    match, created = svc.propose(user(cast.coordinator), need_id, cast.expert.expert_id)
    assert created
    for row, side in lc.path(MatchStatus.PROPOSED, status):
        take(cast, match.id, need_id, row.action, side)
    assert snapshot(match.id)["status"] == status.value
    return match.id, need_id


def snapshot(match_id: int) -> dict:
    db.session.commit()
    match = db.session.get(Match, match_id)
    return {
        "status": match.status.value,
        "connected": match.connected_at is not None,
        "events": [(e.from_status, e.to_status, e.actor_id, e.actor_role, e.reason_code, e.note) for e in db.session.scalars(
            sa.select(MatchEvent).where(MatchEvent.match_id == match_id).order_by(MatchEvent.id))],
        "notifications": sorted((n.user_id, n.kind) for n in db.session.scalars(
            sa.select(Notification).where(Notification.match_id == match_id))),
        "mails": db.session.scalar(sa.select(sa.func.count()).select_from(EmailMessage)),
        "records": [(r.step, r.state, r.amount_yuan) for r in db.session.scalars(
            sa.select(MatchOutcome).where(MatchOutcome.match_id == match_id).order_by(MatchOutcome.id))],
    }


def expectation(status: MatchStatus, action: Action, side: Side):
    """What the table says about ``side`` taking ``action`` in ``status``."""
    if not lc.may_ever(side, action):
        return "denied"
    if lc.RULE[action].done(side, status):
        return "unchanged"
    return lc.transition(status, action, side) or "illegal"


def told(cast: Cast, row: lc.Transition, actor: Side) -> list[int]:
    return sorted(cast.of(side).id for side in row.tell if side != actor)


CASES = [(action, side) for action in Action if action != Action.PROPOSE for side in Side]


@pytest.mark.parametrize("status", [state.status for state in lc.STATES], ids=lambda s: s.value)
def test_every_action_of_every_side_does_what_the_table_says(cast, factory, status):
    failures = []
    for action, side in CASES:
        match_id, need_id = match_in(cast, factory, status)
        before = snapshot(match_id)
        expected = expectation(status, action, side)
        case = f"{status.value} × {action.value} by {side.value} (expected {getattr(expected, 'target', expected)})"
        try:
            take(cast, match_id, need_id, action, side)
        except PermissionDenied:
            outcome = "denied"
        except IllegalTransition:
            outcome = "illegal"
        except Conflict:
            outcome = "refused"
        else:
            outcome = "done"
        after = snapshot(match_id)
        if isinstance(expected, lc.Transition):
            row = expected
            reason = svc.checked_reason(action, reason_for(action), "")
            event = (status.value, row.target.value, cast.of(side).id, user(cast.of(side)).role.value, reason, "")
            new_notes = sorted(set(after["notifications"]) - set(before["notifications"]))
            kind = row.kind
            records = [record for record in before["records"]]
            if action in lc.RECORDS:  # a new record: pending when the table makes its step wait for a confirmation
                amount = 125_000 if lc.RULE[action].amount == "required" else None
                records.append((lc.RECORDS[action].value, "pending" if row.target in lc.AWAITING_CONFIRMATION else "counted", amount))
            elif action in lc.CONFIRMING or action in lc.REJECTING:  # the pending record is decided
                records[-1] = (*records[-1][:1], "counted" if action in lc.CONFIRMING else "rejected", records[-1][2])
            checks = {
                "succeeded": outcome == "done",
                "state": after["status"] == row.target.value,
                "one audit row with actor and reason": after["events"] == [*before["events"], event],
                "the row's audience told": new_notes == [(uid, kind) for uid in told(cast, row, side)],
                "contacts revealed only in revealed states": after["connected"] == (before["connected"] or lc.STATE[row.target].revealed),
                "the outcome records follow": after["records"] == records,
            }
            failures += [f"{case}: {name}" for name, ok in checks.items() if not ok]
            continue
        if action == Action.WITHDRAW and side == Side.ENTERPRISE and status in lc.LOCKS_NEED:
            expected = "refused"  # a match past intent fixes the need: no withdrawal
        elif action == Action.WITHDRAW and expected in ("unchanged", "illegal"):
            expected = "done"  # the need is withdrawn all the same; this match is left as it is
        elif expected == "unchanged":
            expected = "done"
        if outcome != expected:
            failures.append(f"{case}: got {outcome}")
        if after != before:
            failures.append(f"{case}: the match changed: {before} -> {after}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("side", list(Side), ids=lambda s: s.value)
def test_proposing_is_allowed_exactly_to_the_sides_the_table_names(cast, factory, side):
    need_id = factory.need(cast.enterprise).id
    row = lc.transition(None, Action.PROPOSE, side)
    if row is None:
        with pytest.raises(PermissionDenied):
            svc.propose(user(cast.of(side)), need_id, cast.expert.expert_id)
        db.session.commit()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Match)) == 0
        return
    match, created = svc.propose(user(cast.of(side)), need_id, cast.expert.expert_id)
    after = snapshot(match.id)
    assert created and after["status"] == row.target.value
    assert after["events"] == [(None, row.target.value, cast.of(side).id, side.value, "", "")]
    assert after["notifications"] == [(uid, row.target.value) for uid in told(cast, row, side)]
    again, created = svc.propose(user(cast.of(side)), need_id, cast.expert.expert_id)
    assert (again.id, created) == (match.id, False) and snapshot(match.id) == after


# -- the table is coherent ------------------------------------------------------------------------
def test_every_status_has_one_state_and_every_state_is_reachable():
    assert sorted(s.status.value for s in lc.STATES) == sorted(s.value for s in MatchStatus)
    for state in lc.STATES:
        assert lc.path(MatchStatus.PROPOSED, state.status) is not None, state.status


def test_repeating_any_transition_is_a_no_op_and_no_state_is_both_done_and_a_source():
    for row in lc.TRANSITIONS:
        for side in row.by:
            assert lc.RULE[row.action].done(side, row.target), (row, side)
            if row.source is not None:
                assert not lc.RULE[row.action].done(side, row.source), (row, side)


def test_nothing_leaves_a_final_state_and_every_open_state_can_be_closed():
    for row in lc.TRANSITIONS:
        assert row.source is None or not lc.STATE[row.source].final, row
    for status in lc.OPEN:
        assert lc.transition(status, Action.CLOSE, Side.COORDINATOR) is not None, status
        # withdrawing the need closes its open matches, except past intent, where it is refused
        assert (lc.transition(status, Action.WITHDRAW, Side.ENTERPRISE) is not None) == (status not in lc.LOCKS_NEED), status


def test_contacts_are_revealed_only_by_entering_connected():
    for row in lc.TRANSITIONS:
        if lc.STATE[row.target].revealed and (row.source is None or not lc.STATE[row.source].revealed):
            assert row.target == MatchStatus.CONNECTED and row.action == Action.ACCEPT, row


def test_awaiting_answer_means_a_side_can_still_answer_and_the_outcomes_climb_the_funnel():
    answerable = {row.source for row in lc.TRANSITIONS if row.action == Action.ACCEPT}
    assert set(lc.AWAITING_ANSWER) == answerable
    assert lc.OUTCOME_ORDER == (MatchStatus.CONNECTED, MatchStatus.INTENT, MatchStatus.CONTRACT, MatchStatus.COMPLETED)
    for row in lc.TRANSITIONS:
        if row.action in (Action.INTENT, Action.CONTRACT, Action.COMPLETE):
            # one stage up at once, or (a side's record) once the other side confirms it
            reached = lc.AWAITING_CONFIRMATION[row.target][0] if row.target in lc.AWAITING_CONFIRMATION else row.target
            assert lc.FUNNEL_RANK[reached] == lc.FUNNEL_RANK[row.source] + 1, row
            assert (row.target in lc.AWAITING_CONFIRMATION) == (row.action != Action.INTENT and Side.COORDINATOR not in row.by), row
        if row.source in lc.AWAITING_CONFIRMATION:  # a pending record counts as the stage before its own
            assert lc.FUNNEL_RANK[row.source] == lc.FUNNEL_RANK[lc.AWAITING_CONFIRMATION[row.source][0]] - 1, row
    assert set(lc.REVEALED) >= lc.ENGAGED and not lc.ENGAGED & set(lc.FINAL)


def test_the_database_refuses_the_status_nothing_produces(cast, factory):
    need_id = factory.need(cast.enterprise).id
    with pytest.raises(sa.exc.IntegrityError), write_transaction() as session:
        session.execute(sa.text("INSERT INTO matches (need_id, expert_id, status, closed_reason, version, created_at, updated_at) "
                                "VALUES (:n, :e, 'suggested', '', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
                        {"n": need_id, "e": cast.expert.expert_id})


# -- bug 12.8: withdrawing a need closes its open matches ----------------------------------------------
def test_withdrawing_a_need_closes_its_open_matches_and_tells_the_parties(cast, factory):
    need_id = factory.need(cast.enterprise).id
    experts = [cast.expert, *(factory.user(role="expert") for _ in range(3))]
    ids = [svc.propose(user(cast.coordinator), need_id, e.expert_id)[0].id for e in experts]
    svc.respond(user(experts[1]), ids[1], True)  # expert_accepted
    svc.respond(user(experts[2]), ids[2], True)
    svc.respond(user(cast.enterprise), ids[2], True)  # connected
    svc.respond(user(experts[3]), ids[3], False, reason="no_capacity")  # declined: final, left alone
    before = {i: snapshot(i) for i in ids}

    need_service.withdraw_need(user(cast.enterprise), need_id)

    db.session.commit()
    assert db.session.get(Need, need_id).status == NeedStatus.CLOSED
    for match_id, expert in zip(ids[:3], experts[:3], strict=True):
        after = snapshot(match_id)
        assert after["status"] == "closed"
        assert after["events"][-1] == (before[match_id]["status"], "closed", cast.enterprise.id, "enterprise", "need_withdrawn", "")
        assert db.session.get(Match, match_id).closed_reason == "need_withdrawn"
        new = sorted(set(after["notifications"]) - set(before[match_id]["notifications"]))
        assert new == sorted([(expert.id, "need_withdrawn"), (cast.coordinator.id, "need_withdrawn")])
    declined = snapshot(ids[3])
    assert declined["mails"] == before[ids[3]]["mails"] + 6  # the expert's and the coordinator's, for each closed match
    assert {**declined, "mails": None} == {**before[ids[3]], "mails": None}  # the declined match is left as it was


def test_a_withdrawn_needs_proposals_can_no_longer_be_accepted_or_reveal_contacts(cast, factory, client):
    from web.infra.tokens import issue_token

    need_id = factory.need(cast.enterprise).id
    match_id = svc.propose(user(cast.coordinator), need_id, cast.expert.expert_id)[0].id
    svc.respond(user(cast.expert), match_id, True)
    need_service.withdraw_need(user(cast.enterprise), need_id)
    before = snapshot(match_id)
    with pytest.raises(IllegalTransition):
        svc.respond(user(cast.enterprise), match_id, True)
    response = client.post(f"/api/v1/matches/{match_id}/respond", json={"accept": True},
                           headers={"Authorization": f"Bearer {issue_token(user(cast.enterprise))}"})
    assert response.status_code == 409 and "contacts" not in response.get_json()
    assert snapshot(match_id) == before and before["status"] == "closed" and not before["connected"]


def test_withdrawing_is_all_or_nothing(cast, factory):
    """If closing one of the need's matches fails, the need stays open and no match is closed."""
    need_id = factory.need(cast.enterprise).id
    first = svc.propose(user(cast.coordinator), need_id, cast.expert.expert_id)[0].id
    second = svc.propose(user(cast.coordinator), need_id, factory.user(role="expert").expert_id)[0].id
    before = (snapshot(first), snapshot(second))
    dialect = db.engine.dialect.name
    with db.engine.begin() as conn:  # the audit trail refuses the second closing
        if dialect == "postgresql":
            conn.execute(sa.text("CREATE FUNCTION refuse_second() RETURNS trigger AS $$ BEGIN "
                                 "RAISE EXCEPTION 'refused'; END $$ LANGUAGE plpgsql"))
            conn.execute(sa.text(f"CREATE TRIGGER refuse_second BEFORE INSERT ON match_events FOR EACH ROW "
                                 f"WHEN (NEW.match_id = {second} AND NEW.to_status = 'closed') EXECUTE FUNCTION refuse_second()"))
        else:
            conn.execute(sa.text(f"CREATE TRIGGER refuse_second BEFORE INSERT ON match_events "
                                 f"WHEN NEW.match_id = {second} AND NEW.to_status = 'closed' "
                                 f"BEGIN SELECT RAISE(ABORT, 'refused'); END"))
    with pytest.raises(sa.exc.DatabaseError):
        need_service.withdraw_need(user(cast.enterprise), need_id)
    db.session.rollback()
    assert db.session.get(Need, need_id).status == NeedStatus.OPEN
    assert (snapshot(first), snapshot(second)) == before


# -- bug 12.1: the actor reads a confirmation written for the actor ------------------------------------
def answer(client, match_id: int) -> str:
    """Press 接受 on the match page like a browser; the flash the actor then reads."""
    import html

    from tests.web.pages import flashes, submit

    response = submit(client, client.get(f"/matches/{match_id}"), "#answer", button="accept")
    assert response.status_code == 302
    return html.unescape(" ".join(flashes(client.get(f"/matches/{match_id}"))))


@pytest.mark.parametrize(("locale", "first", "second", "other_sides_text"), [
    ("zh", "您已接受，正在等待企业答复。", "您已接受。双方均已接受，现在可以查看对方的联系方式。", "专家已接受，请您答复。"),
    ("en", "You accepted. Waiting for the enterprise's answer.",
     "You accepted. Both sides have accepted: contact details are now visible.", "The expert accepted. Please give your answer."),
])
def test_each_side_that_accepts_reads_what_it_did_not_the_other_sides_message(app, factory, locale, first, second,
                                                                              other_sides_text):
    from tests.conftest import csrf_token
    from tests.web.pages import submit

    cast = Cast(factory.user(role="enterprise"), factory.user(role="expert"), factory.user(role="coordinator"))
    need_id = factory.need(cast.enterprise).id
    with app.app_context():  # no context held during requests: each request has its own, as in production
        match_id = svc.propose(user(cast.coordinator), need_id, cast.expert.expert_id)[0].id
    expert, enterprise = app.test_client(), app.test_client()
    for client, who in ((expert, cast.expert), (enterprise, cast.enterprise)):
        if locale == "en":
            page = client.get("/auth/login")
            assert client.post("/lang/en", data={"csrf_token": csrf_token(page), "next": "/auth/login"}).status_code == 302
        signed = submit(client, client.get("/auth/login"), "password", {"email": who.email, "password": factory.PASSWORD})
        assert signed.status_code == 302
    shown = answer(expert, match_id)
    assert first in shown and other_sides_text not in shown
    assert second in answer(enterprise, match_id)
    with app.app_context():
        assert snapshot(match_id)["status"] == "connected"
