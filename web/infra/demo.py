"""The demo dataset in ``data/demo/``: validation and loading into an empty database.

Every record passes through the same cleaners as user input, so a demo record that a user
could not have typed is an error here too. Nothing is written unless the whole dataset is valid.
"""

from __future__ import annotations

import json
import secrets
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from matcher.paths import DEMO_DIR
from models import (
    AccountStatus,
    Achievement,
    ExpertConflict,
    ExpertProfile,
    Match,
    MatchStatus,
    Need,
    NeedStatus,
    Organization,
    OrganizationKind,
    Role,
    User,
    db,
    write_transaction,
)

from ..domain import lifecycle
from ..domain import matches as match_service
from ..domain.errors import ValidationError
from ..domain.experts import clean_achievement, clean_profile
from ..domain.lifecycle import Side
from ..domain.needs import clean_need
from ..localtime import to_local
from .passwords import hash_password

FILES = ("organizations", "experts", "needs", "matches", "judgements")
DEMO_NOTE = "demo history"
DEMO_STAFF = (
    (Role.COORDINATOR, "coordinator@demo.example.cn", "示范科协 协调员"),
    (Role.ADMIN, "admin@demo.example.cn", "示范科协 管理员"),
)


@dataclass
class DemoDataset:
    organizations: list[dict] = field(default_factory=list)
    experts: list[dict] = field(default_factory=list)
    needs: list[dict] = field(default_factory=list)
    matches: list[dict] = field(default_factory=list)
    judgements: list[dict] = field(default_factory=list)


def read_jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValidationError(f"{path}: line {number}: invalid JSON ({exc.msg})") from None
            if not isinstance(record, dict):
                raise ValidationError(f"{path}: line {number}: expected a JSON object")
            yield number, record


def read_dataset(root: Path = DEMO_DIR) -> DemoDataset:
    dataset = DemoDataset()
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        for name in FILES:
            path = folder / f"{name}.jsonl"
            if path.exists():
                for number, record in read_jsonl(path):
                    record["_where"] = f"{path.relative_to(root.parent)}: line {number}"
                    getattr(dataset, name).append(record)
    return dataset


def validate_dataset(dataset: DemoDataset) -> list[str]:
    """Every problem in the dataset, each naming file, line and field; empty when valid."""
    problems: list[str] = []
    seen: set[str] = set()
    orgs = {}
    kinds_by_name: dict[str, str] = {}
    for org in dataset.organizations:
        _unique(org, seen, problems)
        previous_kind = kinds_by_name.setdefault(org.get("name", ""), org.get("kind", ""))
        if previous_kind != org.get("kind"):
            problems.append(f"{org['_where']}: {org.get('name')!r} appears elsewhere with kind {previous_kind!r}")
        if org.get("kind") == "enterprise" and previous_kind == "enterprise" and org.get("name") in {
                o.get("name") for o in orgs.values() if o.get("kind") == "enterprise"}:
            problems.append(f"{org['_where']}: enterprise {org.get('name')!r} is defined twice")
        if org.get("kind") not in {k.value for k in OrganizationKind}:
            problems.append(f"{org['_where']}: kind {org.get('kind')!r} is not an organisation kind")
        if not org.get("name"):
            problems.append(f"{org['_where']}: name must not be empty")
        if org.get("kind") == "enterprise" and not isinstance(org.get("contact"), dict):
            problems.append(f"{org['_where']}: contact is required for enterprises")
        orgs[org.get("id")] = org
    experts = {}
    for expert in dataset.experts:
        _unique(expert, seen, problems)
        experts[expert.get("id")] = expert
        if expert.get("organization") not in orgs:
            problems.append(f"{expert['_where']}: organization {expert.get('organization')!r} does not exist")
        _collect(problems, expert["_where"], lambda e=expert: clean_profile(_profile_fields(e), partial=False))
        achievements = expert.get("achievements") or []
        if len(achievements) < 3:
            problems.append(f"{expert['_where']}: needs at least 3 achievements (has {len(achievements)})")
        for index, achievement in enumerate(achievements, start=1):
            where = f"{expert['_where']}: achievement {index}"
            _collect(problems, where, lambda a=achievement: clean_achievement(a))
        for conflict in expert.get("conflict_organizations") or []:
            if conflict not in orgs:
                problems.append(f"{expert['_where']}: conflict_organizations {conflict!r} does not exist")
    needs = {}
    for need in dataset.needs:
        _unique(need, seen, problems)
        needs[need.get("id")] = need
        org = orgs.get(need.get("organization"))
        if org is None or org.get("kind") != "enterprise":
            problems.append(f"{need['_where']}: organization {need.get('organization')!r} is not an enterprise of the dataset")
        _collect(problems, need["_where"], lambda n=need: clean_need(_need_fields(n)))
    for match in dataset.matches:
        if match.get("need") not in needs or match.get("expert") not in experts:
            problems.append(f"{match['_where']}: need or expert does not exist")
        if match.get("status") not in {s.value for s in MatchStatus}:
            problems.append(f"{match['_where']}: status {match.get('status')!r} is not a match status")
        elif _history(MatchStatus(match["status"])) is None:
            problems.append(f"{match['_where']}: status {match.get('status')!r} cannot be reached through the lifecycle")
    for judgement in dataset.judgements:
        if judgement.get("need") not in needs or judgement.get("expert") not in experts:
            problems.append(f"{judgement['_where']}: need or expert does not exist")
        if judgement.get("relevance") not in (0, 1, 2, 3):
            problems.append(f"{judgement['_where']}: relevance must be 0, 1, 2 or 3")
    return problems


def _unique(record: dict, seen: set[str], problems: list[str]) -> None:
    rid = record.get("id")
    if not isinstance(rid, str) or not rid:
        problems.append(f"{record['_where']}: id is missing")
    elif rid in seen:
        problems.append(f"{record['_where']}: id {rid!r} is used twice")
    else:
        seen.add(rid)


def _collect(problems: list[str], where: str, check) -> None:
    try:
        check()
    except ValidationError as exc:
        problems.extend(f"{where}: {name} {problem}" for name, problem in exc.fields.items())


def _profile_fields(expert: dict) -> dict[str, Any]:
    contacts = expert.get("contacts") or {}
    return {
        "name": expert.get("name"),
        "title": expert.get("title", ""),
        "region": expert.get("region", ""),
        "discipline_codes": expert.get("disciplines", []),
        "research_areas": expert.get("research_areas", []),
        "keywords": expert.get("keywords", []),
        "summary": expert.get("summary", ""),
        "cooperation_modes": expert.get("cooperation_modes", []),
        "capacity": expert.get("capacity", 3),
        "available": expert.get("available", True),
        "phone": contacts.get("phone", ""),
        "email": contacts.get("email", ""),
        "wechat": contacts.get("wechat", ""),
    }


def _need_fields(need: dict) -> dict[str, Any]:
    return {
        "title": need.get("title"),
        "description": need.get("description", ""),
        "industry_codes": need.get("industry", []),
        "region": need.get("region", ""),
        "cooperation_modes": need.get("cooperation_modes", []),
        "budget_min": need.get("budget_min"),
        "budget_max": need.get("budget_max"),
        "deadline": need.get("deadline"),
        "anonymous": need.get("anonymous", False),
    }


def _day(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.combine(date.fromisoformat(value), datetime.min.time(), tzinfo=UTC).replace(hour=9)


def database_is_empty() -> bool:
    for model in (User, Organization, Need, ExpertProfile):
        if db.session.scalar(sa.select(sa.func.count()).select_from(model)):
            return False
    return True


@dataclass
class DemoLogin:
    role: Role
    email: str
    name: str


def load_demo(dataset: DemoDataset | None = None, *, password: str | None = None) -> tuple[str, list[DemoLogin]]:
    """Load the dataset into an empty database. Returns the shared demo password and the
    accounts worth showing. Raises ValidationError (and writes nothing) on any problem."""
    dataset = dataset or read_dataset()
    problems = validate_dataset(dataset)
    if problems:
        raise ValidationError(f"demo dataset has {len(problems)} problem(s): " + "; ".join(problems[:10]))
    if not database_is_empty():
        raise ValidationError("the database is not empty; the demo dataset loads only into an empty database")
    password = password or secrets.token_urlsafe(12)
    password_hash = hash_password(password)
    logins: list[DemoLogin] = []
    with write_transaction() as session:
        for role, email, name in DEMO_STAFF:
            session.add(User(email=email, password_hash=password_hash, name=name, role=role,
                             status=AccountStatus.ACTIVE, is_demo=True))
            logins.append(DemoLogin(role, email, name))
        orgs = _load_organizations(session, dataset, password_hash)
        experts = _load_experts(session, dataset, orgs, password_hash)
        needs = _load_needs(session, dataset, orgs)
        _load_matches(session, dataset, needs, experts)
        session.flush()
        logins.extend(_showcase_logins(session))
    return password, logins


def _showcase_logins(session) -> list[DemoLogin]:
    """The enterprise and the expert worth signing in as first: those with the most matches (the
    first such in the dataset on a tie), so neither journey starts on an empty page."""
    pairs = session.execute(sa.select(Need.organization_id, Match.expert_id).join(Need, Match.need_id == Need.id)).all()
    by_org = Counter(org for org, _ in pairs)
    by_expert = Counter(expert for _, expert in pairs)
    enterprises = session.scalars(sa.select(User).where(User.role == Role.ENTERPRISE).order_by(User.id)).all()
    profiles = session.scalars(sa.select(ExpertProfile).where(ExpertProfile.user_id.is_not(None)).order_by(ExpertProfile.id)).all()
    logins = []
    if enterprises:
        user = max(enterprises, key=lambda u: (by_org[u.organization_id], -u.id))
        logins.append(DemoLogin(Role.ENTERPRISE, user.email, f"{user.name} ({user.organization.name})"))
    if profiles:
        profile = max(profiles, key=lambda p: (by_expert[p.id], -p.id))
        logins.append(DemoLogin(Role.EXPERT, profile.user.email, profile.name))
    return logins


def _load_organizations(session, dataset, password_hash) -> dict[str, Organization]:
    orgs: dict[str, Organization] = {}
    by_name: dict[str, Organization] = {}
    for record in dataset.organizations:
        if record["name"] in by_name:  # the same university listed in two sector folders
            orgs[record["id"]] = by_name[record["name"]]
            continue
        contact = record.get("contact") or {}
        org = Organization(
            name=record["name"], kind=OrganizationKind(record["kind"]), region=record.get("region", ""),
            contact_name=contact.get("name", ""), contact_phone=contact.get("phone", ""),
            contact_email=contact.get("email", ""), contact_wechat=contact.get("wechat", ""),
            external_ref=record["id"],
        )
        session.add(org)
        orgs[record["id"]] = by_name[record["name"]] = org
        if org.kind == OrganizationKind.ENTERPRISE and contact.get("email"):
            user = User(email=contact["email"].lower(), password_hash=password_hash,
                        name=contact.get("name") or record["name"], role=Role.ENTERPRISE,
                        status=AccountStatus.ACTIVE, organization=org, is_demo=True)
            session.add(user)
    session.flush()
    return orgs


def _load_experts(session, dataset, orgs, password_hash) -> dict[str, ExpertProfile]:
    experts: dict[str, ExpertProfile] = {}
    for record in dataset.experts:
        fields = clean_profile(_profile_fields(record), partial=False)
        user = None
        if fields.get("email"):
            user = User(email=fields["email"].lower(), password_hash=password_hash, name=fields["name"],
                        role=Role.EXPERT, status=AccountStatus.ACTIVE, is_demo=True)
            session.add(user)
        profile = ExpertProfile(user=user, organization=orgs[record["organization"]], lang=record.get("lang", "zh"),
                                external_ref=record["id"], **fields)
        for achievement in record["achievements"]:
            profile.achievements.append(Achievement(**clean_achievement(achievement)))
        for conflict in record.get("conflict_organizations") or []:
            profile.conflicts.append(ExpertConflict(organization=orgs[conflict], reason="declared"))
        session.add(profile)
        experts[record["id"]] = profile
    session.flush()
    return experts


def _load_needs(session, dataset, orgs) -> dict[str, Need]:
    needs: dict[str, Need] = {}
    for record in dataset.needs:
        fields = clean_need(_need_fields(record))
        posted = _day(record.get("posted_at")) or datetime.now(UTC)
        org = orgs[record["organization"]]
        creator = next((m for m in org.members if m.role == Role.ENTERPRISE), None)
        need = Need(organization=org, created_by=creator, status=NeedStatus.OPEN, lang=record.get("lang", "zh"),
                    external_ref=record["id"], created_at=posted, updated_at=posted, **fields)
        session.add(need)
        needs[record["id"]] = need
    session.flush()
    return needs


def _history(status: MatchStatus) -> tuple | None:
    """The steps a demo match took to reach ``status``: every match the dataset shows beyond
    ``proposed`` went through ``connected`` (both sides accepted), as a real one would have."""
    steps = lifecycle.path(MatchStatus.PROPOSED, status)
    via = lifecycle.path(MatchStatus.PROPOSED, MatchStatus.CONNECTED)
    onward = lifecycle.path(MatchStatus.CONNECTED, status)
    if status not in lifecycle.AWAITING_ANSWER and via is not None and onward is not None:
        return via + onward
    return steps


def _load_matches(session, dataset, needs, experts) -> None:
    """Each match through the lifecycle service, as its coordinator, expert and enterprise
    would have made it, on the dataset's date; history, so nobody is notified."""
    coordinator = session.scalar(sa.select(User).where(User.email == DEMO_STAFF[0][1]))
    for record in dataset.matches:
        created = _day(record.get("created_at")) or datetime.now(UTC)
        need, profile = needs[record["need"]], experts[record["expert"]]
        enterprise = need.created_by or next(m for m in need.organization.members if m.role == Role.ENTERPRISE)
        actors = {Side.COORDINATOR: coordinator, Side.EXPERT: profile.user, Side.ENTERPRISE: enterprise}
        match, _ = match_service.propose_in(session, coordinator, Side.COORDINATOR, need.id, profile.id, note=DEMO_NOTE,
                                            at=created, quiet=True)
        for row, side in _history(MatchStatus(record["status"])):
            reason = record.get("reason", "other") if lifecycle.RULE[row.action].reasons else ""
            match_service.apply(session, match, actors[side], side, row.action, reason=match_service.checked_reason(
                row.action, reason, DEMO_NOTE), note=DEMO_NOTE, details=_outcome(row.action, record, need, created),
                at=created, quiet=True)


def _outcome(action, record: dict, need: Need, created: datetime) -> dict | None:
    """The date, amount and note of an outcome step the table says is recorded with them: the
    match's day; the record's ``amount`` (万元), else the need's budget, for a contract."""
    rule = lifecycle.RULE[action]
    if rule.records is None:
        return None
    amount = record.get("amount") or need.budget_max or need.budget_min or 10
    return {"occurred_on": to_local(created).date(), "note": DEMO_NOTE,
            "amount_yuan": int(amount * 10_000) if rule.amount == "required" or record.get("amount") else None}
