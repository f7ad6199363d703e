"""An expert as a set of items: one per achievement, one for the profile text."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

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


class ListAsArray:
    """A numpy copy of an append-only per-item list (``covered``, ``item_lang``): extended by
    what was appended since the last call, rebuilt when the list object is replaced."""

    def __init__(self, dtype, convert: Callable | None = None) -> None:
        self.dtype, self.convert = dtype, convert
        self._state: tuple[list | None, np.ndarray] = (None, np.zeros(0, dtype=dtype))

    def __call__(self, values: list) -> np.ndarray:
        seen, array = self._state
        done = len(array) if seen is values and len(array) <= len(values) else 0
        if seen is not values or done != len(values):
            tail = values[done:]
            tail = np.fromiter(map(self.convert, tail) if self.convert else tail, dtype=self.dtype, count=len(tail))
            array = np.concatenate([array, tail]) if done else tail
            self._state = (values, array)
        return array


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
