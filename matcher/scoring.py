"""Expert-level aggregation, per-query normalisation and structured features."""

from __future__ import annotations

from datetime import date

from .records import ExpertAttributes, NeedRecord
from .taxonomy import Taxonomy

AGGREGATIONS = ("topk", "max", "mean")


def aggregate(values: list[float], method: str, k: int) -> float:
    """An expert's score from the scores of their items."""
    if not values:
        return 0.0
    if method == "max":
        return max(values)
    if method == "mean":
        return sum(values) / len(values)
    if method == "topk":
        best = sorted(values, reverse=True)[: max(1, k)]
        return sum(best) / len(best)
    raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {method!r}")


def normalise_max(scores: dict[str, float]) -> dict[str, float]:
    top = max(scores.values(), default=0.0)
    if top <= 0:
        return {key: 0.0 for key in scores}
    return {key: value / top for key, value in scores.items()}


def normalise_minmax(scores: dict[str, float]) -> dict[str, float]:
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    if high - low < 1e-6:
        return {key: (1.0 if high > 0 else 0.0) for key in scores}
    return {key: (value - low) / (high - low) for key, value in scores.items()}


def region_fit(taxonomy: Taxonomy, need_region: str, expert_region: str) -> float:
    """1 in the same city, 0.5 in the same province, else 0."""
    if not need_region or not expert_region:
        return 0.0
    province_need, province_expert = taxonomy.province_of(need_region), taxonomy.province_of(expert_region)
    if province_need is None or province_need != province_expert:
        return 0.0
    city_need, city_expert = taxonomy.city_of(need_region), taxonomy.city_of(expert_region)
    if city_need and city_need == city_expert:
        return 1.0
    return 0.5


def mode_fit(need_modes: tuple[str, ...], expert_modes: tuple[str, ...]) -> float:
    """Share of the need's cooperation modes the expert accepts (1 when either side is open)."""
    if not need_modes or not expert_modes:
        return 1.0
    return len(set(need_modes) & set(expert_modes)) / len(set(need_modes))


def capacity_fit(attrs: ExpertAttributes) -> float:
    remaining = attrs.remaining_capacity
    if remaining is None:
        return 0.5
    return 1.0 if remaining > 0 else 0.0


def recency_fit(latest_year: int | None, full_years: int, zero_years: int, today: date | None = None) -> float:
    if latest_year is None:
        return 0.0
    age = (today or date.today()).year - latest_year
    if age <= full_years:
        return 1.0
    if age >= zero_years:
        return 0.0
    return 1.0 - (age - full_years) / (zero_years - full_years)


def features(taxonomy: Taxonomy, need: NeedRecord, attrs: ExpertAttributes, latest_year: int | None,
             full_years: int, zero_years: int) -> dict[str, float]:
    return {
        "discipline": taxonomy.discipline_fit(list(need.industry_codes), list(attrs.discipline_codes)),
        "region": region_fit(taxonomy, need.region, attrs.region),
        "cooperation_mode": mode_fit(need.cooperation_modes, attrs.cooperation_modes),
        "capacity": capacity_fit(attrs),
        "recency": recency_fit(latest_year, full_years, zero_years),
    }


def hard_constraints(need: NeedRecord, attrs: ExpertAttributes) -> list[str]:
    """Reasons this expert must not be suggested for this need (empty: allowed)."""
    reasons = []
    if need.organization and attrs.organization and need.organization == attrs.organization:
        reasons.append("conflict_same_organization")
    if need.organization and need.organization in attrs.declared_conflicts:
        reasons.append("conflict_declared")
    if need.cooperation_modes and attrs.cooperation_modes and not set(need.cooperation_modes) & set(attrs.cooperation_modes):
        reasons.append("cooperation_mode_not_accepted")
    if not attrs.available:
        reasons.append("paused")
    return reasons
