"""Display names of enumerations, in the translation catalogue (English msgids)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from models import AccountStatus, AchievementKind, CooperationMode, MatchStatus, NeedStatus, OrganizationKind, Role

ROLE = {
    Role.ENTERPRISE: _l("Enterprise"),
    Role.EXPERT: _l("Expert"),
    Role.COORDINATOR: _l("Coordinator"),
    Role.ADMIN: _l("Administrator"),
}
ACCOUNT_STATUS = {
    AccountStatus.PENDING: _l("Pending approval"),
    AccountStatus.ACTIVE: _l("Active"),
    AccountStatus.DISABLED: _l("Disabled"),
}
ORGANIZATION_KIND = {
    OrganizationKind.ENTERPRISE: _l("Enterprise"),
    OrganizationKind.UNIVERSITY: _l("University"),
    OrganizationKind.RESEARCH_INSTITUTE: _l("Research institute"),
    OrganizationKind.HOSPITAL: _l("Hospital"),
    OrganizationKind.OTHER: _l("Other"),
}
NEED_STATUS = {
    NeedStatus.DRAFT: _l("Draft"),
    NeedStatus.OPEN: _l("Open"),
    NeedStatus.MATCHED: _l("Matched"),
    NeedStatus.CLOSED: _l("Closed"),
}
COOPERATION_MODE = {
    CooperationMode.CONSULTING.value: _l("Technical consulting"),
    CooperationMode.DEVELOPMENT.value: _l("Joint development"),
    CooperationMode.TRANSFER.value: _l("Technology transfer"),
    CooperationMode.TRAINING.value: _l("Talent training"),
    CooperationMode.PLATFORM.value: _l("Joint lab / expert workstation"),
}
ACHIEVEMENT_KIND = {
    AchievementKind.PAPER: _l("Paper"),
    AchievementKind.PATENT: _l("Patent"),
    AchievementKind.PROJECT: _l("Project"),
    AchievementKind.AWARD: _l("Award"),
    AchievementKind.STANDARD: _l("Standard"),
}
MATCH_STATUS = {
    MatchStatus.PROPOSED: _l("Proposed"),
    MatchStatus.EXPERT_ACCEPTED: _l("Accepted by expert"),
    MatchStatus.EXPERT_DECLINED: _l("Declined by expert"),
    MatchStatus.ENTERPRISE_ACCEPTED: _l("Accepted by enterprise"),
    MatchStatus.ENTERPRISE_DECLINED: _l("Declined by enterprise"),
    MatchStatus.CONNECTED: _l("Connected"),
    MatchStatus.INTENT: _l("Cooperation intent"),
    MatchStatus.CONTRACT: _l("Contract signed"),
    MatchStatus.COMPLETED: _l("Completed"),
    MatchStatus.CLOSED: _l("Closed"),
    MatchStatus.CONTRACT_BY_EXPERT: _l("Contract recorded by the expert, awaiting confirmation"),
    MatchStatus.CONTRACT_BY_ENTERPRISE: _l("Contract recorded by the enterprise, awaiting confirmation"),
    MatchStatus.COMPLETED_BY_EXPERT: _l("Completion recorded by the expert, awaiting confirmation"),
    MatchStatus.COMPLETED_BY_ENTERPRISE: _l("Completion recorded by the enterprise, awaiting confirmation"),
}


def label(mapping: dict, key) -> str:
    """The display name, or the raw value when a value has no label (never a crash)."""
    value = mapping.get(key)
    if value is None and hasattr(key, "value"):
        value = mapping.get(key.value)
    return str(value) if value is not None else str(getattr(key, "value", key))

REASON = {
    "lexical": _l("Shared terms"),
    "semantic": _l("Similar meaning"),
    "discipline": _l("Discipline fits the industry"),
    "region": _l("Same region"),
    "cooperation_mode": _l("Accepts the cooperation mode"),
    "capacity": _l("Has capacity"),
    "recency": _l("Recent work"),
}
BAND = {
    "strong": _l("Strong match"),
    "medium": _l("Possible match"),
    "weak": _l("Weak match"),
}
FLAG = {
    "full_capacity": _l("Full capacity"),
    "conflict_same_organization": _l("Works for this enterprise"),
    "conflict_declared": _l("Declared a conflict of interest"),
    "cooperation_mode_not_accepted": _l("Does not accept this kind of cooperation"),
    "paused": _l("Not available"),
}

NEED_PROGRESS = {
    "waiting": _l("Waiting for proposals"),
    "in_progress": _l("In progress"),
}


def progress_label(stage) -> str:
    """Where a need stands: a match state's name (the furthest match) or waiting / in progress."""
    return label(MATCH_STATUS, stage) if isinstance(stage, MatchStatus) else label(NEED_PROGRESS, stage)
