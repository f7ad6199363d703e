"""Readable test data: ``factory.user(role="expert")``, ``factory.need(owner)``, ...

Each call runs in its own app context and returns a plain snapshot of what it created
(ids and the fields tests look at), so tests never hold ORM objects across requests.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from models import (
    AccountStatus,
    Achievement,
    AchievementKind,
    ExpertProfile,
    Need,
    NeedStatus,
    Organization,
    OrganizationKind,
    Role,
    User,
    write_transaction,
)
from web.infra.passwords import hash_password

_counter = itertools.count(1)
_HASH: dict[str, str] = {}


def _hash(password: str) -> str:
    if password not in _HASH:
        _HASH[password] = hash_password(password)
    return _HASH[password]


@dataclass(frozen=True)
class OrgRef:
    id: int
    name: str
    contacts: dict


@dataclass(frozen=True)
class UserRef:
    id: int
    email: str
    name: str
    role: str
    organization_id: int | None = None
    expert_id: int | None = None
    contacts: dict | None = None


@dataclass(frozen=True)
class Ref:
    id: int
    title: str


class Factory:
    PASSWORD = "correct-horse-battery-staple-7"

    def __init__(self, app) -> None:
        self.app = app

    def organization(self, name: str | None = None, kind: str = "enterprise", region: str = "广东省茂名市", **fields) -> OrgRef:
        n = next(_counter)
        contacts = {
            "name": fields.pop("contact_name", f"联系人{n}"),
            "phone": fields.pop("contact_phone", f"1390099{n:04d}"),
            "email": fields.pop("contact_email", f"contact{n}@org.example.cn"),
            "wechat": fields.pop("contact_wechat", f"wx_org_{n}"),
        }
        with self.app.app_context(), write_transaction() as session:
            org = Organization(name=name or f"测试企业{n}", kind=OrganizationKind(kind), region=region,
                               contact_name=contacts["name"], contact_phone=contacts["phone"],
                               contact_email=contacts["email"], contact_wechat=contacts["wechat"], **fields)
            session.add(org)
            session.flush()
            return OrgRef(org.id, org.name, contacts)

    def user(self, role: str = "enterprise", email: str | None = None, status: str = "active",
             organization: OrgRef | None = None, name: str | None = None, password: str | None = None,
             **profile) -> UserRef:
        n = next(_counter)
        role_enum = Role(role)
        if role_enum == Role.ENTERPRISE and organization is None:
            organization = self.organization()
        with self.app.app_context(), write_transaction() as session:
            user = User(email=email or f"{role}{n}@test.example.cn", password_hash=_hash(password or self.PASSWORD),
                        name=name or f"{role} {n}", role=role_enum, status=AccountStatus(status),
                        organization_id=organization.id if role_enum == Role.ENTERPRISE else None)
            session.add(user)
            expert_id = None
            contacts = organization.contacts if organization and role_enum == Role.ENTERPRISE else None
            if role_enum == Role.EXPERT:
                contacts = {"phone": f"1380099{n:04d}", "email": f"private{n}@expert.example.cn", "wechat": f"wx_expert_{n}"}
                expert = ExpertProfile(user=user, name=user.name, **contacts, **profile)
                session.add(expert)
                session.flush()
                expert_id = expert.id
            session.flush()
            return UserRef(user.id, user.email, user.name, role, user.organization_id, expert_id, contacts)

    def need(self, owner: UserRef, title: str = "减振器异响问题", status: str = "open", **fields) -> Ref:
        with self.app.app_context(), write_transaction() as session:
            need = Need(organization_id=owner.organization_id, created_by_id=owner.id, title=title,
                        description=fields.pop("description", "装车后低速过减速带有异响"),
                        status=NeedStatus(status), **fields)
            session.add(need)
            session.flush()
            return Ref(need.id, need.title)

    def achievement(self, expert: UserRef, title: str = "汽车减振器阻尼特性研究", kind: str = "paper", **fields) -> Ref:
        with self.app.app_context(), write_transaction() as session:
            achievement = Achievement(expert_id=expert.expert_id, kind=AchievementKind(kind), title=title,
                                      abstract=fields.pop("abstract", ""), year=fields.pop("year", 2022))
            session.add(achievement)
            session.flush()
            return Ref(achievement.id, achievement.title)
