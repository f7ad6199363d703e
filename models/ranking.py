"""What coordinators were shown (impressions) and the rankers learned from their decisions."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow


class SuggestionImpression(Base):
    """One suggestion list as shown: need, who saw it, which ranker, and per expert only the
    position, score and ranking features — never names or contact details."""

    __tablename__ = "suggestion_impressions"

    id: Mapped[int] = mapped_column(primary_key=True)
    need_id: Mapped[int] = mapped_column(sa.ForeignKey("needs.id", ondelete="CASCADE"), index=True)
    viewer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    ranker_version: Mapped[str] = mapped_column(sa.String(40))
    items: Mapped[list[dict]] = mapped_column(sa.JSON)  # [{"expert_id", "position", "score", "features": {...}}]
    shown_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class RankerModel(Base):
    """A versioned ranker: ``weights`` per ranking feature (a transparent linear model)."""

    __tablename__ = "ranker_models"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(sa.String(40), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(40))  # "weighted_sum" (default) | "logistic_pairwise"
    weights: Mapped[dict] = mapped_column(sa.JSON)
    metrics: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    decisions: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=False, index=True)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
