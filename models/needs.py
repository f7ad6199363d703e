"""Technical needs (科技需求) posted by enterprises."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, NeedStatus, enum_column, utcnow

if TYPE_CHECKING:
    from .accounts import Organization, User
    from .matches import Match


class Need(Base):
    __tablename__ = "needs"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="RESTRICT"), index=True
    )
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    industry_codes: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    region: Mapped[str] = mapped_column(sa.String(100), default="")
    cooperation_modes: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    budget_min: Mapped[int | None]  # 万元 (10,000 CNY)
    budget_max: Mapped[int | None]
    deadline: Mapped[date | None]
    status: Mapped[NeedStatus] = mapped_column(
        enum_column(NeedStatus, "need_status"), default=NeedStatus.OPEN, index=True
    )
    anonymous: Mapped[bool] = mapped_column(default=False)
    demand: Mapped[int] = mapped_column(default=2)  # experts wanted (matchmaking events)
    lang: Mapped[str] = mapped_column(sa.String(8), default="zh")
    external_ref: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    organization: Mapped[Organization] = relationship(back_populates="needs")
    created_by: Mapped[User | None] = relationship()
    matches: Mapped[list[Match]] = relationship(back_populates="need")

    __table_args__ = (
        sa.CheckConstraint("length(title) > 0", name="title_not_empty"),
        sa.CheckConstraint("budget_min IS NULL OR budget_min >= 0", name="budget_min_non_negative"),
        sa.CheckConstraint(
            "budget_min IS NULL OR budget_max IS NULL OR budget_min <= budget_max", name="budget_range"
        ),
        sa.CheckConstraint("demand >= 1 AND demand <= 20", name="demand_range"),
    )
