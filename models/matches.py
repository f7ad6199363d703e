"""Matches between a need and an expert, and their append-only audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, MatchStatus, enum_column, utcnow

if TYPE_CHECKING:
    from .accounts import User
    from .experts import ExpertProfile
    from .needs import Need


class Match(Base):
    __tablename__ = "matches"

    id: Mapped[int] = mapped_column(primary_key=True)
    need_id: Mapped[int] = mapped_column(sa.ForeignKey("needs.id", ondelete="CASCADE"), index=True)
    expert_id: Mapped[int] = mapped_column(
        sa.ForeignKey("expert_profiles.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[MatchStatus] = mapped_column(enum_column(MatchStatus, "match_status"), index=True)
    expert_accepted_at: Mapped[datetime | None]
    enterprise_accepted_at: Mapped[datetime | None]
    connected_at: Mapped[datetime | None]  # contacts are revealed to both sides from here on
    proposed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    score: Mapped[float | None]
    closed_reason: Mapped[str] = mapped_column(sa.String(500), default="")
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    need: Mapped[Need] = relationship(back_populates="matches")
    expert: Mapped[ExpertProfile] = relationship()
    proposed_by: Mapped[User | None] = relationship()
    events: Mapped[list[MatchEvent]] = relationship(
        back_populates="match", order_by="MatchEvent.id", passive_deletes=True
    )

    __table_args__ = (sa.UniqueConstraint("need_id", "expert_id", name="uq_match_pair"),)
    __mapper_args__ = {"version_id_col": version}


class MatchEvent(Base):
    """One transition of a match: who, when, from which state to which, and why. Never updated."""

    __tablename__ = "match_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    match_id: Mapped[int] = mapped_column(sa.ForeignKey("matches.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    from_status: Mapped[str | None] = mapped_column(sa.String(24))
    to_status: Mapped[str] = mapped_column(sa.String(24))
    reason_code: Mapped[str] = mapped_column(sa.String(40), default="")
    actor_role: Mapped[str] = mapped_column(sa.String(24), default="", server_default="")
    note: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    match: Mapped[Match] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()
