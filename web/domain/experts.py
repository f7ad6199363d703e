"""Expert profiles and achievements: the expert keeps them, coordinators read them."""

from __future__ import annotations

import re
from typing import Any

from models import Achievement, AchievementKind, ExpertProfile, Role, User, db, write_transaction

from ..access import is_staff
from .errors import N_, NotFound, PermissionDenied, ValidationError
from .fields import ACHIEVEMENT, ACHIEVEMENTS_PER_PROFILE, PROFILE
from .validation import clean_fields

PROFILE_FIELDS = PROFILE.names


def clean_profile(data: dict[str, Any], *, partial: bool = True) -> dict[str, Any]:
    return clean_fields(PROFILE, data, partial=partial).finish("profile")


def clean_achievement(data: dict[str, Any], *, partial: bool = False) -> dict[str, Any]:
    fields = clean_fields(ACHIEVEMENT, data, partial=partial).finish("achievement")
    if "kind" in fields:
        fields["kind"] = AchievementKind(fields["kind"])
    return fields


def own_profile(actor: User) -> ExpertProfile:
    if actor.role != Role.EXPERT or actor.expert_profile is None:
        raise PermissionDenied("only experts keep an expert profile")
    return actor.expert_profile


def update_profile(actor: User, data: dict[str, Any]) -> ExpertProfile:
    profile = own_profile(actor)
    fields = clean_profile({k: v for k, v in data.items() if k in PROFILE_FIELDS})
    with write_transaction():
        for key, value in fields.items():
            setattr(profile, key, value)
    return profile


def add_achievement(actor: User, data: dict[str, Any]) -> Achievement:
    profile = own_profile(actor)
    fields = clean_achievement(data)
    if len(profile.achievements) >= ACHIEVEMENTS_PER_PROFILE:
        raise ValidationError(N_("a profile holds at most %(max)s achievements", max=ACHIEVEMENTS_PER_PROFILE),
                              fields={"achievements": N_("at most %(max)s", max=ACHIEVEMENTS_PER_PROFILE)})
    with write_transaction() as session:
        achievement = Achievement(expert_id=profile.id, **fields)
        session.add(achievement)
    return achievement


def _own_achievement(actor: User, achievement_id: int) -> Achievement:
    profile = own_profile(actor)
    achievement = db.session.get(Achievement, achievement_id)
    if achievement is None or achievement.expert_id != profile.id:
        raise NotFound(f"achievement {achievement_id} does not exist")
    return achievement


def update_achievement(actor: User, achievement_id: int, data: dict[str, Any]) -> Achievement:
    achievement = _own_achievement(actor, achievement_id)
    fields = clean_achievement(data, partial=True)
    with write_transaction():
        for key, value in fields.items():
            setattr(achievement, key, value)
    return achievement


def delete_achievement(actor: User, achievement_id: int) -> None:
    achievement = _own_achievement(actor, achievement_id)
    with write_transaction() as session:
        session.delete(achievement)


def expert_for(actor: User, expert_id: int) -> ExpertProfile:
    """Coordinators read every profile; an expert reads their own; enterprises read the
    experts proposed to them (contact fields are filtered by the caller's view rules)."""
    profile = db.session.get(ExpertProfile, expert_id)
    if profile is None:
        raise NotFound(f"expert {expert_id} does not exist")
    if is_staff(actor):
        return profile
    if actor.role == Role.EXPERT and profile.user_id == actor.id:
        return profile
    if actor.role == Role.ENTERPRISE:
        from models import Match, Need

        linked = db.session.scalar(
            db.select(Match.id)
            .join(Need, Need.id == Match.need_id)
            .where(Match.expert_id == expert_id, Need.organization_id == actor.organization_id)
        )
        if linked is not None:
            return profile
    raise NotFound(f"expert {expert_id} does not exist")


_YEAR = re.compile(r"(?:^|[\s(（\[,，.。;；/-])((?:19[5-9]|20[0-9])\d)(?=$|[\s)）\],，.。;；/-])")
_KIND_HINTS = (
    ("patent", ("专利", "patent", "zl")),
    ("standard", ("标准", "standard", "gb/t", "ny/t", "db")),
    ("project", ("项目", "课题", "基金", "project", "grant")),
    ("award", ("奖", "award", "prize")),
)


def parse_publication_list(text: str) -> list[dict[str, Any]]:
    """One achievement per non-empty line, as pasted from a CV: the year is taken from a
    four-digit year in the line, the kind guessed from words like 专利/标准/项目/奖."""
    items = []
    for raw in (text or "").splitlines():
        line = " ".join(raw.strip().lstrip("-*•·0123456789.、)） ").split())
        if not line:
            continue
        year_match = _YEAR.search(line)
        lowered = line.lower()
        kind = next((k for k, hints in _KIND_HINTS if any(h in lowered for h in hints)), "paper")
        items.append({"kind": kind, "title": line, "abstract": "", "year": int(year_match.group(1)) if year_match else None})
    return items


def add_achievements_bulk(actor: User, text: str) -> list[Achievement]:
    """All lines or none: every line is validated before anything is stored."""
    profile = own_profile(actor)
    parsed = parse_publication_list(text)
    if not parsed:
        raise ValidationError(N_("paste at least one line"), fields={"publications": N_("empty")})
    if len(parsed) > 200:
        raise ValidationError(N_("at most 200 lines at once (got %(got)s)", got=len(parsed)), fields={"publications": N_("too many lines")})
    if len(profile.achievements) + len(parsed) > ACHIEVEMENTS_PER_PROFILE:
        raise ValidationError(N_("a profile holds at most %(max)s achievements", max=ACHIEVEMENTS_PER_PROFILE),
                              fields={"publications": N_("too many lines")})
    cleaned = []
    for number, item in enumerate(parsed, start=1):
        try:
            cleaned.append(clean_achievement(item))
        except ValidationError as exc:
            raise ValidationError(N_("line %(line)s: %(problem)s", line=number, problem=exc.message),
                                  fields={"publications": N_("line %(line)s", line=number)}) from None
    with write_transaction() as session:
        created = [Achievement(expert_id=profile.id, **fields) for fields in cleaned]
        session.add_all(created)
    return created
