"""Index work written in the same transaction as the change it describes.

Rows are never reordered or skipped: the single indexer applies every unprocessed row and then
marks it processed, so a row committed late (PostgreSQL sequences commit out of order) is still
picked up by the next drain.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Mapped, Session, mapped_column

from .base import Base, utcnow
from .experts import Achievement, ExpertProfile
from .needs import Need


class OutboxEntry(Base):
    __tablename__ = "index_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(sa.String(16))  # "expert" | "need"
    entity_id: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(index=True)

    __table_args__ = (sa.CheckConstraint("entity IN ('expert', 'need')", name="entity_kind"),)


def _index_targets(session: Session) -> set[tuple[str, int]]:
    targets: set[tuple[str, int]] = set()
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        if isinstance(obj, ExpertProfile) and obj.id is not None:
            targets.add(("expert", obj.id))
        elif isinstance(obj, Achievement) and obj.expert_id is not None:
            targets.add(("expert", obj.expert_id))
        elif isinstance(obj, Need) and obj.id is not None:
            targets.add(("need", obj.id))
    return targets


@event.listens_for(Session, "before_flush")
def _remember_dirty_entities(session: Session, flush_context, instances) -> None:
    # Ids of objects changed or deleted are known before the flush; new ones only after it.
    session.info.setdefault("_index_pending", set()).update(_index_targets(session))
    session.info["_index_new"] = [
        obj for obj in session.new if isinstance(obj, (ExpertProfile, Achievement, Need))
    ]


@event.listens_for(Session, "after_flush")
def _write_outbox_rows(session: Session, flush_context) -> None:
    pending: set[tuple[str, int]] = session.info.pop("_index_pending", set())
    for obj in session.info.pop("_index_new", []):
        if isinstance(obj, ExpertProfile):
            pending.add(("expert", obj.id))
        elif isinstance(obj, Achievement):
            pending.add(("expert", obj.expert_id))
        elif isinstance(obj, Need):
            pending.add(("need", obj.id))
    if not pending:
        return
    now = utcnow()
    session.connection().execute(
        sa.insert(OutboxEntry.__table__),
        [
            {"entity": entity, "entity_id": entity_id, "created_at": now}
            for entity, entity_id in sorted(pending)
        ],
    )
