"""Plain records the engine works on; the service builds them from the database, the batch
CLI from JSON Lines. Ids are strings in the engine."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class AchievementRecord:
    id: str
    title: str
    abstract: str = ""
    kind: str = "paper"
    year: int | None = None


@dataclass(frozen=True)
class ExpertRecord:
    id: str
    name: str = ""
    title: str = ""
    summary: str = ""
    research_areas: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    achievements: tuple[AchievementRecord, ...] = ()


@dataclass(frozen=True)
class NeedRecord:
    id: str
    title: str
    description: str = ""
    industry_codes: tuple[str, ...] = ()
    region: str = ""
    organization: str = ""
    cooperation_modes: tuple[str, ...] = ()

    def text(self) -> str:
        return f"{self.title}\n{self.description}".strip()


@dataclass
class ExpertAttributes:
    """Live facts about an expert used by ranking and constraints (from the database, not the
    index, because they change with every match)."""

    organization: str = ""
    region: str = ""
    discipline_codes: tuple[str, ...] = ()
    cooperation_modes: tuple[str, ...] = ()  # empty: accepts every mode
    capacity: int | None = None  # None: unknown (batch scoring)
    engaged: int = 0
    available: bool = True
    declared_conflicts: frozenset[str] = field(default_factory=frozenset)
    latest_year: int | None = None

    @property
    def remaining_capacity(self) -> int | None:
        return None if self.capacity is None else max(0, self.capacity - self.engaged)
