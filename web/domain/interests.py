"""Experts discover open needs and say they are interested; the need's coordinator sees it.

Which needs an expert may discover is decided here once, for the recommendation page, the
API and the interest itself: open (published, not matched or closed), the deadline not
passed in the platform's local time, no match of this expert with it yet, and none of the
engine's hard constraints against the pair (same organisation, a declared conflict, a
cooperation mode he does not accept, his availability paused).
"""

from __future__ import annotations

import sqlalchemy as sa

from matcher.scoring import hard_constraints
from models import ExpertProfile, Match, Need, NeedInterest, NeedStatus, User, db, write_transaction

from ..access import is_staff
from ..localtime import local_today
from .errors import N_, Conflict, NotFound, PermissionDenied
from .experts import own_profile


def open_needs_for(profile: ExpertProfile) -> list[Need]:
    """Published open needs whose deadline has not passed and that this expert has no match
    with yet (those are on his proposals page). Hard constraints are the engine's to apply."""
    matched = sa.select(Match.need_id).where(Match.expert_id == profile.id)
    query = (sa.select(Need).where(Need.status == NeedStatus.OPEN, Need.id.not_in(matched),
                                   sa.or_(Need.deadline.is_(None), Need.deadline >= local_today()))
             .order_by(Need.id))
    return list(db.session.scalars(query))


def _constraints(profile: ExpertProfile, need: Need) -> list[str]:
    from ..matching.records import attributes_for, need_record

    attrs = attributes_for([str(profile.id)]).get(str(profile.id))
    return hard_constraints(need_record(need), attrs) if attrs is not None else []


def may_discover(profile: ExpertProfile, need: Need) -> bool:
    """The one rule of which needs an expert may discover (read, and be interested in): open,
    the deadline not passed, and no hard constraint against the pair."""
    if need.status != NeedStatus.OPEN or (need.deadline is not None and need.deadline < local_today()):
        return False
    return not _constraints(profile, need)


def _discoverable(actor: User, need_id: int) -> tuple[ExpertProfile, Need]:
    """The expert's profile and the need, if he may discover it; 404 for a need he may not
    see (closed, withdrawn, a draft, or ruled out by a constraint: no hint of which)."""
    profile = own_profile(actor)
    need = db.session.get(Need, need_id)
    if need is None or not may_discover(profile, need):
        raise NotFound(f"need {need_id} does not exist")
    return profile, need


def express_interest(actor: User, need_id: int) -> tuple[NeedInterest, bool]:
    """Record the expert's interest (idempotent); returns (interest, created)."""
    profile, need = _discoverable(actor, need_id)
    existing = _interest(profile.id, need_id)
    if existing is not None:
        return existing, False
    if db.session.scalar(sa.select(Match.id).where(Match.need_id == need_id, Match.expert_id == profile.id)) is not None:
        raise Conflict(N_("you have already been proposed for need %(need)s: answer the proposal instead", need=need_id))
    from ..matching.search import pair_scores
    from .coordinator_news import NEED_INTEREST, tell_coordinators

    relevance = pair_scores(need.id, [profile.id]).get(profile.id)
    try:
        with write_transaction() as session:
            interest = NeedInterest(need_id=need.id, expert_id=profile.id, relevance=relevance)
            session.add(interest)
            tell_coordinators(session, NEED_INTEREST, need_id=need.id)
    except sa.exc.IntegrityError:  # the same expert, twice at once: one row
        db.session.rollback()
        return _interest(profile.id, need_id), False
    return interest, True


def withdraw_interest(actor: User, need_id: int) -> bool:
    """Take the interest back (idempotent); True when there was one."""
    profile = own_profile(actor)
    with write_transaction() as session:
        deleted = session.execute(sa.delete(NeedInterest).where(NeedInterest.need_id == need_id,
                                                                 NeedInterest.expert_id == profile.id)).rowcount
    return bool(deleted)


def _interest(expert_id: int, need_id: int) -> NeedInterest | None:
    return db.session.scalar(sa.select(NeedInterest).where(NeedInterest.need_id == need_id, NeedInterest.expert_id == expert_id))


def interested_need_ids(profile: ExpertProfile) -> set[int]:
    return set(db.session.scalars(sa.select(NeedInterest.need_id).where(NeedInterest.expert_id == profile.id)))


def interests_in(actor: User, need_id: int) -> list[NeedInterest]:
    """Experts who expressed interest in a need, newest first: coordinators only (an
    enterprise learns of an expert through a proposal, other experts never)."""
    if not is_staff(actor):
        raise PermissionDenied("only coordinators see who is interested in a need")
    return list(db.session.scalars(sa.select(NeedInterest).where(NeedInterest.need_id == need_id)
                                   .order_by(NeedInterest.created_at.desc(), NeedInterest.id.desc())))


def my_interests(actor: User) -> list[NeedInterest]:
    """The expert's own interests, newest first (whatever became of the needs since)."""
    profile = own_profile(actor)
    return list(db.session.scalars(sa.select(NeedInterest).where(NeedInterest.expert_id == profile.id)
                                   .order_by(NeedInterest.created_at.desc(), NeedInterest.id.desc())))
