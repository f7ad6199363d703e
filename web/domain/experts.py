"""Expert profiles and achievements: the expert keeps them, coordinators read them."""

from __future__ import annotations

from typing import Any

from models import Achievement, AchievementKind, ExpertProfile, Role, User, db, write_transaction

from ..access import is_staff
from .citations import CitationRow, parse_citations
from .errors import N_, NotFound, PermissionDenied, Problem, ValidationError
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


MAX_PASTED_LINES = 200  # the refusal message says 200


def preview_publication_list(actor: User, text: str) -> list[CitationRow]:
    """The pasted lines read into rows for the professor to check; nothing is stored. A row
    the field spec would refuse (a title over 300 characters, a year before 1950) keeps its
    values and carries the reason as its problem, like a line that could not be read."""
    profile = own_profile(actor)
    rows = parse_citations(text)
    if not rows:
        raise ValidationError(N_("paste at least one line"), fields={"publications": N_("empty")})
    if len(rows) > MAX_PASTED_LINES:
        raise ValidationError(N_("at most 200 lines at once (got %(got)s)", got=len(rows)),
                              fields={"publications": N_("too many lines")})
    _check_room(profile, 1)
    for row in rows:
        if row.read:
            try:
                clean_achievement(row.fields())
            except ValidationError as exc:
                row.problem = _first_problem(exc)
    return rows


def add_reviewed_achievements(actor: User, rows: list[dict[str, Any]]) -> list[Achievement]:
    """Store the rows the professor kept (``include``), as edited in the preview: all or none.
    Each row is ``{"line", "include", "kind", "title", "year", "authors", "venue"}``; a refused
    row is named by its line in ``fields`` (``line-3``) with the problem."""
    profile = own_profile(actor)
    chosen = [row for row in rows if row.get("include")]
    if not chosen:
        raise ValidationError(N_("tick at least one row to add"), fields={"publications": N_("no row chosen")})
    _check_room(profile, len(chosen))
    cleaned, problems = [], {}
    for row in chosen:
        data = {key: row.get(key) for key in ("kind", "title", "year", "authors", "venue")}
        try:
            cleaned.append(clean_achievement({**data, "abstract": ""}))
        except ValidationError as exc:
            problems[f"line-{row.get('line')}"] = _first_problem(exc)
    if problems:
        lines = ", ".join(key.removeprefix("line-") for key in problems)
        raise ValidationError(N_("nothing was added: fix or untick line(s) %(lines)s", lines=lines), fields=problems)
    with write_transaction() as session:
        created = [Achievement(expert_id=profile.id, **fields) for fields in cleaned]
        session.add_all(created)
    return created


def _check_room(profile: ExpertProfile, adding: int) -> None:
    if len(profile.achievements) + adding > ACHIEVEMENTS_PER_PROFILE:
        raise ValidationError(N_("a profile holds at most %(max)s achievements", max=ACHIEVEMENTS_PER_PROFILE),
                              fields={"publications": N_("too many lines")})


def _first_problem(exc: ValidationError) -> Problem | str:
    """The first field problem of ``exc``, named: "Title must be at most 300 characters"."""
    if not exc.fields:
        return exc.message
    name, problem = next(iter(exc.fields.items()))
    return N_("%(field)s %(problem)s", field=name, problem=problem)
