"""An expert's expressed interest in an open need (他对这个需求感兴趣), for its coordinator."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow

if TYPE_CHECKING:
    from .experts import ExpertProfile
    from .needs import Need


class NeedInterest(Base):
    """One (need, expert) pair the expert said he is interested in. Withdrawing deletes the
    row: an interest is a live wish, not history (proposals and their events are the history).
    ``relevance``: the engine's calibrated relevance of the pair when the interest was given."""

    __tablename__ = "need_interests"

    id: Mapped[int] = mapped_column(primary_key=True)
    need_id: Mapped[int] = mapped_column(sa.ForeignKey("needs.id", ondelete="CASCADE"), index=True)
    expert_id: Mapped[int] = mapped_column(sa.ForeignKey("expert_profiles.id", ondelete="CASCADE"), index=True)
    relevance: Mapped[float | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    need: Mapped[Need] = relationship()
    expert: Mapped[ExpertProfile] = relationship()

    __table_args__ = (sa.UniqueConstraint("need_id", "expert_id", name="uq_need_interest_pair"),)
