"""The system of record: SQLAlchemy models and the session/engine setup.

``db`` is the Flask-SQLAlchemy handle bound by the app factory; models are plain SQLAlchemy
typed mappings on :class:`models.base.Base` and know nothing of the web layer.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.engine import Engine

from .accounts import Organization, User
from .base import (
    AccountStatus,
    AchievementKind,
    Base,
    CooperationMode,
    MatchStatus,
    NeedStatus,
    OrganizationKind,
    Role,
    utcnow,
)
from .coordination import DigestMark, SuggestionDismissal
from .embeddings import BackfillBatch, BackfillJob, EmbeddingVector
from .events import EventExpert, EventNeed, EventSlot, MatchmakingEvent
from .experts import Achievement, ExpertConflict, ExpertProfile
from .interests import NeedInterest
from .matches import Match, MatchEvent
from .needs import Need
from .notifications import EmailMessage, Notification
from .outbox import OutboxEntry
from .outcomes import MatchOutcome
from .ranking import RankerModel, SuggestionImpression

db = SQLAlchemy(metadata=Base.metadata)

_write_intent: contextvars.ContextVar[bool] = contextvars.ContextVar("write_intent", default=False)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    """WAL, a busy timeout and enforced foreign keys on every SQLite connection."""
    if type(dbapi_connection).__module__.split(".")[0] not in {"sqlite3", "pysqlite2"}:
        return
    # Let SQLAlchemy emit BEGIN itself so that writers can ask for BEGIN IMMEDIATE.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn) -> None:
    if conn.dialect.name != "sqlite":
        return
    conn.exec_driver_sql("BEGIN IMMEDIATE" if _write_intent.get() else "BEGIN")


@contextlib.contextmanager
def write_transaction() -> Iterator[sa.orm.Session]:
    """A write unit of work: commits on success, rolls back on any exception.

    On SQLite the transaction starts with ``BEGIN IMMEDIATE`` so that concurrent writers queue on
    the busy timeout instead of failing halfway with "database is locked". Any read transaction
    the session had open is ended first, so what is read inside is current.
    """
    session = db.session()  # the scoped session's current Session
    if session.in_transaction():
        session.commit()
    token = _write_intent.set(True)
    try:
        session.begin()
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        _write_intent.reset(token)


__all__ = [
    "db",
    "write_transaction",
    "Base",
    "utcnow",
    "User",
    "Organization",
    "Need",
    "ExpertProfile",
    "Achievement",
    "ExpertConflict",
    "Match",
    "MatchEvent",
    "NeedInterest",
    "MatchOutcome",
    "OutboxEntry",
    "Notification",
    "MatchmakingEvent",
    "EventNeed",
    "EventExpert",
    "EventSlot",
    "SuggestionImpression",
    "RankerModel",
    "SuggestionDismissal",
    "DigestMark",
    "EmbeddingVector",
    "BackfillJob",
    "BackfillBatch",
    "EmailMessage",
    "Role",
    "AccountStatus",
    "OrganizationKind",
    "NeedStatus",
    "CooperationMode",
    "AchievementKind",
    "MatchStatus",
]
