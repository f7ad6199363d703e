"""Expert profiles and achievements: the expert keeps them, coordinators read them."""

from __future__ import annotations

from typing import Any

from models import Achievement, AchievementKind, ExpertProfile, Role, User, db, write_transaction

from .errors import NotFound, PermissionDenied, ValidationError
from .validation import Cleaner

PROFILE_FIELDS = (
    "name",
    "title",
    "region",
    "discipline_codes",
    "research_areas",
    "keywords",
    "summary",
    "cooperation_modes",
    "capacity",
    "available",
    "phone",
    "email",
    "wechat",
)


def clean_profile(data: dict[str, Any], *, partial: bool = True) -> dict[str, Any]:
    cleaner = Cleaner(data)
    checks = {
        "name": lambda: cleaner.text("name", max_len=100, required=True),
        "title": lambda: cleaner.text("title", max_len=100),
        "region": lambda: cleaner.text("region", max_len=100),
        "discipline_codes": lambda: cleaner.codes("discipline_codes", kind="discipline", max_items=6),
        "research_areas": lambda: cleaner.string_list("research_areas", max_items=20, max_len=60),
        "keywords": lambda: cleaner.string_list("keywords", max_items=40, max_len=40),
        "summary": lambda: cleaner.text("summary", max_len=5000, multiline=True),
        "cooperation_modes": lambda: cleaner.modes("cooperation_modes"),
        "capacity": lambda: cleaner.integer("capacity", minimum=0, maximum=50, required=True),
        "available": lambda: cleaner.boolean("available"),
        "phone": lambda: cleaner.text("phone", max_len=40),
        "email": lambda: cleaner.text("email", max_len=200),
        "wechat": lambda: cleaner.text("wechat", max_len=100),
    }
    for field, check in checks.items():
        if not partial or cleaner.present(field):
            check()
    return cleaner.finish("profile")


def clean_achievement(data: dict[str, Any], *, partial: bool = False) -> dict[str, Any]:
    cleaner = Cleaner(data)
    if not partial or cleaner.present("kind"):
        kind = data.get("kind")
        allowed = [k.value for k in AchievementKind]
        if kind not in allowed:
            cleaner.fail("kind", f"must be one of {', '.join(allowed)}")
        else:
            cleaner.clean["kind"] = AchievementKind(kind)
    if not partial or cleaner.present("title"):
        cleaner.text("title", max_len=300, required=True)
    if not partial or cleaner.present("abstract"):
        cleaner.text("abstract", max_len=5000, multiline=True)
    if not partial or cleaner.present("year"):
        cleaner.integer("year", minimum=1950, maximum=2100)
    return cleaner.finish("achievement")


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
    if len(profile.achievements) >= 500:
        raise ValidationError("a profile holds at most 500 achievements", fields={"achievements": "at most 500"})
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
    if actor.role in (Role.COORDINATOR, Role.ADMIN):
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
