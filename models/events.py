"""Matchmaking events (对接活动): many needs matched to many experts at once."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow


class MatchmakingEvent(Base):
    __tablename__ = "matchmaking_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    starts_at: Mapped[datetime]
    place: Mapped[str] = mapped_column(sa.String(200), default="")
    online: Mapped[bool] = mapped_column(default=False)
    industry_codes: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    status: Mapped[str] = mapped_column(sa.String(16), default="draft")  # draft | published
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None]
    plan_summary: Mapped[list[dict]] = mapped_column(sa.JSON, default=list)

    needs: Mapped[list[EventNeed]] = relationship(cascade="all, delete-orphan", order_by="EventNeed.id")
    experts: Mapped[list[EventExpert]] = relationship(cascade="all, delete-orphan", order_by="EventExpert.id")
    slots: Mapped[list[EventSlot]] = relationship(cascade="all, delete-orphan", order_by="EventSlot.id")

    __table_args__ = (
        sa.CheckConstraint("length(name) > 0", name="name_not_empty"),
        sa.CheckConstraint("status IN ('draft', 'published')", name="status_values"),
    )


class EventNeed(Base):
    __tablename__ = "event_needs"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("matchmaking_events.id", ondelete="CASCADE"), index=True)
    need_id: Mapped[int] = mapped_column(sa.ForeignKey("needs.id", ondelete="CASCADE"))
    demand: Mapped[int] = mapped_column(default=2)
    unfilled_reason: Mapped[str] = mapped_column(sa.String(40), default="")

    need = relationship("Need")

    __table_args__ = (
        sa.UniqueConstraint("event_id", "need_id", name="uq_event_need"),
        sa.CheckConstraint("demand >= 1 AND demand <= 20", name="demand_range"),
    )


class EventExpert(Base):
    __tablename__ = "event_experts"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("matchmaking_events.id", ondelete="CASCADE"), index=True)
    expert_id: Mapped[int] = mapped_column(sa.ForeignKey("expert_profiles.id", ondelete="CASCADE"))

    expert = relationship("ExpertProfile")

    __table_args__ = (sa.UniqueConstraint("event_id", "expert_id", name="uq_event_expert"),)


class EventSlot(Base):
    """One pair in the event's plan: assigned, alternate, or pinned by the coordinator."""

    __tablename__ = "event_slots"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("matchmaking_events.id", ondelete="CASCADE"), index=True)
    need_id: Mapped[int] = mapped_column(sa.ForeignKey("needs.id", ondelete="CASCADE"))
    expert_id: Mapped[int] = mapped_column(sa.ForeignKey("expert_profiles.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(16))  # assigned | alternate
    pinned: Mapped[bool] = mapped_column(default=False)
    score: Mapped[float] = mapped_column(default=0.0)
    sequence: Mapped[int] = mapped_column(default=0)  # meeting order for the expert's schedule
    match_id: Mapped[int | None] = mapped_column(sa.ForeignKey("matches.id", ondelete="SET NULL"))

    need = relationship("Need")
    expert = relationship("ExpertProfile")

    __table_args__ = (
        sa.UniqueConstraint("event_id", "need_id", "expert_id", name="uq_event_slot"),
        sa.CheckConstraint("kind IN ('assigned', 'alternate')", name="kind_values"),
    )
