"""Matchmaking events: choose needs, invite experts, plan a global assignment, publish it as
proposed matches through the ordinary lifecycle."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from matcher import NeedRecord
from matcher.assignment import AssignmentProblem, solve
from models import (
    AccountStatus,
    EventExpert,
    EventNeed,
    EventSlot,
    ExpertProfile,
    Match,
    MatchmakingEvent,
    MatchStatus,
    Need,
    NeedStatus,
    Organization,
    User,
    db,
    utcnow,
    write_transaction,
)

from ..access import is_staff
from ..localtime import from_local
from ..matching.records import attributes_for, need_record
from . import matches as match_service
from .errors import N_, IllegalTransition, NotFound, PermissionDenied, ValidationError
from .fields import EVENT
from .lifecycle import ENGAGED
from .validation import clean_fields, normalise_text

MEETING_MINUTES = 30
CONFLICTS = {"conflict_same_organization", "conflict_declared", "cooperation_mode_not_accepted", "paused"}
# A published pair whose match ended this way frees its place; a re-plan never proposes it again.
ENDED = (MatchStatus.EXPERT_DECLINED, MatchStatus.ENTERPRISE_DECLINED, MatchStatus.CLOSED)
PROPOSAL_REASON = "event:%d"  # reason code of the proposals an event publishes (worded by the match page)


def _staff(actor: User) -> None:
    if not is_staff(actor):
        raise PermissionDenied("only coordinators run matchmaking events")


def event_for(actor: User, event_id: int) -> MatchmakingEvent:
    _staff(actor)
    event = db.session.get(MatchmakingEvent, event_id)
    if event is None:
        raise NotFound(f"event {event_id} does not exist")
    return event


def clean_event(data: dict[str, Any]) -> dict[str, Any]:
    """Validate a new event against the event's field spec."""
    return clean_fields(EVENT, data).finish("event")


def create_event(actor: User, data: dict[str, Any]) -> MatchmakingEvent:
    _staff(actor)
    fields = clean_event(data)
    starts = fields.pop("starts_at")
    with write_transaction() as session:  # a wall-clock time without offset is in the platform's zone
        event = MatchmakingEvent(created_by_id=actor.id, starts_at=from_local(starts), **fields)
        session.add(event)
    return event


def candidate_needs(industry: str = "", region: str = "", min_age_days: int = 0) -> list[Need]:
    """Open needs for the selection list, filtered like a coordinator would."""
    needs = db.session.scalars(sa.select(Need).where(Need.status == NeedStatus.OPEN).order_by(Need.created_at)).all()
    cutoff = utcnow() - timedelta(days=min_age_days)
    return [n for n in needs if (not industry or industry in (n.industry_codes or []))
            and (not region or (n.region or "").startswith(region)) and n.created_at <= cutoff]


def add_needs(actor: User, event_id: int, need_ids: list[int], demand: int = 2) -> int:
    event = event_for(actor, event_id)
    if not 1 <= demand <= 20:
        raise ValidationError(N_("experts wanted per need must be between 1 and 20"), fields={"demand": N_("must be between %(min)s and %(max)s", min=1, max=20)})
    existing = {n.need_id for n in event.needs}
    added = 0
    with write_transaction() as session:
        for need_id in need_ids:
            need = session.get(Need, need_id)
            if need is None or need.status != NeedStatus.OPEN or need_id in existing:
                continue
            session.add(EventNeed(event_id=event_id, need_id=need_id, demand=demand))
            existing.add(need_id)
            added += 1
    return added


def invite_experts(actor: User, event_id: int, expert_ids: list[int]) -> int:
    event = event_for(actor, event_id)
    existing = {e.expert_id for e in event.experts}
    added = 0
    with write_transaction() as session:
        for expert_id in expert_ids:
            if expert_id not in existing:
                session.add(EventExpert(event_id=event_id, expert_id=expert_id))
                existing.add(expert_id)
                added += 1
    return added


def find_experts(query: str, limit: int = 30) -> list[ExpertProfile]:
    """Experts a coordinator may invite, found by text: those whose name or organisation holds
    it first, then the engine's best experts for it as a topic ("荔枝保果", "titanium coating").
    Disabled or pending accounts are left out."""
    from ..matching.search import IndexNotReady, rank_with_live_facts, reader

    query = " ".join(normalise_text(str(query or "")).split())[:100]  # no NUL or control characters reach SQL
    if not query:
        return []
    escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    like = f"%{escaped}%"
    by_name = db.session.scalars(
        sa.select(ExpertProfile).outerjoin(Organization, ExpertProfile.organization_id == Organization.id)
        .where(sa.or_(ExpertProfile.name.ilike(like, escape="\\"), Organization.name.ilike(like, escape="\\")))
        .order_by(ExpertProfile.name, ExpertProfile.id).limit(limit)
    ).all()
    ranked_ids: list[int] = []
    try:
        engine = reader().engine()
        ranked = rank_with_live_facts(engine, NeedRecord(id="event-search", title=query), limit=limit)
        # Only experts whose own words hold a term of the query: a search, not a similarity feed.
        ranked_ids = [int(s.expert_id) for s in ranked if s.evidence.get("matched_terms")]
    except IndexNotReady:
        pass
    found = {p.id: p for p in by_name}
    order = list(dict.fromkeys([*found, *ranked_ids]))  # name matches first, then topic matches
    missing = [i for i in order if i not in found]
    if missing:
        found.update((p.id, p) for p in db.session.scalars(sa.select(ExpertProfile).where(ExpertProfile.id.in_(missing))))
    active = [found[i] for i in order if i in found and (found[i].user is None or found[i].user.status == AccountStatus.ACTIVE)]
    return active[:limit]


def invite_from_suggestions(actor: User, event_id: int, per_need: int = 5) -> int:
    """Invite each event need's best eligible experts."""
    from ..matching.search import rank_with_live_facts, reader

    event = event_for(actor, event_id)
    engine = reader().engine()
    chosen: list[int] = []
    for event_need in event.needs:
        for suggestion in rank_with_live_facts(engine, need_record(event_need.need), limit=per_need, explain=False):
            chosen.append(int(suggestion.expert_id))
    return invite_experts(actor, event_id, chosen)


def plan(actor: User, event_id: int, *, candidates_per_need: int = 200) -> dict:
    """Solve the assignment for the event's needs and invited experts; pinned slots are kept."""
    event = event_for(actor, event_id)
    if event.status == "published":
        raise IllegalTransition(N_("the event is published; its plan can no longer change"))
    return _plan(event, candidates_per_need)


def replan(actor: User, event_id: int, *, candidates_per_need: int = 200) -> dict:
    """After publication: fill the places freed by declined or closed proposals. Pairs whose
    proposals are still open stay as they are; a pair that ended is never proposed again.
    The new pairs are sent by :func:`publish`, like the first ones."""
    event = event_for(actor, event_id)
    if event.status != "published":
        raise IllegalTransition(N_("only a published event is re-planned; plan it instead"))
    if not any(state in ENDED for state in slot_states(event).values()):
        raise ValidationError(N_("no proposal of this event was declined or closed; nothing to re-plan"),
                              fields={"event": N_("no freed places")})
    return _plan(event, candidates_per_need)


def slot_states(event: MatchmakingEvent) -> dict[int, MatchStatus]:
    """Slot id → the state of the match it was published as (published slots only)."""
    match_ids = {s.match_id for s in event.slots if s.match_id is not None}
    if not match_ids:
        return {}
    states = {match_id: status for match_id, status in db.session.execute(
        sa.select(Match.id, Match.status).where(Match.id.in_(match_ids)))}
    return {s.id: states[s.match_id] for s in event.slots if s.match_id in states}


def _ended_pairs(event: MatchmakingEvent) -> set[tuple[str, str]]:
    """Pairs of the event's needs and invited experts whose match was declined or closed,
    in this event or elsewhere: proposing them again would bring nothing back to life."""
    need_ids = [n.need_id for n in event.needs]
    expert_ids = [x.expert_id for x in event.experts]
    if not need_ids or not expert_ids:
        return set()
    rows = db.session.execute(sa.select(Match.need_id, Match.expert_id).where(
        Match.need_id.in_(need_ids), Match.expert_id.in_(expert_ids), Match.status.in_(ENDED)))
    return {(str(n), str(e)) for n, e in rows}


def _plan(event: MatchmakingEvent, candidates_per_need: int) -> dict:
    """The solver over the event; published slots stay (open ones as fixed pairs, ended ones as
    a record), every other unpinned slot is replaced."""
    from ..matching.search import reader

    engine = reader().engine()
    invited = {str(e.expert_id) for e in event.experts}
    if not event.needs or not invited:
        raise ValidationError(N_("add needs and invite experts before planning"), fields={"event": N_("needs and experts required")})
    states = slot_states(event)
    attrs = attributes_for(sorted(invited))
    affinity: dict[tuple[str, str], float] = {}
    conflicts: set[tuple[str, str]] = _ended_pairs(event)
    for event_need in event.needs:
        # Every invited expert the index holds is scored; the objective sums calibrated
        # relevances, which mean the same on every need.
        pool = [e for e in sorted(invited) if e in engine.expert_items]
        ranked = engine.rank(need_record(event_need.need), attrs, limit=candidates_per_need, explain=False,
                             include_excluded=True, candidates=pool)
        for suggestion in ranked:
            pair = (str(event_need.need_id), suggestion.expert_id)
            affinity[pair] = suggestion.relevance
            if set(suggestion.excluded) & CONFLICTS:
                conflicts.add(pair)
    kept = [s for s in event.slots if s.kind == "assigned" and states.get(s.id) not in ENDED and (s.pinned or s.id in states)]
    pins = frozenset((str(s.need_id), str(s.expert_id)) for s in kept)
    capacity = {e: (a.remaining_capacity if a.remaining_capacity is not None else 0) for e, a in attrs.items()}
    for slot in kept:  # an engaged match already holds its place in the expert's remaining capacity
        if states.get(slot.id) in ENGAGED and str(slot.expert_id) in capacity:
            capacity[str(slot.expert_id)] += 1
    problem = AssignmentProblem(
        demand={str(n.need_id): n.demand for n in event.needs},
        capacity=capacity, affinity=affinity, conflicts=frozenset(conflicts), pins=pins,
        groups={str(n.need_id): (n.need.industry_codes or [""])[0] for n in event.needs},
    )
    result = solve(problem)
    event_id = event.id
    with write_transaction() as session:
        for slot in list(event.slots):
            if not slot.pinned and slot.match_id is None:
                session.delete(slot)
        session.flush()
        taken = {(str(s.need_id), str(s.expert_id)) for s in event.slots if s.pinned or s.match_id is not None}
        sequence: dict[str, int] = {}
        for slot in kept:
            sequence[str(slot.expert_id)] = max(sequence.get(str(slot.expert_id), 0), slot.sequence)
        for need_id, experts in result.assigned.items():
            for expert_id in experts:
                if (need_id, expert_id) in taken:
                    continue
                sequence[expert_id] = sequence.get(expert_id, 0) + 1
                taken.add((need_id, expert_id))
                session.add(EventSlot(event_id=event_id, need_id=int(need_id), expert_id=int(expert_id), kind="assigned",
                                      score=affinity.get((need_id, expert_id), 0.0), sequence=sequence[expert_id]))
        for need_id, experts in result.alternates.items():
            for expert_id in experts:
                if (need_id, expert_id) in taken:
                    continue
                taken.add((need_id, expert_id))
                session.add(EventSlot(event_id=event_id, need_id=int(need_id), expert_id=int(expert_id), kind="alternate",
                                      score=affinity.get((need_id, expert_id), 0.0)))
        for event_need in event.needs:
            event_need.unfilled_reason = result.reasons.get(str(event_need.need_id), "")
        # Stored as data and worded by the page in the reader's language (templates/coordinator/_findings.html).
        titles = {str(n.need_id): n.need.title for n in event.needs}
        names = {str(x.expert_id): x.expert.name for x in event.experts}
        event.plan_summary = [
            {**f, "need_title": titles.get(f["need"], f["need"]), "expert_name": names.get(f["expert"], f["expert"])}
            if f["kind"] == "pin" else f
            for f in result.findings
        ]
    return {"objective": result.objective, "unfilled_slots": result.unfilled_slots, "summary": result.pin_problems + result.summary}


def set_pin(actor: User, event_id: int, need_id: int, expert_id: int, pinned: bool) -> None:
    """Pin a pair (kept by every re-plan) or unpin it; unpinning removes it from the plan."""
    event = event_for(actor, event_id)
    if event.status == "published":
        raise IllegalTransition(N_("the event is published; its plan can no longer change"))
    if need_id not in {n.need_id for n in event.needs}:
        raise ValidationError(N_("that need is not part of the event"), fields={"need_id": N_("not in the event")})
    with write_transaction() as session:
        slot = session.scalar(sa.select(EventSlot).where(EventSlot.event_id == event_id, EventSlot.need_id == need_id,
                                                        EventSlot.expert_id == expert_id))
        if pinned:
            if slot is None:
                slot = EventSlot(event_id=event_id, need_id=need_id, expert_id=expert_id, kind="assigned")
                session.add(slot)
            slot.kind, slot.pinned = "assigned", True
            if expert_id not in {e.expert_id for e in event.experts}:
                session.add(EventExpert(event_id=event_id, expert_id=expert_id))
        elif slot is not None:
            session.delete(slot)


def publish(actor: User, event_id: int) -> int:
    """Create a proposed match for every assigned pair (idempotent); returns how many are new."""
    event = event_for(actor, event_id)
    assigned = [s for s in event.slots if s.kind == "assigned"]
    if not assigned:
        raise ValidationError(N_("the plan is empty; plan the event first"), fields={"event": N_("no assigned pairs")})
    created = 0
    for slot in assigned:
        if slot.match_id is not None:
            continue
        # The event is stored as data (code + name) and worded by the match page in the reader's language.
        match, new = match_service.propose(actor, slot.need_id, slot.expert_id, score=slot.score or None,
                                           reason=PROPOSAL_REASON % event.id, note=event.name)
        created += int(new)
        with write_transaction():
            db.session.get(EventSlot, slot.id).match_id = match.id
    with write_transaction():
        event = db.session.get(MatchmakingEvent, event_id)
        if event.status != "published":
            event.status, event.published_at = "published", utcnow()
    return created


def schedule(event: MatchmakingEvent) -> list[dict]:
    """Meetings per expert: (expert, [(time, need)]), from the assigned slots' order; a pair
    whose proposal was declined or closed has no meeting."""
    states = slot_states(event)
    by_expert: dict[int, list[EventSlot]] = {}
    for slot in event.slots:
        if slot.kind == "assigned" and states.get(slot.id) not in ENDED:
            by_expert.setdefault(slot.expert_id, []).append(slot)
    out = []
    for slots in by_expert.values():
        slots.sort(key=lambda s: (s.sequence, s.need_id))
        out.append({"expert": slots[0].expert, "meetings": [
            {"at": event.starts_at + timedelta(minutes=MEETING_MINUTES * i), "need": s.need, "pinned": s.pinned}
            for i, s in enumerate(slots)]})
    out.sort(key=lambda row: row["expert"].name)
    return out


def list_events() -> list[MatchmakingEvent]:
    return list(db.session.scalars(sa.select(MatchmakingEvent).order_by(MatchmakingEvent.starts_at.desc())))
