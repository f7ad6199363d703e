"""Database rows → the engine's plain records (ids become strings)."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from matcher import AchievementRecord, ExpertAttributes, ExpertRecord, NeedRecord
from models import AccountStatus, ExpertConflict, ExpertProfile, Match, Need, User, db

from ..domain.lifecycle import ENGAGED


def expert_record(profile: ExpertProfile) -> ExpertRecord:
    return ExpertRecord(
        id=str(profile.id),
        name=profile.name,
        title=profile.title,
        summary=profile.summary or "",
        research_areas=tuple(profile.research_areas or ()),
        keywords=tuple(profile.keywords or ()),
        achievements=tuple(
            AchievementRecord(id=str(a.id), title=a.title, abstract=a.abstract or "", kind=a.kind.value, year=a.year)
            for a in profile.achievements
        ),
    )


def need_record(need: Need) -> NeedRecord:
    return NeedRecord(
        id=str(need.id),
        title=need.title,
        description=need.description or "",
        industry_codes=tuple(need.industry_codes or ()),
        region=need.region or "",
        organization=str(need.organization_id),
        cooperation_modes=tuple(need.cooperation_modes or ()),
    )


def engaged_counts(expert_ids: Iterable[int]) -> dict[int, int]:
    ids = list(expert_ids)
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(Match.expert_id, sa.func.count())
        .where(Match.expert_id.in_(ids), Match.status.in_(list(ENGAGED)))
        .group_by(Match.expert_id)
    )
    return {expert_id: count for expert_id, count in rows}


def attributes_for(expert_ids: list[str]) -> dict[str, ExpertAttributes]:
    """Live facts for the engine's candidates, in three queries whatever their number."""
    ids = [int(i) for i in expert_ids]
    if not ids:
        return {}
    profiles = db.session.execute(
        sa.select(ExpertProfile.id, ExpertProfile.organization_id, ExpertProfile.region, ExpertProfile.discipline_codes,
                  ExpertProfile.cooperation_modes, ExpertProfile.capacity, ExpertProfile.available, User.status)
        .outerjoin(User, User.id == ExpertProfile.user_id)
        .where(ExpertProfile.id.in_(ids))
    ).all()
    conflicts: dict[int, set[str]] = {}
    for expert_id, org_id in db.session.execute(
        sa.select(ExpertConflict.expert_id, ExpertConflict.organization_id).where(ExpertConflict.expert_id.in_(ids))
    ):
        conflicts.setdefault(expert_id, set()).add(str(org_id))
    engaged = engaged_counts(ids)
    out = {}
    for pid, org_id, region, disciplines, modes, capacity, available, user_status in profiles:
        active = user_status is None or user_status == AccountStatus.ACTIVE
        out[str(pid)] = ExpertAttributes(
            organization=str(org_id) if org_id else "",
            region=region or "",
            discipline_codes=tuple(disciplines or ()),
            cooperation_modes=tuple(modes or ()),
            capacity=capacity,
            engaged=engaged.get(pid, 0),
            available=bool(available) and active,
            declared_conflicts=frozenset(conflicts.get(pid, ())),
        )
    return out
