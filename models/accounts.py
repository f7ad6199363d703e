"""Users and organisations."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import AccountStatus, Base, OrganizationKind, Role, enum_column, utcnow

if TYPE_CHECKING:
    from .experts import ExpertProfile
    from .needs import Need


class Organization(Base):
    """An enterprise, university, institute or hospital. Contact fields are private."""

    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    kind: Mapped[OrganizationKind] = mapped_column(enum_column(OrganizationKind, "organization_kind"))
    region: Mapped[str] = mapped_column(sa.String(100), default="")
    description: Mapped[str] = mapped_column(sa.Text, default="")
    contact_name: Mapped[str] = mapped_column(sa.String(100), default="")
    contact_phone: Mapped[str] = mapped_column(sa.String(40), default="")
    contact_email: Mapped[str] = mapped_column(sa.String(200), default="")
    contact_wechat: Mapped[str] = mapped_column(sa.String(100), default="")
    external_ref: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    members: Mapped[list[User]] = relationship(back_populates="organization")
    needs: Mapped[list[Need]] = relationship(back_populates="organization")

    __table_args__ = (sa.CheckConstraint("length(name) > 0", name="name_not_empty"),)

    def contacts(self) -> dict[str, str]:
        return {
            "name": self.contact_name,
            "phone": self.contact_phone,
            "email": self.contact_email,
            "wechat": self.contact_wechat,
        }


class User(Base):
    """One account, one role. ``session_version`` changes to invalidate every session."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    name: Mapped[str] = mapped_column(sa.String(100))
    role: Mapped[Role] = mapped_column(enum_column(Role, "user_role"))
    status: Mapped[AccountStatus] = mapped_column(
        enum_column(AccountStatus, "account_status"), default=AccountStatus.PENDING
    )
    organization_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="RESTRICT"), index=True
    )
    locale: Mapped[str] = mapped_column(sa.String(8), default="zh")
    session_version: Mapped[int] = mapped_column(default=1)
    is_demo: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]

    organization: Mapped[Organization | None] = relationship(back_populates="members")
    expert_profile: Mapped[ExpertProfile | None] = relationship(back_populates="user")

    __table_args__ = (
        sa.CheckConstraint("email = lower(email)", name="email_lowercase"),
        sa.CheckConstraint("length(email) >= 3", name="email_not_empty"),
    )

    # Flask-Login protocol, kept here so every surface authenticates the same object.
    @property
    def is_active(self) -> bool:
        return self.status == AccountStatus.ACTIVE

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"
