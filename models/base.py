"""Declarative base, column types and enumerations shared by every aggregate."""

from __future__ import annotations

import enum
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.types.TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a UTC-aware one is required")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime()}
    metadata = sa.MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


def enum_column(enum_cls: type[enum.Enum], name: str) -> sa.Enum:
    """An enum stored as its value in a VARCHAR with a CHECK constraint (portable, readable)."""
    return sa.Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        validate_strings=True,
        values_callable=lambda members: [m.value for m in members],
        length=24,
    )


class Role(str, enum.Enum):
    ENTERPRISE = "enterprise"
    EXPERT = "expert"
    COORDINATOR = "coordinator"
    ADMIN = "admin"


class AccountStatus(str, enum.Enum):
    PENDING = "pending"
    ACTIVE = "active"
    DISABLED = "disabled"


class OrganizationKind(str, enum.Enum):
    ENTERPRISE = "enterprise"
    UNIVERSITY = "university"
    RESEARCH_INSTITUTE = "research_institute"
    HOSPITAL = "hospital"
    OTHER = "other"


class NeedStatus(str, enum.Enum):
    DRAFT = "draft"
    OPEN = "open"
    MATCHED = "matched"
    CLOSED = "closed"


class CooperationMode(str, enum.Enum):
    CONSULTING = "consulting"  # 技术咨询
    DEVELOPMENT = "development"  # 技术开发
    TRANSFER = "transfer"  # 技术转让
    TRAINING = "training"  # 人才培养
    PLATFORM = "platform"  # 共建平台 / 专家工作站


class AchievementKind(str, enum.Enum):
    PAPER = "paper"
    PATENT = "patent"
    PROJECT = "project"
    AWARD = "award"
    STANDARD = "standard"


class MatchStatus(str, enum.Enum):
    """The states of a match. What each means and which transitions join them is the
    lifecycle table's (``web/domain/lifecycle.py``); the database only checks the spelling."""

    PROPOSED = "proposed"
    EXPERT_ACCEPTED = "expert_accepted"
    EXPERT_DECLINED = "expert_declined"
    ENTERPRISE_ACCEPTED = "enterprise_accepted"
    ENTERPRISE_DECLINED = "enterprise_declined"
    CONNECTED = "connected"
    INTENT = "intent"
    CONTRACT = "contract"
    COMPLETED = "completed"
    CLOSED = "closed"
    # A contract or completion recorded by one side, awaiting the other side's confirmation.
    CONTRACT_BY_EXPERT = "contract_by_expert"
    CONTRACT_BY_ENTERPRISE = "contract_by_enterprise"
    COMPLETED_BY_EXPERT = "completed_by_expert"
    COMPLETED_BY_ENTERPRISE = "completed_by_enterprise"

