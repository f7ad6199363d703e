"""What coordinators decide about suggestions and what they have been told.

A dismissal is a coordinator's "not this expert for this need" with a reason from a fixed
list: the need's suggestion list hides the expert, and the ranker learns it as a negative
label. Restoring keeps the row (``restored_at``) so the history stays readable; a restored
dismissal is no longer a label. A digest mark is the end of the window the last e-mail digest
of a coordinator covered, so each digest covers only what is new since the one before.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow


class SuggestionDismissal(Base):
    __tablename__ = "suggestion_dismissals"

    id: Mapped[int] = mapped_column(primary_key=True)
    need_id: Mapped[int] = mapped_column(sa.ForeignKey("needs.id", ondelete="CASCADE"), index=True)
    expert_id: Mapped[int] = mapped_column(sa.ForeignKey("expert_profiles.id", ondelete="CASCADE"), index=True)
    reason_code: Mapped[str] = mapped_column(sa.String(40))
    note: Mapped[str] = mapped_column(sa.Text, default="")
    dismissed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    dismissed_at: Mapped[datetime] = mapped_column(default=utcnow)
    restored_at: Mapped[datetime | None]

    __table_args__ = (sa.UniqueConstraint("need_id", "expert_id", name="uq_dismissal_pair"),)


class DigestMark(Base):
    __tablename__ = "digest_marks"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    covered_until: Mapped[datetime]
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
