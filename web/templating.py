"""Template filters."""

from __future__ import annotations

import re

from markupsafe import Markup, escape


def highlight(text: str, terms: list[str], min_len: int = 1) -> Markup:
    """``text`` escaped, with each matched term wrapped in <mark> (longest terms first); terms
    shorter than ``min_len`` characters are not marked (single characters such as 出 or 人
    match everywhere and only add noise to a whole need's text)."""
    words = sorted({t for t in terms if t and len(t) >= max(1, min_len)}, key=len, reverse=True)
    if not text:
        return Markup("")
    if not words:
        return escape(text)
    pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)
    parts, last = [], 0
    for match in pattern.finditer(text):
        parts.append(escape(text[last : match.start()]))
        parts.append(Markup("<mark>") + escape(match.group(0)) + Markup("</mark>"))
        last = match.end()
    parts.append(escape(text[last:]))
    return Markup("").join(parts)


def industry_names(codes) -> str:
    """``["04", "13"]`` → "04 渔业, 13 农副食品加工业" in the current language."""
    from flask_babel import get_locale

    from matcher.taxonomy import load_taxonomy

    taxonomy = load_taxonomy()
    locale = str(get_locale())
    names = []
    for code in codes or []:
        term = taxonomy.industries.get(code)
        names.append(f"{code} {term.name(locale)}" if term else code)
    return ", ".join(names)


def localtime(value, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored UTC moment (datetime or ISO string) as wall-clock text in the platform's time
    zone (``MATCHER_TIMEZONE``); empty for None."""
    from .localtime import to_local

    moment = to_local(value)
    return moment.strftime(fmt) if moment else ""


def localdate(value) -> str:
    """The platform-zone day of a stored moment, ``YYYY-MM-DD``."""
    return localtime(value, "%Y-%m-%d")


def init_app(app) -> None:
    from .config import check_timezone
    from .localtime import utc_offset, zone_label

    check_timezone(app.config.get("MATCHER_TIMEZONE", ""))  # also when tests override the setting
    app.add_template_filter(highlight, "highlight")
    app.add_template_filter(industry_names, "industry_names")
    app.add_template_filter(localtime, "localtime")
    app.add_template_filter(localdate, "localdate")
    app.add_template_global(zone_label, "zone_label")
    app.add_template_global(utc_offset, "utc_offset")
