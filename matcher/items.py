"""An expert as a set of items: one per achievement, one for the profile text."""

from __future__ import annotations

from dataclasses import dataclass

from .records import ExpertRecord


@dataclass
class ItemText:
    kind: str  # "profile" or an achievement kind
    ref: str  # achievement id, "" for the profile
    title: str
    year: int | None
    fields: dict[str, str]  # title / keywords / body
    dense_text: str


@dataclass
class PreparedItem:
    expert_id: str
    item: ItemText
    tokens: list[str]


def expert_item_texts(expert: ExpertRecord) -> list[ItemText]:
    items: list[ItemText] = []
    areas = " ; ".join(expert.research_areas)
    keywords = " ; ".join(expert.keywords)
    if areas or keywords or expert.summary:
        items.append(
            ItemText(
                kind="profile",
                ref="",
                title=areas or keywords or expert.summary[:60],
                year=None,
                fields={"title": "", "keywords": f"{areas} ; {keywords}", "body": expert.summary},
                dense_text=". ".join(p for p in (areas, keywords, expert.summary) if p),
            )
        )
    for achievement in expert.achievements:
        items.append(
            ItemText(
                kind=achievement.kind or "paper",
                ref=achievement.id,
                title=achievement.title,
                year=achievement.year,
                fields={"title": achievement.title, "keywords": "", "body": achievement.abstract},
                dense_text=f"{achievement.title}. {achievement.abstract}".strip(". "),
            )
        )
    return items
