"""The match lifecycle service — the one place its rules are enforced (HTML views, API, CLI
and the demo loader call it). The rules themselves are the table in :mod:`.lifecycle`.

Every transition checks the actor's side against the table (may this side ever take this
action? is there a row from the current state?), writes a MatchEvent (who, when, from, to,
why) and the notifications the row names in the same transaction, and is idempotent: asking
for a transition that has already happened (the table's ``done_in``) changes nothing and is
not an error. The match row is locked for the transaction (SELECT ... FOR UPDATE on
PostgreSQL, BEGIN IMMEDIATE on SQLite), so of two concurrent requests one wins and the other
sees the new state.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models import (
    ExpertProfile,
    Match,
    MatchEvent,
    MatchStatus,
    Need,
    NeedStatus,
    Role,
    User,
    db,
    utcnow,
    write_transaction,
)

from ..access import is_staff
from . import outcomes
from .errors import N_, Conflict, IllegalTransition, NotFound, PermissionDenied, ValidationError
from .lifecycle import (
    AWAITING_ANSWER,
    AWAITING_CONFIRMATION,
    CONFIRMING,
    ENGAGED,
    OPEN,
    RECORDED_ACTIONS,
    RECORDS,
    REJECTING,
    RULE,
    STATE,
    Action,
    Side,
    Transition,
    confirmation_action,
    may_ever,
    transition,
)
from .notify import notify_match

log = logging.getLogger("matcher.matches")

DECLINE_REASONS = RULE[Action.DECLINE].reasons
CLOSE_REASONS = RULE[Action.CLOSE].reasons


@dataclass(frozen=True)
class Party:
    """How an actor relates to one match."""

    coordinator: bool
    expert: bool
    enterprise: bool

    @property
    def side(self) -> Side | None:
        if self.coordinator:
            return Side.COORDINATOR
        if self.expert:
            return Side.EXPERT
        return Side.ENTERPRISE if self.enterprise else None


def party(actor: User, match: Match) -> Party:
    coordinator = is_staff(actor)
    expert = actor.role == Role.EXPERT and match.expert.user_id == actor.id
    enterprise = actor.role == Role.ENTERPRISE and match.need.organization_id == actor.organization_id
    return Party(coordinator, expert, enterprise)


def side_of(actor: User, match: Match) -> Side | None:
    return party(actor, match).side


def contacts_visible(match: Match) -> bool:
    """Contacts of either side are shown to the other only once both accepted."""
    return match.connected_at is not None


def match_for(actor: User, match_id: int) -> Match:
    """The match if the actor is its coordinator, expert or enterprise; 404 otherwise."""
    match = db.session.get(Match, match_id)
    if match is None or side_of(actor, match) is None:
        raise NotFound(f"match {match_id} does not exist")
    return match


def _locked(session: Session, match_id: int) -> Match:
    query = sa.select(Match).where(Match.id == match_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    match = session.scalar(query.execution_options(populate_existing=True))
    if match is None:
        raise NotFound(f"match {match_id} does not exist")
    return match


def _record(session: Session, match: Match, actor: User | None, row: Transition, reason: str, note: str,
            *, at: datetime | None, quiet: bool) -> MatchEvent:
    match.status = row.target
    if at is not None:
        match.updated_at = at
    event = MatchEvent(match_id=match.id, actor_id=actor.id if actor else None, actor_role=actor.role.value if actor else "system",
                       from_status=row.source.value if row.source else None, to_status=row.target.value, reason_code=reason,
                       note=note, **({"created_at": at} if at is not None else {}))
    session.add(event)
    if not quiet:
        notify_match(session, match, row.target, actor, tell=row.tell, kind=row.kind)
    log.info("match_transition match=%s from=%s to=%s actor=%s", match.id, row.source.value if row.source else None,
             row.target.value, actor.id if actor else None)
    return event


def _refusal(match: Match, action: Action, side: Side) -> str:
    params = {"match": match.id, "status": match.status.value}
    if action in (Action.ACCEPT, Action.DECLINE):
        if getattr(match, f"{side.value}_accepted_at", None) is not None and match.status in AWAITING_ANSWER:
            return N_("match %(match)s is %(status)s: this side already accepted; ask the coordinator to close the match", **params)
        return N_("match %(match)s is %(status)s; it no longer takes answers", **params)
    if action in (Action.CLOSE, Action.WITHDRAW):
        return N_("match %(match)s is already %(status)s", **params)
    waiting = outcomes.awaiting(match.status)
    if waiting and side.value not in {s.value for s in waiting[1]} and side != Side.COORDINATOR:
        return N_("match %(match)s: the %(step)s this side recorded awaits confirmation by the other side; "
                  "the side that recorded it cannot confirm or reject it", step=waiting[0].value, **params)
    if waiting:
        return N_("match %(match)s: a %(step)s awaits your confirmation; confirm or reject it first", step=waiting[0].value,
                  **params)
    if action in CONFIRMING or action in REJECTING:
        return N_("match %(match)s is %(status)s; nothing of this kind awaits confirmation", **params)
    return N_("match %(match)s is %(status)s; %(target)s cannot follow it", target=action.value, **params)


def apply(session: Session, match: Match, actor: User | None, side: Side, action: Action, *, reason: str = "",
          note: str = "", details: dict | None = None, at: datetime | None = None, quiet: bool = False) -> Match:
    """Take ``action`` on ``match`` (locked, in the caller's write transaction) as ``side``.

    A no-op when the table says this side's action already happened; IllegalTransition when
    the table has no row from the current state. ``details`` (from :func:`outcomes.clean_outcome`)
    are required by the actions that record an outcome step. ``at`` backdates the step (demo
    history); ``quiet`` records it without notifying anyone (history is not news)."""
    if RULE[action].done(side, match.status):
        return match
    row = transition(match.status, action, side)
    if row is None:
        raise IllegalTransition(_refusal(match, action, side))
    if match.need.status == NeedStatus.CLOSED and not STATE[row.target].final:
        raise IllegalTransition(N_("need %(need)s is closed", need=match.need_id))
    if action in RECORDS and details is None:
        raise ValidationError(N_("the date and details of the %(step)s are missing", step=RECORDS[action].value),
                              fields={"date": N_("required")})
    now = at or utcnow()
    if action == Action.ACCEPT:
        setattr(match, f"{side.value}_accepted_at", now)
    if STATE[row.target].revealed and match.connected_at is None:
        match.connected_at = now
        if match.need.status == NeedStatus.OPEN:
            match.need.status = NeedStatus.MATCHED
    if row.target == MatchStatus.CLOSED:
        match.closed_reason = f"{reason}: {note}".strip(": ")[:500]
    source = match.status
    event = _record(session, match, actor, row, reason, note[:2000], at=at, quiet=quiet)
    if action in RECORDS:
        session.flush()
        outcomes.write_record(session, match, event, actor, side, row, details)
    elif source in AWAITING_CONFIRMATION and (action in CONFIRMING or action in REJECTING):
        outcomes.decide_record(session, match, actor, side, row, reason=reason, note=note[:2000], at=now)
    return match


def checked_reason(action: Action, reason: str, note: str) -> str:
    """The reason to record for ``action``: required from the table's list when it has one
    (``other`` needs a note), fixed when the list has one entry, none otherwise."""
    reasons = RULE[action].reasons
    reason = (reason or "").strip()
    if len(reasons) <= 1:
        return reasons[0] if reasons else ""
    if action == Action.CLOSE and not reason and note.strip():
        reason = "other"
    if reason not in reasons:
        message, field = RULE[action].reason_missing
        raise ValidationError(message, fields={"reason": field})
    if reason == "other" and not note.strip():
        raise ValidationError(N_("please explain the reason 'other' in the note"), fields={"note": N_("required when the reason is 'other'")})
    return reason


def act(actor: User, match_id: int, action: Action, *, reason: str = "", note: str = "", details: dict | None = None) -> Match:
    """``actor`` takes ``action`` on a match: checked against the table, recorded, told.
    ``details``: the raw date/amount/note of an action that records an outcome step."""
    match = match_for(actor, match_id)
    side = side_of(actor, match)
    if not may_ever(side, action):
        raise PermissionDenied(f"the {side.value} of a match may not take the action {action.value}")
    note = (note or "").strip()
    reason = checked_reason(action, reason, note)
    cleaned = None
    if action in RECORDS and not RULE[action].done(side, match.status):
        if transition(match.status, action, side) is None:  # say so before judging the details of a step that cannot come
            raise IllegalTransition(_refusal(match, action, side))
        cleaned = outcomes.clean_outcome(action, {"note": note, **(details or {})}, match)
        note = cleaned["note"]
    with write_transaction() as session:
        return apply(session, _locked(session, match_id), actor, side, action, reason=reason, note=note, details=cleaned)


def _role_side(actor: User) -> Side | None:
    if is_staff(actor):
        return Side.COORDINATOR
    return {Role.EXPERT: Side.EXPERT, Role.ENTERPRISE: Side.ENTERPRISE}.get(actor.role)


def propose(actor: User, need_id: int, expert_id: int, *, score: float | None = None, note: str = "",
            reason: str = "") -> tuple[Match, bool]:
    """A coordinator proposes an expert for a need. Returns (match, created); proposing the
    same pair again returns the existing match. ``reason`` is a code the pages word (e.g.
    ``event:12``, proposed by a matchmaking event)."""
    side = _role_side(actor)
    if side is None or not may_ever(side, Action.PROPOSE):
        raise PermissionDenied("only coordinators propose experts")
    try:
        with write_transaction() as session:
            return propose_in(session, actor, side, need_id, expert_id, score=score, note=note, reason=reason)
    except sa.exc.IntegrityError:
        # Another coordinator proposed the same pair between our look and our insert (possible on
        # PostgreSQL, where writers do not queue as on SQLite): theirs is the match.
        existing = db.session.scalar(sa.select(Match).where(Match.need_id == need_id, Match.expert_id == expert_id))
        if existing is None:
            raise
        return existing, False


def propose_in(session: Session, actor: User, side: Side, need_id: int, expert_id: int, *, score: float | None = None,
               note: str = "", reason: str = "", at: datetime | None = None,
               quiet: bool = False) -> tuple[Match, bool]:
    """:func:`propose` inside the caller's write transaction (the demo loader's, for one)."""
    need = session.get(Need, need_id)
    expert = session.get(ExpertProfile, expert_id)
    if need is None:
        raise NotFound(f"need {need_id} does not exist")
    if expert is None:
        raise NotFound(f"expert {expert_id} does not exist")
    existing = session.scalar(sa.select(Match).where(Match.need_id == need_id, Match.expert_id == expert_id))
    if existing is not None:
        return existing, False
    if need.status == NeedStatus.CLOSED:
        raise IllegalTransition(N_("need %(need)s is closed", need=need_id))
    conflict = _conflict_reason(session, need, expert)
    if conflict:
        raise Conflict(N_("expert %(expert)s cannot be proposed for need %(need)s: %(why)s", expert=expert_id, need=need_id, why=conflict))
    row = transition(None, Action.PROPOSE, side)
    if row is None:
        raise PermissionDenied("only coordinators propose experts")
    stamps = {"created_at": at, "updated_at": at} if at is not None else {}
    match = Match(need=need, expert=expert, status=row.target, proposed_by_id=actor.id, score=score, **stamps)
    session.add(match)
    session.flush()
    _record(session, match, actor, row, reason[:40], note[:2000], at=at, quiet=quiet)
    return match, True


def _conflict_reason(session: Session, need: Need, expert: ExpertProfile) -> str | None:
    if expert.organization_id is not None and expert.organization_id == need.organization_id:
        return N_("the expert works for the enterprise that posted the need")
    if any(c.organization_id == need.organization_id for c in expert.conflicts):
        return N_("the expert declared a conflict of interest with this enterprise")
    return None


def respond(actor: User, match_id: int, accept: bool, *, reason: str = "", note: str = "") -> Match:
    """The match's expert or the need's enterprise accepts or declines."""
    return act(actor, match_id, Action.ACCEPT if accept else Action.DECLINE, reason=reason, note=note)


def record_outcome(actor: User, match_id: int, status: str, *, note: str = "", reason: str = "",
                   details: dict | None = None) -> Match:
    """intent → contract → completed (with ``details``: date, amount in 万元), or closed with a
    reason — who may record which, and whose confirmation it then awaits, is in the table (the
    reason "other" needs a note)."""
    action = next((a for a in RECORDED_ACTIONS if a.value == status), None)
    if action is None:
        raise ValidationError(N_("status must be one of intent, contract, completed, closed"),
                              fields={"status": N_("must be intent, contract, completed or closed")})
    return act(actor, match_id, action, note=note, reason=reason, details=details)


def decide_outcome(actor: User, match_id: int, status: str, accept: bool, *, reason: str = "", note: str = "") -> Match:
    """The other side (or a coordinator) confirms or rejects (with a reason) the contract or
    completion one side recorded. ``status`` names the step, so a confirmation meant for the
    contract never confirms a completion recorded since."""
    action = next((confirmation_action(step, accept) for step in MatchStatus if step.value == status), None)
    if action is None:
        raise ValidationError(N_("status must be contract or completed"), fields={"status": N_("must be contract or completed")})
    return act(actor, match_id, action, reason=reason, note=note)


def close_matches_of_withdrawn_need(session: Session, actor: User, need: Need) -> list[Match]:
    """Inside the withdrawal's transaction: every open match of ``need`` closes (reason
    ``need_withdrawn``) and its parties are told."""
    query = sa.select(Match).where(Match.need_id == need.id, Match.status.in_(OPEN)).order_by(Match.id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    closed = []
    for match in session.scalars(query.execution_options(populate_existing=True)):
        side = side_of(actor, match)
        if side is None or not may_ever(side, Action.WITHDRAW):
            raise PermissionDenied("only the enterprise that posted a need withdraws it")
        closed.append(apply(session, match, actor, side, Action.WITHDRAW, reason=checked_reason(Action.WITHDRAW, "", "")))
    return closed


def matches_for(actor: User, *, status: list[MatchStatus] | None = None, need_id: int | None = None, limit: int = 500) -> list[Match]:
    query = sa.select(Match).join(Need, Need.id == Match.need_id)
    if actor.role == Role.ENTERPRISE:
        query = query.where(Need.organization_id == actor.organization_id)
    elif actor.role == Role.EXPERT:
        if actor.expert_profile is None:
            return []
        query = query.where(Match.expert_id == actor.expert_profile.id)
    elif not is_staff(actor):
        raise PermissionDenied("no access to matches")
    if status:
        query = query.where(Match.status.in_(status))
    if need_id is not None:
        query = query.where(Match.need_id == need_id)
    return list(db.session.scalars(query.order_by(Match.updated_at.desc()).limit(limit)))


def counts_by_need(need_ids: list[int]) -> dict[int, int]:
    """How many experts have been proposed for each of these needs (any status)."""
    if not need_ids:
        return {}
    rows = db.session.execute(
        sa.select(Match.need_id, sa.func.count()).where(Match.need_id.in_(need_ids)).group_by(Match.need_id)
    )
    return {need_id: count for need_id, count in rows}


def waiting_for_answer(days: int = 7) -> list[Match]:
    """Proposals nobody answered for ``days`` days: who still owes an answer."""
    from datetime import timedelta

    cutoff = utcnow() - timedelta(days=days)
    return list(db.session.scalars(
        sa.select(Match).where(Match.status.in_(AWAITING_ANSWER), Match.updated_at < cutoff).order_by(Match.updated_at)))


def engaged_count(expert_id: int) -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(Match).where(
        Match.expert_id == expert_id, Match.status.in_(list(ENGAGED)))) or 0)
