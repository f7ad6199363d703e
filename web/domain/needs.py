"""Needs (科技需求): who may post, see and change them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa

from models import Match, MatchStatus, Need, NeedStatus, Role, User, db, write_transaction

from ..access import is_staff
from ..localtime import local_today
from .errors import N_, Conflict, NotFound, PermissionDenied, ValidationError
from .fields import NEED
from .lifecycle import FUNNEL_RANK, LOCKS_NEED, OPEN
from .validation import clean_fields

EDITABLE_FIELDS = NEED.names


def clean_need(data: dict[str, Any], *, partial: bool = False, today: date | None = None) -> dict[str, Any]:
    """Validate need fields against the need's field spec; with ``partial`` only the fields
    present are checked."""
    cleaner = clean_fields(NEED, data, partial=partial, today=today)
    low, high = cleaner.clean.get("budget_min"), cleaner.clean.get("budget_max")
    if low is not None and high is not None and low > high:
        cleaner.fail("budget_max", N_("must not be less than budget_min"))
    return cleaner.finish("need")


def _require_enterprise(actor: User) -> None:
    if actor.role != Role.ENTERPRISE or actor.organization_id is None:
        raise PermissionDenied("only enterprise accounts post needs")


def create_need(actor: User, data: dict[str, Any], *, status: NeedStatus = NeedStatus.OPEN) -> Need:
    _require_enterprise(actor)
    fields = clean_need(data, today=local_today())
    with write_transaction() as session:
        need = Need(organization_id=actor.organization_id, created_by_id=actor.id, status=status, **fields)
        session.add(need)
        if status == NeedStatus.OPEN:
            from .coordinator_news import NEED_POSTED, tell_coordinators

            session.flush()
            tell_coordinators(session, NEED_POSTED, need_id=need.id)
    return need


def need_for(actor: User, need_id: int) -> Need:
    """The need if ``actor`` may see it; 404 otherwise (no hint that it exists)."""
    need = db.session.get(Need, need_id)
    if need is None or not can_view_need(actor, need):
        raise NotFound(f"need {need_id} does not exist")
    return need


def can_view_need(actor: User, need: Need) -> bool:
    if is_staff(actor):
        return True
    if actor.role == Role.ENTERPRISE:
        return need.organization_id == actor.organization_id
    if actor.role == Role.EXPERT and actor.expert_profile is not None:
        from models import Match

        from .interests import may_discover

        proposed = db.session.scalar(
            sa.select(Match.id).where(Match.need_id == need.id, Match.expert_id == actor.expert_profile.id)) is not None
        return proposed or may_discover(actor.expert_profile, need)  # read-only, as on his recommended list
    return False


def update_need(actor: User, need_id: int, data: dict[str, Any]) -> Need:
    need = need_for(actor, need_id)
    if actor.role != Role.ENTERPRISE:
        raise PermissionDenied("only the enterprise that posted a need edits it")
    if need.status == NeedStatus.CLOSED:
        raise ValidationError(N_("need is closed and can no longer be edited"), fields={"status": N_("closed")})
    _refuse_if_locked(need)
    fields = clean_need({k: v for k, v in data.items() if k in EDITABLE_FIELDS}, partial=True)
    merged_low = fields.get("budget_min", need.budget_min)
    merged_high = fields.get("budget_max", need.budget_max)
    if merged_low is not None and merged_high is not None and merged_low > merged_high:
        raise ValidationError(N_("budget up to must not be less than budget from"), fields={"budget_max": N_("must not be less than budget_min")})
    with write_transaction():
        for key, value in fields.items():
            setattr(need, key, value)
    return need


def withdraw_need(actor: User, need_id: int) -> Need:
    """Close the need and, in the same transaction, every open match of it (parties are told)."""
    need = need_for(actor, need_id)
    if actor.role != Role.ENTERPRISE:
        raise PermissionDenied("only the enterprise that posted a need withdraws it")
    _refuse_if_locked(need)
    from .matches import close_matches_of_withdrawn_need

    with write_transaction() as session:
        close_matches_of_withdrawn_need(session, actor, need)
        need.status = NeedStatus.CLOSED
    return need


def needs_for(actor: User, *, status: NeedStatus | None = None, limit: int = 200, offset: int = 0) -> list[Need]:
    query = sa.select(Need)
    if actor.role == Role.ENTERPRISE:
        query = query.where(Need.organization_id == actor.organization_id)
    elif not is_staff(actor):
        raise PermissionDenied("experts see needs through their proposals")
    if status is not None:
        query = query.where(Need.status == status)
    query = query.order_by(Need.created_at.asc() if status == NeedStatus.OPEN else Need.created_at.desc())
    return list(db.session.scalars(query.limit(limit).offset(offset)))


# -- the need's state follows its matches -------------------------------------------------------
WAITING, IN_PROGRESS = "waiting", "in_progress"


@dataclass
class NeedProgress:
    """Where a need stands, read from its matches through the lifecycle table: ``stage`` is
    the state of the match furthest along the funnel (connected, intent, contract,
    completed), else ``in_progress`` while a proposal is open, else ``waiting``.
    ``closing``: the open matches a withdrawal would close; ``locked_by``: matches past
    intent, which fix the need (no edit, no withdrawal)."""

    stage: str | MatchStatus
    matches: list[Match] = field(default_factory=list)
    closing: list[Match] = field(default_factory=list)
    locked_by: list[Match] = field(default_factory=list)

    @property
    def locked(self) -> bool:
        return bool(self.locked_by)


def need_progress(need: Need) -> NeedProgress:
    matches = list(db.session.scalars(sa.select(Match).where(Match.need_id == need.id).order_by(Match.created_at, Match.id)))
    furthest = max((m for m in matches if FUNNEL_RANK.get(m.status)), key=lambda m: FUNNEL_RANK[m.status], default=None)
    closing = [m for m in matches if m.status in OPEN]
    stage: str | MatchStatus = furthest.status if furthest else (IN_PROGRESS if closing else WAITING)
    return NeedProgress(stage, matches, closing, [m for m in matches if m.status in LOCKS_NEED])


def _refuse_if_locked(need: Need) -> None:
    locked = need_progress(need).locked_by
    if locked:
        raise Conflict(N_("need %(need)s has a match past the cooperation intent (match %(match)s): it can no longer be "
                          "edited or withdrawn; ask the coordinator", need=need.id, match=locked[0].id))
