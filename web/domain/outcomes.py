"""Outcome records of a match — the date, amount and note of an intent, a contract or a
completion — and how a match's progress reads: the stepper and the timeline.

Which step needs whose confirmation is the lifecycle table's (:mod:`.lifecycle`); the service
(:mod:`.matches`) calls :func:`write_record` and :func:`decide_record` inside the transition's
transaction, so a record and the state change that gives it meaning commit together.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models import Match, MatchEvent, MatchOutcome, MatchStatus, User
from models.outcomes import COUNTED, PENDING, REJECTED

from ..localtime import local_today, to_local
from . import fields as spec
from .errors import N_
from .lifecycle import (
    AWAITING_CONFIRMATION,
    CONFIRMING,
    FUNNEL_RANK,
    PARTIES,
    RULE,
    STEPS,
    Action,
    Side,
    Transition,
    reached_step,
)
from .validation import clean_fields

YUAN_PER_WAN = 10_000


def clean_outcome(action: Action, data: dict, match: Match, *, today: date | None = None) -> dict:
    """``{"occurred_on", "amount_yuan", "note"}`` for recording ``action`` on ``match``, or a
    ValidationError naming each bad field: the date (YYYY-MM-DD; default today; not in the
    future, not before the match was proposed), the amount in 万元 (required, optional or
    refused as the table's rule for the action says; not negative) and the note."""
    rule = RULE[action]
    cleaner = clean_fields(spec.OUTCOME, data or {})
    today = today or local_today()
    day = cleaner.clean.get("date")
    proposed_on = to_local(match.created_at).date() if match.created_at else None
    if "date" in cleaner.clean and day is None:
        cleaner.clean["date"] = day = today
    if day is not None and day > today:
        cleaner.fail("date", N_("must not be in the future (today is %(today)s)", today=today.isoformat()))
    elif day is not None and proposed_on and day < proposed_on:
        cleaner.fail("date", N_("must not be before the match was proposed (%(date)s)", date=proposed_on.isoformat()))
    amount = cleaner.clean.get("amount")
    if rule.amount == "required" and amount is None and "amount" not in cleaner.errors:
        cleaner.fail("amount", N_("required for a contract"))
    elif not rule.amount and amount is not None:
        cleaner.fail("amount", N_("is recorded only with an intent or a contract"))
    elif rule.amount == "required" and amount is not None and amount <= 0:
        cleaner.fail("amount", N_("must be more than 0"))
    clean = cleaner.finish("outcome")
    return {"occurred_on": clean["date"], "note": clean.get("note") or "",
            "amount_yuan": int((amount * YUAN_PER_WAN).to_integral_value()) if amount is not None else None}


def write_record(session: Session, match: Match, event: MatchEvent, actor: User | None, side: Side, row: Transition,
                 details: dict) -> MatchOutcome:
    """The record of a recording step; pending when the row leads to a state awaiting confirmation."""
    record = MatchOutcome(match_id=match.id, event_id=event.id, step=RULE[row.action].records.value,
                          occurred_on=details["occurred_on"], amount_yuan=details.get("amount_yuan"), note=details.get("note", ""),
                          recorded_by_id=actor.id if actor else None, recorded_side=side.value,
                          state=PENDING if row.target in AWAITING_CONFIRMATION else COUNTED,
                          **({"created_at": event.created_at} if event.created_at else {}))
    session.add(record)
    return record


def decide_record(session: Session, match: Match, actor: User | None, side: Side, row: Transition, *, reason: str,
                  note: str, at: datetime) -> MatchOutcome | None:
    """Confirm or reject the pending record the row's source state waits on."""
    step = AWAITING_CONFIRMATION[row.source][0].value
    record = session.scalar(sa.select(MatchOutcome).where(MatchOutcome.match_id == match.id, MatchOutcome.step == step,
                                                          MatchOutcome.state == PENDING).order_by(MatchOutcome.id.desc()))
    if record is None:  # a pending state always has its record; history loaded without one stays consistent
        return None
    record.state = COUNTED if row.action in CONFIRMING else REJECTED
    record.decided_by_id, record.decided_side, record.decided_at = (actor.id if actor else None), side.value, at
    if record.state == REJECTED:
        record.reject_reason, record.reject_note = reason, note
    return record


def records_of(session: Session, match_id: int) -> dict[int, MatchOutcome]:
    """The match's outcome records by the id of the event that recorded them."""
    return {r.event_id: r for r in session.scalars(sa.select(MatchOutcome).where(MatchOutcome.match_id == match_id))}


def wan(amount_yuan: int | None) -> str | None:
    """An amount in yuan as 万元 text: ``125000`` → ``"12.5"``."""
    if amount_yuan is None:
        return None
    return format((Decimal(amount_yuan) / YUAN_PER_WAN).normalize(), "f")


def awaiting(status: MatchStatus) -> tuple[MatchStatus, tuple[Side, ...]] | None:
    """For a pending state: the step it waits to count as and the party (not the coordinator)
    whose confirmation it awaits."""
    if status not in AWAITING_CONFIRMATION:
        return None
    step, by = AWAITING_CONFIRMATION[status]
    return step, tuple(side for side in (Side.EXPERT, Side.ENTERPRISE) if side in by and side in PARTIES)


def stepper(match: Match, events: list[MatchEvent]) -> list[dict]:
    """The match page's progress steps (proposed → accepted → connected → intent → contract →
    completed), each ``done``, ``waiting`` (a side's answer or confirmation is due) or
    ``todo``; a closed match keeps the steps its history reached. ``waiting_for`` names the
    sides whose answer or confirmation is due."""
    history = max((FUNNEL_RANK.get(_status(e.to_status), 0) for e in events), default=0)
    rank = max(history, FUNNEL_RANK.get(match.status, 0))
    reached = reached_step(rank)
    pending = awaiting(match.status)
    steps = []
    for index, step in enumerate(STEPS):
        key = step.value if step is not None else "accepted"
        state, waiting_for = ("done" if index <= reached else "todo"), ()
        if step is None and state == "todo" and not match.status.value.endswith("declined") and match.status != MatchStatus.CLOSED:
            waiting_for = tuple(side for side, at in ((Side.EXPERT, match.expert_accepted_at),
                                                      (Side.ENTERPRISE, match.enterprise_accepted_at)) if at is None)
            state = "waiting"
        if pending and step == pending[0]:
            state, waiting_for = "waiting", pending[1]
        steps.append({"key": key, "state": state, "waiting_for": [side.value for side in waiting_for]})
    return steps


def _status(value: str | None) -> MatchStatus | None:
    try:
        return MatchStatus(value)
    except ValueError:
        return None

