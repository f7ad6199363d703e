"""Server-rendered bar charts: bar lengths computed here, drawn as SVG ``rect`` widths.

No JavaScript and no inline ``style`` (the Content-Security-Policy forbids both); the
template only copies the percentages below into SVG ``width`` attributes.
"""

from __future__ import annotations


def percent(value: int, largest: int) -> float:
    """``value`` as a share of ``largest`` in percent, one decimal; a non-zero value is never
    drawn thinner than half a percent, so it stays visible next to a large one."""
    if largest <= 0 or value <= 0:
        return 0.0
    return max(0.5, round(100.0 * value / largest, 1))


def funnel_bars(overall: dict[str, int], stages: list[str], labels: dict) -> list[dict]:
    """One bar per stage, scaled to the largest stage (matches can outnumber needs)."""
    largest = max((overall.get(stage, 0) for stage in stages), default=0)
    return [
        {"stage": stage, "label": labels[stage], "value": overall.get(stage, 0),
         "width": percent(overall.get(stage, 0), largest)}
        for stage in stages
    ]


def breakdown_bars(rows: list[dict]) -> list[dict]:
    """Per group: needs posted (the full bar) with needs connected drawn over it."""
    largest = max((row["needs_posted"] for row in rows), default=0)
    return [
        {"label": row["label"], "posted": row["needs_posted"], "matched": row["needs_connected"],
         "posted_width": percent(row["needs_posted"], largest),
         "matched_width": percent(row["needs_connected"], largest)}
        for row in rows
    ]
