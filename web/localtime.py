"""The platform's time zone (``MATCHER_TIMEZONE``): datetimes are stored in UTC, and entered,
shown and grouped by day or month in local time.

Every conversion between the two goes through this module, so a page, an export and the
dashboard never disagree about which day a moment belongs to.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from flask import current_app

from .config import DEFAULT_TIMEZONE, check_timezone


@lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return check_timezone(name)


def platform_zone() -> ZoneInfo:
    return _zone(current_app.config.get("MATCHER_TIMEZONE") or DEFAULT_TIMEZONE)


def as_utc(value: datetime | str) -> datetime:
    """A stored moment as an aware UTC datetime; naive values and ISO strings without an
    offset are UTC (that is how the database and the presenters hold them)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def to_local(value: datetime | str | None) -> datetime | None:
    """The moment in the platform's time zone (None stays None)."""
    if value is None or value == "":
        return None
    return as_utc(value).astimezone(platform_zone())


def from_local(value: datetime) -> datetime:
    """A wall-clock time entered by a user (naive: in the platform's zone) as a UTC moment."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=platform_zone())
    return value.astimezone(UTC)


def day_start(day: date) -> datetime:
    """The UTC moment at which ``day`` begins in the platform's time zone."""
    return from_local(datetime.combine(day, time.min))


def day_end(day: date) -> datetime:
    """The UTC moment at which ``day`` ends (the next local day begins); exclusive bound."""
    return day_start(day + timedelta(days=1))


def local_today() -> date:
    return datetime.now(UTC).astimezone(platform_zone()).date()


def utc_offset(value: datetime | str | None = None) -> str:
    """``UTC+08:00``: the platform zone's offset at that moment (now by default)."""
    moment = to_local(value) if value else datetime.now(UTC).astimezone(platform_zone())
    offset = moment.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def zone_label(value: datetime | str | None = None) -> str:
    """``Asia/Shanghai, UTC+08:00``: how the schedule names its time zone."""
    return f"{platform_zone().key}, {utc_offset(value)}"
