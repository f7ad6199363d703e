"""The embedding store and backfill jobs, in the system of record.

``embedding_vectors`` holds every text's vector per key space (``<channel fingerprint>:<role>``)
and text hash, float16 bytes in a binary column, so embedding workers on several machines
write to the one database every web node and the indexer already share. A backfill job embeds
what the store lacks in batches (``backfill_batches``); its row is the progress that
``/healthz``, ``matcher status`` and the dashboard show, and what a restarted job resumes from.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow

JOB_STATES = ("embedding", "embedded", "published", "failed")


class EmbeddingVector(Base):
    __tablename__ = "embedding_vectors"

    space: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    dim: Mapped[int]
    vec: Mapped[bytes] = mapped_column(sa.LargeBinary)


class BackfillJob(Base):
    """One reindex/backfill: the key spaces it fills, how far it got, and its rate."""

    __tablename__ = "backfill_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    state: Mapped[str] = mapped_column(sa.String(16), default="embedding", index=True)
    model_spec: Mapped[str] = mapped_column(sa.String(400), default="")
    channels: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    spaces: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    reason: Mapped[str] = mapped_column(sa.String(200), default="")
    total_texts: Mapped[int] = mapped_column(default=0)
    done_texts: Mapped[int] = mapped_column(default=0)
    embedded_texts: Mapped[int] = mapped_column(default=0)  # texts an encoder actually embedded
    batches_total: Mapped[int] = mapped_column(default=0)
    batches_done: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resumed_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at_resume: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    message: Mapped[str] = mapped_column(sa.Text, default="")

    __table_args__ = (sa.CheckConstraint(f"state IN {JOB_STATES!r}", name="backfill_state"),)


class BackfillBatch(Base):
    """Texts of one key space for one worker call; ``texts`` is emptied once they are stored."""

    __tablename__ = "backfill_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(sa.ForeignKey("backfill_jobs.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(sa.String(16))
    space: Mapped[str] = mapped_column(sa.String(64))
    size: Mapped[int]
    texts: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    done: Mapped[bool] = mapped_column(default=False, index=True)
    embedded: Mapped[int] = mapped_column(default=0)
    worker: Mapped[str] = mapped_column(sa.String(120), default="")
    done_at: Mapped[datetime | None]
