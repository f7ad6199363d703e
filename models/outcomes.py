"""What was recorded with an outcome step of a match: the intent, the contract, the completion.

A record belongs to the MatchEvent that entered the step (who recorded it, when). It carries
the step's date (a local calendar day), the amount in yuan (entered and shown in 万元) and a
note. ``state`` says whether the record counts: ``pending`` until the other side (or a
coordinator) confirms it, ``counted`` once confirmed or when no confirmation is needed,
``rejected`` when the other side refused it. Which steps need a confirmation, and from whom,
is the lifecycle table's (``web/domain/lifecycle.py``); this row only remembers what happened.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow

PENDING, COUNTED, REJECTED = "pending", "counted", "rejected"


class MatchOutcome(Base):
    __tablename__ = "match_outcomes"

    id: Mapped[int] = mapped_column(primary_key=True)
    match_id: Mapped[int] = mapped_column(sa.ForeignKey("matches.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("match_events.id", ondelete="CASCADE"), unique=True)
    step: Mapped[str] = mapped_column(sa.String(24))  # intent | contract | completed
    occurred_on: Mapped[date]  # the local day it happened (signed, agreed, finished)
    amount_yuan: Mapped[int | None] = mapped_column(sa.BigInteger)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    recorded_side: Mapped[str] = mapped_column(sa.String(24))
    state: Mapped[str] = mapped_column(sa.String(16))
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    decided_side: Mapped[str] = mapped_column(sa.String(24), default="")
    decided_at: Mapped[datetime | None]
    reject_reason: Mapped[str] = mapped_column(sa.String(40), default="")
    reject_note: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    recorded_by = relationship("User", foreign_keys=[recorded_by_id])
    decided_by = relationship("User", foreign_keys=[decided_by_id])

    __table_args__ = (
        sa.CheckConstraint("state IN ('pending', 'counted', 'rejected')", name="state"),
        sa.CheckConstraint("amount_yuan IS NULL OR amount_yuan >= 0", name="amount"),
        sa.Index("ix_match_outcomes_step_state", "step", "state"),
    )
