"""Needs (科技需求): who may post, see and change them."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa

from models import Need, NeedStatus, Role, User, db, write_transaction

from ..access import is_staff
from .errors import N_, NotFound, PermissionDenied, ValidationError
from .fields import NEED
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
    fields = clean_need(data, today=date.today())
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

        return (
            db.session.scalar(
                sa.select(Match.id).where(Match.need_id == need.id, Match.expert_id == actor.expert_profile.id)
            )
            is not None
        )
    return False


def update_need(actor: User, need_id: int, data: dict[str, Any]) -> Need:
    need = need_for(actor, need_id)
    if actor.role != Role.ENTERPRISE:
        raise PermissionDenied("only the enterprise that posted a need edits it")
    if need.status == NeedStatus.CLOSED:
        raise ValidationError(N_("need is closed and can no longer be edited"), fields={"status": N_("closed")})
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
