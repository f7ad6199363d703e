"""The match lifecycle — the one place its rules live (HTML views, API and CLI call it).

::

    proposed ─┬─ expert accepts ──► expert_accepted ──┐
              ├─ enterprise accepts ► enterprise_accepted ─┤ the other side accepts
              │                                        ▼
              │                                    connected  (contacts revealed)
              │                                        ▼
              ├─ a side declines ─► expert_declined | enterprise_declined
              │                               intent ► contract ► completed
              └─ coordinator closes (any open state) ─► closed

Every transition checks the actor's role and the current state, writes a MatchEvent (who,
when, from, to, why) and notifications in the same transaction, and is idempotent: asking
for a transition that has already happened changes nothing and is not an error. The match row
is locked for the transaction (SELECT ... FOR UPDATE on PostgreSQL, BEGIN IMMEDIATE on
SQLite), so of two concurrent requests one wins and the other sees the new state.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models import (
    ENGAGED_STATUSES,
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
from .errors import N_, Conflict, IllegalTransition, NotFound, PermissionDenied, ValidationError
from .notify import notify_match

log = logging.getLogger("matcher.matches")

DECLINE_REASONS = ("not_my_field", "no_capacity", "budget", "timeline", "location", "already_solved", "other")
CLOSE_REASONS = ("no_response", "need_withdrawn", "solved_elsewhere", "not_feasible", "duplicate", "other")
OUTCOMES = (MatchStatus.INTENT, MatchStatus.CONTRACT, MatchStatus.COMPLETED)
AWAITING_ANSWER = (MatchStatus.PROPOSED, MatchStatus.EXPERT_ACCEPTED, MatchStatus.ENTERPRISE_ACCEPTED)
FINAL = (MatchStatus.EXPERT_DECLINED, MatchStatus.ENTERPRISE_DECLINED, MatchStatus.COMPLETED, MatchStatus.CLOSED)
REVEALED = (MatchStatus.CONNECTED, MatchStatus.INTENT, MatchStatus.CONTRACT, MatchStatus.COMPLETED)
NEXT_OUTCOME = {
    MatchStatus.CONNECTED: MatchStatus.INTENT,
    MatchStatus.INTENT: MatchStatus.CONTRACT,
    MatchStatus.CONTRACT: MatchStatus.COMPLETED,
}


@dataclass(frozen=True)
class Party:
    """How an actor relates to one match."""

    coordinator: bool
    expert: bool
    enterprise: bool


def party(actor: User, match: Match) -> Party:
    coordinator = is_staff(actor)
    expert = actor.role == Role.EXPERT and match.expert.user_id == actor.id
    enterprise = actor.role == Role.ENTERPRISE and match.need.organization_id == actor.organization_id
    return Party(coordinator, expert, enterprise)


def contacts_visible(match: Match) -> bool:
    """Contacts of either side are shown to the other only once both accepted."""
    return match.connected_at is not None


def match_for(actor: User, match_id: int) -> Match:
    """The match if the actor is its coordinator, expert or enterprise; 404 otherwise."""
    match = db.session.get(Match, match_id)
    if match is None:
        raise NotFound(f"match {match_id} does not exist")
    p = party(actor, match)
    if not (p.coordinator or p.expert or p.enterprise):
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


def _record(session: Session, match: Match, actor: User | None, to: MatchStatus, reason: str = "", note: str = "",
            *, previous: MatchStatus | None = None) -> None:
    previous = previous or match.status
    if previous == to and not match.events:
        previous = None  # creation: the event records "from nothing"
    match.status = to
    session.add(MatchEvent(match_id=match.id, actor_id=actor.id if actor else None, actor_role=actor.role.value if actor else "system",
                           from_status=previous.value if previous else None, to_status=to.value, reason_code=reason, note=note))
    notify_match(session, match, to, actor)
    log.info("match_transition match=%s from=%s to=%s actor=%s", match.id, previous.value if previous else None, to.value,
             actor.id if actor else None)


def propose(actor: User, need_id: int, expert_id: int, *, score: float | None = None, note: str = "",
            reason: str = "") -> tuple[Match, bool]:
    """A coordinator proposes an expert for a need. Returns (match, created); proposing the
    same pair again returns the existing match. ``reason`` is a code the pages word (e.g.
    ``event:12``, proposed by a matchmaking event)."""
    if not is_staff(actor):
        raise PermissionDenied("only coordinators propose experts")
    try:
        return _propose(actor, need_id, expert_id, score=score, note=note, reason=reason)
    except sa.exc.IntegrityError:
        # Another coordinator proposed the same pair between our look and our insert (possible on
        # PostgreSQL, where writers do not queue as on SQLite): theirs is the match.
        existing = db.session.scalar(sa.select(Match).where(Match.need_id == need_id, Match.expert_id == expert_id))
        if existing is None:
            raise
        return existing, False


def _propose(actor: User, need_id: int, expert_id: int, *, score: float | None, note: str,
             reason: str = "") -> tuple[Match, bool]:
    with write_transaction() as session:
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
        match = Match(need=need, expert=expert, status=MatchStatus.PROPOSED, proposed_by_id=actor.id, score=score)
        session.add(match)
        session.flush()
        _record(session, match, actor, MatchStatus.PROPOSED, reason=reason[:40], note=note[:2000])
    return match, True


def _conflict_reason(session: Session, need: Need, expert: ExpertProfile) -> str | None:
    if expert.organization_id is not None and expert.organization_id == need.organization_id:
        return N_("the expert works for the enterprise that posted the need")
    if any(c.organization_id == need.organization_id for c in expert.conflicts):
        return N_("the expert declared a conflict of interest with this enterprise")
    return None


def respond(actor: User, match_id: int, accept: bool, *, reason: str = "", note: str = "") -> Match:
    """The match's expert or the need's enterprise accepts or declines."""
    match = match_for(actor, match_id)
    p = party(actor, match)
    if not (p.expert or p.enterprise):
        raise PermissionDenied("only the proposed expert or the enterprise that posted the need answer a proposal")
    if not accept:
        reason = (reason or "").strip()
        if reason not in DECLINE_REASONS:
            raise ValidationError(N_("choose a reason for declining"), fields={"reason": N_("required when declining")})
        if reason == "other" and not (note or "").strip():
            raise ValidationError(N_("please explain the reason 'other' in the note"), fields={"note": N_("required when the reason is 'other'")})
    with write_transaction() as session:
        match = _locked(session, match_id)
        side_accepted = match.expert_accepted_at if p.expert else match.enterprise_accepted_at
        declined = MatchStatus.EXPERT_DECLINED if p.expert else MatchStatus.ENTERPRISE_DECLINED
        if accept and side_accepted is not None and match.status in (*AWAITING_ANSWER, *REVEALED):
            return match  # already accepted: idempotent
        if not accept and match.status == declined:
            return match
        if match.status not in AWAITING_ANSWER:
            raise IllegalTransition(N_("match %(match)s is %(status)s; it no longer takes answers", match=match_id, status=match.status.value))
        if not accept and side_accepted is not None:
            raise IllegalTransition(N_("match %(match)s is %(status)s: this side already accepted; ask the coordinator to close the match",
                                       match=match_id, status=match.status.value))
        if not accept:
            _record(session, match, actor, declined, reason, (note or "")[:2000])
            return match
        now = utcnow()
        if p.expert:
            match.expert_accepted_at = now
        else:
            match.enterprise_accepted_at = now
        if match.expert_accepted_at and match.enterprise_accepted_at:
            match.connected_at = now
            _record(session, match, actor, MatchStatus.CONNECTED, note=(note or "")[:2000])
            if match.need.status == NeedStatus.OPEN:
                match.need.status = NeedStatus.MATCHED
        else:
            _record(session, match, actor, MatchStatus.EXPERT_ACCEPTED if p.expert else MatchStatus.ENTERPRISE_ACCEPTED,
                    note=(note or "")[:2000])
    return match


def record_outcome(actor: User, match_id: int, status: str, *, note: str = "", reason: str = "") -> Match:
    """intent → contract → completed (either side or a coordinator), or closed with a reason
    (coordinators only; the reason "other" needs a note)."""
    try:
        target = MatchStatus(status)
    except ValueError:
        raise ValidationError(N_("status must be one of intent, contract, completed, closed"),
                              fields={"status": N_("must be intent, contract, completed or closed")}) from None
    if target not in (*OUTCOMES, MatchStatus.CLOSED):
        raise ValidationError(N_("status must be one of intent, contract, completed, closed"),
                              fields={"status": N_("must be intent, contract, completed or closed")})
    match = match_for(actor, match_id)
    p = party(actor, match)
    if target == MatchStatus.CLOSED:
        reason = (reason or "").strip() or ("other" if note.strip() else "")
        if reason not in CLOSE_REASONS:
            raise ValidationError(N_("choose a reason for closing"), fields={"reason": N_("required when closing")})
        if reason == "other" and not note.strip():
            raise ValidationError(N_("please explain the reason 'other' in the note"), fields={"note": N_("required when the reason is 'other'")})
        if not p.coordinator:
            raise PermissionDenied("only coordinators close matches")
    with write_transaction() as session:
        match = _locked(session, match_id)
        if match.status == target:
            return match  # idempotent
        if target == MatchStatus.CLOSED:
            if match.status in FINAL:
                raise IllegalTransition(N_("match %(match)s is already %(status)s", match=match_id, status=match.status.value))
            match.closed_reason = f"{reason}: {note}".strip(": ")[:500]
            _record(session, match, actor, MatchStatus.CLOSED, reason, note[:2000])
            return match
        if NEXT_OUTCOME.get(match.status) != target:
            raise IllegalTransition(N_("match %(match)s is %(status)s; %(target)s cannot follow it", match=match_id, status=match.status.value, target=target.value))
        _record(session, match, actor, target, note=note[:2000])
    return match


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
        Match.expert_id == expert_id, Match.status.in_(list(ENGAGED_STATUSES)))) or 0)
