"""The match lifecycle service (web/domain/matches.py) on its own: legal and illegal
transitions, idempotency, decline reasons, conflicts, the audit trail, and two requests
racing for the same match (the app's SQLite file runs in WAL mode, so threads contend)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from models import (
    EmailMessage,
    ExpertConflict,
    ExpertProfile,
    Match,
    MatchEvent,
    MatchStatus,
    Need,
    NeedStatus,
    Notification,
    User,
    db,
    write_transaction,
)
from web.domain import matches as svc
from web.domain.errors import Conflict, IllegalTransition, NotFound, PermissionDenied, ValidationError
from web.infra.tokens import issue_token


# -- helpers ---------------------------------------------------------------------------------
@dataclass
class Cast:
    enterprise: object
    expert: object
    coordinator: object
    need_id: int

    def ref(self, who: str):
        return {"expert": self.expert, "enterprise": self.enterprise, "coordinator": self.coordinator}[who]


def current() -> None:
    """End the context's read transaction so rows written elsewhere are visible."""
    db.session.commit()


def user(ref) -> User:
    current()
    return db.session.get(User, ref.id)


def event_rows(match_id: int) -> list[tuple]:
    current()
    return [(e.from_status, e.to_status, e.actor_id, e.actor_role, e.reason_code, e.note)
            for e in db.session.scalars(sa.select(MatchEvent).where(MatchEvent.match_id == match_id).order_by(MatchEvent.id))]


def status(match_id: int) -> str:
    current()
    return db.session.get(Match, match_id).status.value


def count(model) -> int:
    current()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.fixture
def cast(ctx, factory) -> Cast:
    enterprise = factory.user(role="enterprise")
    return Cast(enterprise, factory.user(role="expert"), factory.user(role="coordinator"), factory.need(enterprise).id)


def propose(cast: Cast, need_id: int | None = None, expert_id: int | None = None) -> int:
    match, created = svc.propose(user(cast.coordinator), need_id or cast.need_id, expert_id or cast.expert.expert_id)
    assert created
    return match.id


def step(cast: Cast, match_id: int, who: str, action: str):
    actor = user(cast.ref(who))
    if action == "accept":
        return svc.respond(actor, match_id, True)
    if action == "decline":
        return svc.respond(actor, match_id, False, reason="not_my_field" if who == "expert" else "budget")
    if action == "closed":
        return svc.record_outcome(actor, match_id, "closed", reason="duplicate")
    if action in ("confirm", "reject"):  # the contract or completion awaiting confirmation
        pending = status(match_id).split("_by_")[0]
        return svc.decide_outcome(actor, match_id, pending, action == "confirm", reason="details_wrong")
    return svc.record_outcome(actor, match_id, action, details={"amount": "20"} if action == "contract" else None)


PATHS = {
    "proposed": [],
    "expert_accepted": [("expert", "accept")],
    "enterprise_accepted": [("enterprise", "accept")],
    "expert_declined": [("expert", "decline")],
    "enterprise_declined": [("enterprise", "decline")],
    "connected": [("expert", "accept"), ("enterprise", "accept")],
    "intent": [("expert", "accept"), ("enterprise", "accept"), ("coordinator", "intent")],
    "contract": [("expert", "accept"), ("enterprise", "accept"), ("coordinator", "intent"), ("coordinator", "contract")],
    "completed": [("expert", "accept"), ("enterprise", "accept"), ("coordinator", "intent"), ("coordinator", "contract"),
                  ("coordinator", "completed")],
    "closed": [("coordinator", "closed")],
    **{f"contract_by_{who}": [("expert", "accept"), ("enterprise", "accept"), ("coordinator", "intent"), (who, "contract")]
       for who in ("expert", "enterprise")},
    **{f"completed_by_{who}": [("expert", "accept"), ("enterprise", "accept"), ("coordinator", "intent"),
                                ("coordinator", "contract"), (who, "completed")] for who in ("expert", "enterprise")},
}


def match_in(cast: Cast, state: str) -> int:
    match_id = propose(cast)
    for who, action in PATHS[state]:
        step(cast, match_id, who, action)
    assert status(match_id) == state
    return match_id


# -- legal transitions -------------------------------------------------------------------------
LEGAL = [
    ("proposed", "expert", "accept", "expert_accepted"),
    ("proposed", "enterprise", "accept", "enterprise_accepted"),
    ("proposed", "expert", "decline", "expert_declined"),
    ("proposed", "enterprise", "decline", "enterprise_declined"),
    ("expert_accepted", "enterprise", "accept", "connected"),
    ("expert_accepted", "enterprise", "decline", "enterprise_declined"),
    ("enterprise_accepted", "expert", "accept", "connected"),
    ("enterprise_accepted", "expert", "decline", "expert_declined"),
    *[("connected", who, "intent", "intent") for who in ("expert", "enterprise", "coordinator")],
    ("intent", "coordinator", "contract", "contract"),
    *[("intent", who, "contract", f"contract_by_{who}") for who in ("expert", "enterprise")],
    ("contract", "coordinator", "completed", "completed"),
    *[("contract", who, "completed", f"completed_by_{who}") for who in ("expert", "enterprise")],
    *[(f"{step}_by_{who}", other, "confirm", step) for step in ("contract", "completed")
      for who, other in (("expert", "enterprise"), ("enterprise", "expert"), ("expert", "coordinator"))],
    *[(f"{step}_by_{who}", other, "reject", before) for step, before in (("contract", "intent"), ("completed", "contract"))
      for who, other in (("expert", "enterprise"), ("enterprise", "coordinator"))],
    *[(state, "coordinator", "closed", "closed")
      for state in ("proposed", "expert_accepted", "enterprise_accepted", "connected", "intent", "contract")],
]


@pytest.mark.parametrize(("start", "who", "action", "end"), LEGAL)
def test_legal_transition_changes_the_state_and_writes_one_audit_row(cast, start, who, action, end):
    match_id = match_in(cast, start)
    before = event_rows(match_id)
    step(cast, match_id, who, action)
    assert status(match_id) == end
    after = event_rows(match_id)
    assert after[:-1] == before and len(after) == len(before) + 1
    reason = {"decline": "not_my_field" if who == "expert" else "budget", "closed": "duplicate", "reject": "details_wrong"}.get(action, "")
    assert after[-1] == (start, end, cast.ref(who).id, who, reason, "")


# -- illegal transitions ---------------------------------------------------------------------
ILLEGAL = [
    *[("proposed", who, outcome) for who in ("expert", "enterprise", "coordinator") for outcome in ("intent", "contract", "completed")],
    ("expert_accepted", "coordinator", "intent"),
    ("expert_accepted", "expert", "decline"),  # an expert who accepted cannot take it back by declining
    ("enterprise_accepted", "enterprise", "decline"),  # nor can an enterprise
    ("enterprise_accepted", "coordinator", "contract"),
    ("expert_declined", "expert", "accept"),
    ("expert_declined", "enterprise", "accept"),
    ("expert_declined", "enterprise", "decline"),
    ("expert_declined", "coordinator", "closed"),
    ("expert_declined", "coordinator", "intent"),
    ("enterprise_declined", "enterprise", "accept"),
    ("enterprise_declined", "expert", "accept"),
    ("enterprise_declined", "expert", "decline"),
    ("enterprise_declined", "coordinator", "closed"),
    ("connected", "expert", "decline"),
    ("connected", "enterprise", "decline"),
    ("connected", "coordinator", "contract"),
    ("connected", "coordinator", "completed"),
    ("intent", "expert", "completed"),
    ("intent", "enterprise", "decline"),
    ("contract", "coordinator", "intent"),
    ("completed", "coordinator", "closed"),
    ("completed", "expert", "intent"),
    ("completed", "enterprise", "contract"),
    ("contract_by_expert", "expert", "confirm"),  # the side that recorded it cannot confirm it
    ("contract_by_expert", "expert", "reject"),
    ("completed_by_enterprise", "enterprise", "confirm"),
    ("contract_by_expert", "enterprise", "contract"),  # the other side confirms; it does not record again
    ("contract_by_enterprise", "coordinator", "completed"),  # nothing follows a contract that does not count yet
    ("closed", "expert", "accept"),
    ("closed", "enterprise", "accept"),
    ("closed", "expert", "decline"),
    ("closed", "coordinator", "intent"),
]


@pytest.mark.parametrize(("start", "who", "action"), ILLEGAL)
def test_illegal_transition_is_refused_and_changes_nothing(cast, start, who, action):
    match_id = match_in(cast, start)
    before = (event_rows(match_id), count(Notification), count(EmailMessage))
    with pytest.raises(IllegalTransition):
        step(cast, match_id, who, action)
    assert status(match_id) == start
    assert (event_rows(match_id), count(Notification), count(EmailMessage)) == before


@pytest.mark.parametrize(("start", "who", "path", "body"), [
    ("expert_declined", "enterprise", "respond", {"accept": True}),
    ("proposed", "coordinator", "outcome", {"status": "intent"}),
    ("connected", "expert", "respond", {"accept": False, "reason": "budget"}),
    ("completed", "coordinator", "outcome", {"status": "closed", "reason": "duplicate"}),
    ("closed", "enterprise", "outcome", {"status": "contract"}),
])
def test_illegal_transition_is_a_409_in_the_api(app, client, cast, start, who, path, body):
    match_id = match_in(cast, start)
    before = event_rows(match_id)
    headers = {"Authorization": f"Bearer {issue_token(user(cast.ref(who)))}"}
    response = client.post(f"/api/v1/matches/{match_id}/{path}", headers=headers, json=body)
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "illegal_transition" and start in response.get_json()["error"]["message"]
    assert status(match_id) == start and event_rows(match_id) == before


def test_only_the_parties_answer_and_only_coordinators_propose_and_close(cast, factory):
    match_id = propose(cast)
    stranger = factory.user(role="expert")
    with pytest.raises(PermissionDenied):
        svc.respond(user(cast.coordinator), match_id, True)
    with pytest.raises(NotFound):
        svc.respond(user(stranger), match_id, True)
    for who in ("expert", "enterprise"):
        with pytest.raises(PermissionDenied):
            svc.record_outcome(user(cast.ref(who)), match_id, "closed", reason="duplicate")
        with pytest.raises(PermissionDenied):
            svc.propose(user(cast.ref(who)), cast.need_id, stranger.expert_id)
    with pytest.raises(ValidationError):
        svc.record_outcome(user(cast.coordinator), match_id, "closed")  # a reason is required
    with pytest.raises(ValidationError):
        svc.record_outcome(user(cast.coordinator), match_id, "connected")  # not an outcome
    assert status(match_id) == "proposed" and len(event_rows(match_id)) == 1


# -- idempotency -----------------------------------------------------------------------------
@pytest.mark.parametrize(("state", "who", "action"), [
    ("expert_accepted", "expert", "accept"),
    ("enterprise_accepted", "enterprise", "accept"),
    ("connected", "expert", "accept"),
    ("connected", "enterprise", "accept"),
    ("expert_declined", "expert", "decline"),
    ("enterprise_declined", "enterprise", "decline"),
    ("intent", "expert", "intent"),
    ("contract", "enterprise", "contract"),
    ("completed", "coordinator", "completed"),
    ("closed", "coordinator", "closed"),
])
def test_repeating_a_transition_changes_nothing(cast, state, who, action):
    match_id = match_in(cast, state)
    before = (event_rows(match_id), count(Notification), count(EmailMessage))
    returned = step(cast, match_id, who, action)
    assert returned.id == match_id
    assert status(match_id) == state
    assert (event_rows(match_id), count(Notification), count(EmailMessage)) == before


def test_proposing_the_same_pair_again_returns_the_existing_match(cast):
    match_id = propose(cast)
    notifications = count(Notification)
    again, created = svc.propose(user(cast.coordinator), cast.need_id, cast.expert.expert_id)
    assert (again.id, created) == (match_id, False)
    assert count(Match) == 1 and len(event_rows(match_id)) == 1 and count(Notification) == notifications
    svc.respond(user(cast.expert), match_id, False, reason="timeline")
    later, created = svc.propose(user(cast.coordinator), cast.need_id, cast.expert.expert_id)
    assert (later.id, created, status(match_id)) == (match_id, False, "expert_declined")  # no second proposal


# -- decline reasons -------------------------------------------------------------------------
@pytest.mark.parametrize("reason", [r for r in svc.DECLINE_REASONS if r != "other"])
def test_each_listed_decline_reason_is_accepted(cast, reason):
    match_id = propose(cast)
    svc.respond(user(cast.expert), match_id, False, reason=reason)
    assert event_rows(match_id)[-1][1:5] == ("expert_declined", cast.expert.id, "expert", reason)


@pytest.mark.parametrize(("reason", "note", "field"), [
    ("", "", "reason"),
    ("   ", "写了说明", "reason"),
    ("no_interest", "", "reason"),  # not on the list
    ("NOT_MY_FIELD", "", "reason"),
    ("other", "", "note"),
    ("other", "   \n ", "note"),
])
def test_a_decline_without_a_valid_reason_is_refused(cast, reason, note, field):
    match_id = propose(cast)
    with pytest.raises(ValidationError) as refused:
        svc.respond(user(cast.enterprise), match_id, False, reason=reason, note=note)
    assert field in refused.value.fields
    assert status(match_id) == "proposed" and len(event_rows(match_id)) == 1


def test_other_with_a_note_is_accepted_and_the_note_is_kept(cast):
    match_id = propose(cast)
    svc.respond(user(cast.enterprise), match_id, False, reason=" other ", note="公司已自行解决")
    assert event_rows(match_id)[-1] == ("proposed", "enterprise_declined", cast.enterprise.id, "enterprise", "other", "公司已自行解决")


# -- conflicts of interest -------------------------------------------------------------------
def test_an_expert_employed_by_the_enterprise_cannot_be_proposed(cast, app, client):
    with write_transaction():
        db.session.get(ExpertProfile, cast.expert.expert_id).organization_id = cast.enterprise.organization_id
    with pytest.raises(Conflict, match="works for the enterprise"):
        svc.propose(user(cast.coordinator), cast.need_id, cast.expert.expert_id)
    headers = {"Authorization": f"Bearer {issue_token(user(cast.coordinator))}"}
    response = client.post("/api/v1/matches", headers=headers, json={"need_id": cast.need_id, "expert_id": cast.expert.expert_id})
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "conflict"
    assert count(Match) == 0 and count(Notification) == 0


def test_a_declared_conflict_blocks_only_that_enterprise(cast, factory):
    other = factory.user(role="enterprise")
    other_need = factory.need(other, title="另一家企业的需求").id
    with write_transaction() as session:
        session.add(ExpertConflict(expert_id=cast.expert.expert_id, organization_id=cast.enterprise.organization_id,
                                   reason="曾任该公司顾问"))
    with pytest.raises(Conflict, match="declared a conflict"):
        svc.propose(user(cast.coordinator), cast.need_id, cast.expert.expert_id)
    assert count(Match) == 0
    match_id = propose(cast, need_id=other_need)
    assert status(match_id) == "proposed"


def test_a_closed_need_takes_no_new_proposal(cast):
    with write_transaction():
        db.session.get(Need, cast.need_id).status = NeedStatus.CLOSED
    with pytest.raises(IllegalTransition):
        svc.propose(user(cast.coordinator), cast.need_id, cast.expert.expert_id)
    assert count(Match) == 0


# -- the audit trail and the need ------------------------------------------------------------
def test_every_step_is_audited_with_actor_states_and_reason(cast):
    c, x, e = cast.coordinator.id, cast.expert.id, cast.enterprise.id
    match_id, _ = svc.propose(user(cast.coordinator), cast.need_id, cast.expert.expert_id, note="方向高度吻合")
    match_id = match_id.id
    svc.respond(user(cast.expert), match_id, True, note="乐意交流")
    svc.respond(user(cast.enterprise), match_id, True)
    svc.record_outcome(user(cast.expert), match_id, "intent", note="已签意向书")
    svc.record_outcome(user(cast.enterprise), match_id, "contract", details={"amount": "35"})
    svc.decide_outcome(user(cast.expert), match_id, "contract", True)
    svc.record_outcome(user(cast.coordinator), match_id, "completed", note="验收通过")
    assert event_rows(match_id) == [
        (None, "proposed", c, "coordinator", "", "方向高度吻合"),
        ("proposed", "expert_accepted", x, "expert", "", "乐意交流"),
        ("expert_accepted", "connected", e, "enterprise", "", ""),
        ("connected", "intent", x, "expert", "", "已签意向书"),
        ("intent", "contract_by_enterprise", e, "enterprise", "", ""),
        ("contract_by_enterprise", "contract", x, "expert", "", ""),
        ("contract", "completed", c, "coordinator", "", "验收通过"),
    ]
    current()
    stamps = [ev.created_at for ev in db.session.scalars(sa.select(MatchEvent).where(MatchEvent.match_id == match_id)
                                                          .order_by(MatchEvent.id))]
    assert all(s is not None for s in stamps) and stamps == sorted(stamps)
    match = db.session.get(Match, match_id)
    assert match.connected_at is not None and match.expert_accepted_at <= match.enterprise_accepted_at


def test_closing_records_the_reason_on_the_match_and_in_the_audit(cast):
    match_id = match_in(cast, "enterprise_accepted")
    svc.record_outcome(user(cast.coordinator), match_id, "closed", reason="solved_elsewhere", note="企业找到了别的团队")
    assert event_rows(match_id)[-1] == ("enterprise_accepted", "closed", cast.coordinator.id, "coordinator", "solved_elsewhere",
                                        "企业找到了别的团队")
    current()
    match = db.session.get(Match, match_id)
    assert match.closed_reason == "solved_elsewhere: 企业找到了别的团队" and match.connected_at is None


def test_the_need_becomes_matched_when_a_match_connects(cast, factory):
    declined = propose(cast)
    svc.respond(user(cast.expert), declined, False, reason="no_capacity")
    current()
    assert db.session.get(Need, cast.need_id).status == NeedStatus.OPEN
    second = propose(cast, expert_id=factory.user(role="expert", name="第二位专家").expert_id)
    svc.respond(user(cast.enterprise), second, True)
    current()
    assert db.session.get(Need, cast.need_id).status == NeedStatus.OPEN  # one side only
    current()
    expert_user = db.session.get(Match, second).expert.user_id
    svc.respond(db.session.get(User, expert_user), second, True)
    current()
    assert db.session.get(Need, cast.need_id).status == NeedStatus.MATCHED


# -- concurrency -----------------------------------------------------------------------------
def race(app, calls: list[tuple[int, callable]]) -> list[tuple[str, object]]:
    """Run ``fn(actor)`` for each (user id, fn) in its own thread and app context, released at
    the same moment. Returns ("ok", status) or ("error", exception) per call."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def worker(index: int, user_id: int, fn) -> None:
        with app.app_context():
            try:
                actor = db.session.get(User, user_id)
                db.session.commit()
                barrier.wait(timeout=10)
                results[index] = ("ok", fn(actor).status.value)
            except Exception as exc:  # noqa: BLE001 - reported to the test
                results[index] = ("error", exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(i, uid, fn)) for i, (uid, fn) in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    return results


ROUNDS = 20


def fresh_matches(cast: Cast, factory, rounds: int = ROUNDS) -> list[int]:
    return [propose(cast, need_id=factory.need(cast.enterprise, title=f"并发需求{i}").id) for i in range(rounds)]


def test_the_same_side_confirming_twice_at_once_writes_one_event(app, cast, factory):
    for match_id in fresh_matches(cast, factory):
        results = race(app, [(cast.expert.id, lambda a, m=match_id: svc.respond(a, m, True))] * 2)
        assert results == [("ok", "expert_accepted")] * 2
        assert [e[1] for e in event_rows(match_id)] == ["proposed", "expert_accepted"]
        current()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification).where(
            Notification.match_id == match_id, Notification.kind == "expert_accepted")) == 1


def test_both_sides_confirming_at_once_connect_exactly_once(app, cast, factory):
    for match_id in fresh_matches(cast, factory):
        results = race(app, [(cast.expert.id, lambda a, m=match_id: svc.respond(a, m, True)),
                             (cast.enterprise.id, lambda a, m=match_id: svc.respond(a, m, True))])
        # Both calls succeed. The status each returns is read after its commit, so it may
        # already show the other side's transition; the event log says who did what.
        assert all(kind == "ok" for kind, _ in results), results
        events = event_rows(match_id)
        steps = [e[1] for e in events]
        assert steps[0] == "proposed" and steps[2] == "connected" and len(steps) == 3
        assert steps[1] in ("expert_accepted", "enterprise_accepted")
        first, second = events[1][2], events[2][2]
        assert {first, second} == {cast.expert.id, cast.enterprise.id}
        assert first == (cast.expert.id if steps[1] == "expert_accepted" else cast.enterprise.id)
        current()
        match = db.session.get(Match, match_id)
        assert match.status == MatchStatus.CONNECTED and match.connected_at is not None
        assert match.expert_accepted_at is not None and match.enterprise_accepted_at is not None
        assert match.need.status == NeedStatus.MATCHED


def test_two_clients_confirming_the_same_match_through_the_api_write_one_event(app, cast, factory):
    headers = {"Authorization": f"Bearer {issue_token(user(cast.enterprise))}"}
    for match_id in fresh_matches(cast, factory):
        barrier = threading.Barrier(2)
        answers: list = []

        def confirm(m=match_id, barrier=barrier, answers=answers) -> None:
            client = app.test_client()
            barrier.wait(timeout=10)
            response = client.post(f"/api/v1/matches/{m}/respond", headers=headers, json={"accept": True})
            answers.append((response.status_code, response.get_json()["status"]))

        threads = [threading.Thread(target=confirm) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert answers == [(200, "enterprise_accepted")] * 2
        assert [e[1] for e in event_rows(match_id)] == ["proposed", "enterprise_accepted"]


def test_conflicting_outcomes_at_once_one_wins_the_other_is_illegal(app, cast, factory):
    second = factory.user(role="coordinator")  # a coordinator's completion counts at once: nothing may follow it
    for match_id in fresh_matches(cast, factory):
        for who, action in PATHS["contract"]:
            step(cast, match_id, who, action)
        results = race(app, [(second.id, lambda a, m=match_id: svc.record_outcome(a, m, "completed")),
                             (cast.coordinator.id, lambda a, m=match_id: svc.record_outcome(a, m, "closed", reason="not_feasible"))])
        winners = [r for r in results if r[0] == "ok"]
        losers = [r for r in results if r[0] == "error"]
        assert len(winners) == 1 and len(losers) == 1, results
        assert isinstance(losers[0][1], IllegalTransition), losers
        final = status(match_id)
        assert final == winners[0][1] and final in ("completed", "closed")
        assert [e[1] for e in event_rows(match_id)][-2:] == ["contract", final]


def test_conflicting_outcomes_through_the_api_give_one_200_and_one_409(app, cast, factory):
    expert_headers = {"Authorization": f"Bearer {issue_token(user(factory.user(role='coordinator')))}"}  # a second coordinator
    staff_headers = {"Authorization": f"Bearer {issue_token(user(cast.coordinator))}"}
    for match_id in fresh_matches(cast, factory):
        for who, action in PATHS["contract"]:
            step(cast, match_id, who, action)
        barrier = threading.Barrier(2)
        answers: dict = {}

        def send(name, headers, body, m=match_id, barrier=barrier, answers=answers) -> None:
            client = app.test_client()
            barrier.wait(timeout=10)
            answers[name] = client.post(f"/api/v1/matches/{m}/outcome", headers=headers, json=body).status_code

        threads = [threading.Thread(target=send, args=("completed", expert_headers, {"status": "completed"})),
                   threading.Thread(target=send, args=("closed", staff_headers, {"status": "closed", "reason": "duplicate"}))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert sorted(answers.values()) == [200, 409], answers
        winner = next(name for name, code in answers.items() if code == 200)
        assert status(match_id) == winner
        assert [e[1] for e in event_rows(match_id)][-2:] == ["contract", winner]


def test_two_coordinators_proposing_the_same_pair_at_once_make_one_match(app, cast, factory):
    second = factory.user(role="coordinator")
    for i in range(ROUNDS):
        need_id = factory.need(cast.enterprise, title=f"同时推荐{i}").id
        results = race(app, [(cast.coordinator.id, lambda a, n=need_id: svc.propose(a, n, cast.expert.expert_id)[0]),
                             (second.id, lambda a, n=need_id: svc.propose(a, n, cast.expert.expert_id)[0])])
        assert results == [("ok", "proposed")] * 2
        current()
        ids = list(db.session.scalars(sa.select(Match.id).where(Match.need_id == need_id)))
        assert len(ids) == 1 and [e[1] for e in event_rows(ids[0])] == ["proposed"]
