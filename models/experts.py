"""Expert profiles (科技所能), their achievements and declared conflicts."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import AchievementKind, Base, enum_column, utcnow

if TYPE_CHECKING:
    from .accounts import Organization, User


class ExpertProfile(Base):
    """What an expert can do. ``phone``, ``email`` and ``wechat`` are private contact fields."""

    __tablename__ = "expert_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), unique=True
    )
    name: Mapped[str] = mapped_column(sa.String(100))
    title: Mapped[str] = mapped_column(sa.String(100), default="")
    organization_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="RESTRICT"), index=True
    )
    region: Mapped[str] = mapped_column(sa.String(100), default="")
    discipline_codes: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    research_areas: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    keywords: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    summary: Mapped[str] = mapped_column(sa.Text, default="")
    cooperation_modes: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    capacity: Mapped[int] = mapped_column(default=3)
    available: Mapped[bool] = mapped_column(default=True)
    phone: Mapped[str] = mapped_column(sa.String(40), default="")
    email: Mapped[str] = mapped_column(sa.String(200), default="")
    wechat: Mapped[str] = mapped_column(sa.String(100), default="")
    lang: Mapped[str] = mapped_column(sa.String(8), default="zh")
    external_ref: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    user: Mapped[User | None] = relationship(back_populates="expert_profile")
    organization: Mapped[Organization | None] = relationship()
    achievements: Mapped[list[Achievement]] = relationship(
        back_populates="expert", cascade="all, delete-orphan", order_by="Achievement.id"
    )
    conflicts: Mapped[list[ExpertConflict]] = relationship(
        back_populates="expert", cascade="all, delete-orphan"
    )

    __table_args__ = (
        sa.CheckConstraint("length(name) > 0", name="name_not_empty"),
        sa.CheckConstraint("capacity >= 0 AND capacity <= 50", name="capacity_range"),
    )

    def contacts(self) -> dict[str, str]:
        return {"phone": self.phone, "email": self.email, "wechat": self.wechat}


class Achievement(Base):
    __tablename__ = "achievements"

    id: Mapped[int] = mapped_column(primary_key=True)
    expert_id: Mapped[int] = mapped_column(
        sa.ForeignKey("expert_profiles.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[AchievementKind] = mapped_column(enum_column(AchievementKind, "achievement_kind"))
    title: Mapped[str] = mapped_column(sa.String(300))
    abstract: Mapped[str] = mapped_column(sa.Text, default="")
    year: Mapped[int | None]
    authors: Mapped[str] = mapped_column(sa.String(500), default="", server_default="")  # as cited
    venue: Mapped[str] = mapped_column(sa.String(300), default="", server_default="")  # journal, proceedings, publisher, patent no.
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    expert: Mapped[ExpertProfile] = relationship(back_populates="achievements")

    __table_args__ = (
        sa.CheckConstraint("length(title) > 0", name="title_not_empty"),
        sa.CheckConstraint("year IS NULL OR (year >= 1950 AND year <= 2100)", name="year_range"),
    )


class ExpertConflict(Base):
    """An organisation the expert declared a conflict of interest with."""

    __tablename__ = "expert_conflicts"

    id: Mapped[int] = mapped_column(primary_key=True)
    expert_id: Mapped[int] = mapped_column(sa.ForeignKey("expert_profiles.id", ondelete="CASCADE"))
    organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(sa.String(200), default="")

    expert: Mapped[ExpertProfile] = relationship(back_populates="conflicts")
    organization: Mapped[Organization] = relationship()

    __table_args__ = (sa.UniqueConstraint("expert_id", "organization_id", name="uq_expert_conflict"),)
