"""A coordinator dismisses a suggested expert for a need, with a reason from a fixed list.

The need's suggestion list hides dismissed experts (they can be shown and restored), and the
ranker reads every standing dismissal as a negative label for the pair
(:func:`web.matching.ranking.decision_labels`). An expert already proposed for the need is
not dismissed: the match is the decision.
"""

from __future__ import annotations

import sqlalchemy as sa

from models import ExpertProfile, Match, Need, SuggestionDismissal, User, db, utcnow, write_transaction

from ..access import is_staff
from .errors import N_, Conflict, NotFound, PermissionDenied, ValidationError

REASONS = ("not_relevant", "too_far", "unavailable", "conflict", "contacted_before", "other")
MAX_NOTE = 1000


def _require_staff(actor: User) -> None:
    if not is_staff(actor):
        raise PermissionDenied("only coordinators dismiss suggestions")


def dismiss(actor: User, need_id: int, expert_id: int, reason: str, note: str = "") -> SuggestionDismissal:
    """Dismiss (or dismiss again, with the new reason) the pair; idempotent per pair."""
    _require_staff(actor)
    note = (note or "").strip()
    errors = {}
    if reason not in REASONS:
        errors["reason"] = N_("must be one of %(allowed)s", allowed=", ".join(REASONS))
    elif reason == "other" and not note:
        errors["note"] = N_("say why when the reason is “other”")
    if len(note) > MAX_NOTE:
        errors["note"] = N_("must be at most %(max)s characters", max=MAX_NOTE)
    if errors:
        raise ValidationError(N_("the dismissal needs a reason from the list"), fields=errors)
    with write_transaction() as session:
        if session.get(Need, need_id) is None:
            raise NotFound(f"need {need_id} does not exist")
        if session.get(ExpertProfile, expert_id) is None:
            raise NotFound(f"expert {expert_id} does not exist")
        if session.scalar(sa.select(Match.id).where(Match.need_id == need_id, Match.expert_id == expert_id)) is not None:
            raise Conflict(N_("expert %(expert)s is already proposed for need %(need)s", expert=expert_id, need=need_id))
        row = session.scalar(sa.select(SuggestionDismissal).where(SuggestionDismissal.need_id == need_id,
                                                                  SuggestionDismissal.expert_id == expert_id))
        fields = {"reason_code": reason, "note": note, "dismissed_by_id": actor.id, "dismissed_at": utcnow(), "restored_at": None}
        if row is None:
            row = SuggestionDismissal(need_id=need_id, expert_id=expert_id, **fields)
            session.add(row)
        else:
            for key, value in fields.items():
                setattr(row, key, value)
    return row


def restore(actor: User, need_id: int, expert_id: int) -> bool:
    """Show the expert in the need's suggestions again; the dismissal stops being a label.
    Returns whether a standing dismissal was restored."""
    _require_staff(actor)
    with write_transaction() as session:
        result = session.execute(sa.update(SuggestionDismissal).where(
            SuggestionDismissal.need_id == need_id, SuggestionDismissal.expert_id == expert_id,
            SuggestionDismissal.restored_at.is_(None)).values(restored_at=utcnow()))
    return bool(result.rowcount)


def dismissed_for(need_id: int) -> dict[int, SuggestionDismissal]:
    """The standing dismissals of a need, by expert."""
    rows = db.session.scalars(sa.select(SuggestionDismissal).where(SuggestionDismissal.need_id == need_id,
                                                                   SuggestionDismissal.restored_at.is_(None))
                              .order_by(SuggestionDismissal.dismissed_at.desc()))
    return {row.expert_id: row for row in rows}


def standing_dismissals() -> list[tuple[int, int, object]]:
    """(need, expert, when) of every standing dismissal: the ranker's negative labels."""
    return [(need_id, expert_id, when) for need_id, expert_id, when in db.session.execute(
        sa.select(SuggestionDismissal.need_id, SuggestionDismissal.expert_id, SuggestionDismissal.dismissed_at)
        .where(SuggestionDismissal.restored_at.is_(None)))]
