"""Outcome statistics for coordinators: the matchmaking funnel and the platform's totals.

The funnel is a *cohort* view: it takes the needs posted in a period (by ``Need.created_at``,
days in the platform's time zone ``MATCHER_TIMEZONE``, both ends inclusive; drafts are not
posted and never count) and follows them through the stages, wherever those stages happened in
time. **Every stage counts needs**: posted → with at least one proposal → with a match that
reached ``connected`` → ``intent`` → ``contract`` → ``completed``. A need counts for a stage if
one of its matches ever reached it — by its current status, its ``connected_at`` stamp or a
``MatchEvent`` row — and a match that reached a later stage counts for every earlier one, so
each stage is a subset of the one before and the conversion rates between them are shares. A
contract or completion one side recorded counts only once confirmed (its pending state ranks
as the stage before; the lifecycle table's ``funnel_rank``). Contract values are the amounts of
confirmed contracts (``match_outcomes`` in state ``counted``), in 万元. Medians: days from
posting to the first proposal, and to the first connection, over the needs that got there.

Per-need figures come from SQL (one grouped query for the stages and times, one for the
values); grouping by month, industry and region reads the taxonomy in Python. Everything here
returns plain dicts, lists, numbers and strings, so the HTML dashboard, the CSV export and
``GET /api/v1/stats`` share one shape. Functions take explicit arguments and never look at the
request.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from matcher.taxonomy import load_taxonomy
from models import AccountStatus, ExpertProfile, Match, MatchEvent, MatchOutcome, Need, NeedStatus, User, db, utcnow
from models.outcomes import COUNTED

from ..localtime import day_end, day_start, to_local
from .errors import N_, ValidationError
from .lifecycle import AWAITING_ANSWER, FUNNEL_RANK, OUTCOME_ORDER

STAGES = ("needs_posted", "needs_proposed", "needs_connected", "needs_intent", "needs_contract", "needs_completed")
UNIT = "needs"
MEDIANS = ("days_to_first_proposal", "days_to_connection")
BREAKDOWNS = ("month", "industry", "region")
UNCLASSIFIED = "unclassified"  # industry group of a need without an industry code
UNKNOWN = "unknown"  # region group of a need without a region
AWAITING_DAYS = 7

# The match stages in order (ranks from the lifecycle table): a need whose best match reached
# rank r counts for every stage of rank <= r.
_MATCH_STAGES = dict(zip(STAGES[2:], (FUNNEL_RANK[status] for status in OUTCOME_ORDER), strict=True))
_MAX_DATE_TEXT = 32
_DAY = 86_400


def parse_period(start_text: str | None, end_text: str | None) -> tuple[date | None, date | None]:
    """``("2024-01-01", "")`` -> ``(date(2024, 1, 1), None)``. Blank means unbounded.

    Raises :class:`ValidationError` with ``fields`` ``from`` / ``to`` for a value that is not
    an ISO date (``YYYY-MM-DD``) or a start after the end.
    """
    errors: dict[str, str] = {}
    values: list[date | None] = []
    for field, text in (("from", start_text), ("to", end_text)):
        text = (text or "").strip()
        if not text:
            values.append(None)
            continue
        try:
            if len(text) > _MAX_DATE_TEXT:
                raise ValueError(text)
            values.append(date.fromisoformat(text))
        except ValueError:
            errors[field] = N_("must be a date as YYYY-MM-DD")
            values.append(None)
    start, end = values
    if not errors and start and end and start > end:
        errors["to"] = N_("must not be before the start date")
    if errors:
        raise ValidationError("invalid period: " + "; ".join(f"{k} {v}" for k, v in errors.items()), fields=errors)
    return start, end


def funnel(start: date | None = None, end: date | None = None, *, locale: str = "zh") -> dict:
    """The funnel of the needs posted between ``start`` and ``end`` (inclusive local days).

    Returns::

        {
          "period": {"start": "2024-01-01" | None, "end": "2024-06-30" | None},
          "unit": "needs",
          "stages": ["needs_posted", "needs_proposed", "needs_connected",
                     "needs_intent", "needs_contract", "needs_completed"],
          "overall": {<stage>: int, ..., "contract_value_wan": 125.5,
                      "days_to_first_proposal": 3.0 | None, "days_to_connection": 9.5 | None,
                      "conversion": {"needs_proposed": 0.5 | None, ...}},
          "by_month":    [{"key": "2024-01", "label": "2024-01", <the same figures>}, ...],
          "by_industry": [{"key": "36", "label": "汽车制造业", ...}, ...],
          "by_region":   [{"key": "广东省", "label": "广东省", ...}, ...],
        }

    ``conversion[stage]``: the share of the previous stage's needs that reached ``stage``
    (None when the previous stage is empty). Months are ``YYYY-MM`` of the need's
    ``created_at`` in the platform's time zone, chronological, with empty months between the
    first and the last filled in. Industry groups by the need's first industry code (label: its
    name in the taxonomy, in ``locale``), ``"unclassified"`` when it has none. Region groups by
    province (``taxonomy.province_of``); a region the taxonomy does not recognise is its own
    group under its text as written; ``"unknown"`` when the need has no region. Industry and
    region rows are sorted by needs posted (descending), with unclassified/unknown last.
    """
    need_filter = _need_filter(start, end)
    needs = db.session.execute(_per_need_query(need_filter)).all()
    values = dict(db.session.execute(_contract_values_query(need_filter)).all())

    taxonomy = load_taxonomy()
    groups: dict[str, dict[str, _Group]] = {name: {} for name in BREAKDOWNS}
    labels: dict[str, dict[str, str]] = {name: {} for name in BREAKDOWNS}
    overall = _Group()
    for need in needs:
        figures = _need_figures(need, values.get(need.id, 0))
        overall.add(figures)
        for breakdown, (key, label) in (
            ("month", _month_group(need.created_at)),
            ("industry", _industry_group(taxonomy, need.industry_codes, locale)),
            ("region", _region_group(taxonomy, need.region, locale)),
        ):
            groups[breakdown].setdefault(key, _Group()).add(figures)
            labels[breakdown][key] = label

    _fill_month_gaps(groups["month"], labels["month"])
    return {
        "period": {"start": start.isoformat() if start else None, "end": end.isoformat() if end else None},
        "unit": UNIT,
        "stages": list(STAGES),
        "overall": overall.figures(),
        "by_month": _rows(groups["month"], labels["month"], key=lambda row: row["key"]),
        "by_industry": _rows(groups["industry"], labels["industry"], key=_by_size(UNCLASSIFIED)),
        "by_region": _rows(groups["region"], labels["region"], key=_by_size(UNKNOWN)),
    }


def summary(now: datetime | None = None, *, awaiting_days: int = AWAITING_DAYS) -> dict:
    """Platform totals right now, in one query.

    Returns ``{"open_needs": int, "experts": int, "active_experts": int,
    "pending_accounts": int, "matches_awaiting_answer": int, "awaiting_days": int}``:
    open needs (status ``open``), expert profiles, expert profiles marked available, accounts
    waiting for approval, and proposals still awaiting an answer (``proposed``,
    ``expert_accepted``, ``enterprise_accepted``) untouched for more than ``awaiting_days``.
    """
    cutoff = (now or utcnow()) - timedelta(days=awaiting_days)

    def count(model, *where) -> sa.ScalarSelect:
        return sa.select(sa.func.count()).select_from(model).where(*where).scalar_subquery()

    row = db.session.execute(sa.select(
        count(Need, Need.status == NeedStatus.OPEN).label("open_needs"),
        count(ExpertProfile).label("experts"),
        count(ExpertProfile, ExpertProfile.available.is_(True)).label("active_experts"),
        count(User, User.status == AccountStatus.PENDING).label("pending_accounts"),
        count(Match, Match.status.in_(AWAITING_ANSWER), Match.updated_at < cutoff).label("matches_awaiting_answer"),
    )).one()
    totals = {key: int(value or 0) for key, value in row._mapping.items()}
    totals["awaiting_days"] = awaiting_days
    return totals


def breakdown_rows(report: dict, breakdown: str) -> list[dict]:
    """The rows of one breakdown of a :func:`funnel` report (``month``, ``industry``, ``region``)."""
    if breakdown not in BREAKDOWNS:
        raise ValidationError(f"breakdown must be one of {', '.join(BREAKDOWNS)}", fields={"breakdown": "unknown breakdown"})
    return report[f"by_{breakdown}"]


def csv_cell(value) -> str | int:
    """A cell a spreadsheet will not run as a formula: text starting with ``= + - @``, a tab
    or a carriage return gets a leading apostrophe. Numbers stay numbers."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        text = "" if value is None else str(value)
        return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
    return value


def to_csv(header: list[str], rows: list[list]) -> str:
    """CSV text with a UTF-8 byte-order mark (Excel opens Chinese text correctly) and CRLF
    line ends; every cell passes through :func:`csv_cell`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([csv_cell(cell) for cell in header])
    for row in rows:
        writer.writerow([csv_cell(cell) for cell in row])
    return "\ufeff" + buffer.getvalue()


# --- internals ---------------------------------------------------------------------------


def _need_filter(start: date | None, end: date | None) -> list:
    where = [Need.status != NeedStatus.DRAFT]
    if start is not None and start > date.min:
        where.append(Need.created_at >= day_start(start))
    if end is not None and end < date.max:
        where.append(Need.created_at < day_end(end))
    return where


def _per_need_query(need_filter: list) -> sa.Select:
    """One row per posted need: its posting time, grouping fields, when it was first proposed
    and first connected, and the highest funnel rank any of its matches reached.

    A match's rank is the maximum over three witnesses: its current status, its
    ``connected_at`` stamp, and its MatchEvent rows (so a match closed after a contract still
    counts as a contract; a record rejected back to intent never reached contract).
    """
    status_rank = sa.case(*[(Match.status == status, rank) for status, rank in FUNNEL_RANK.items()], else_=0)
    event_rank = sa.case(*[(MatchEvent.to_status == status.value, rank) for status, rank in FUNNEL_RANK.items()], else_=0)
    witnesses = sa.union_all(
        sa.select(Match.id.label("match_id"), status_rank.label("rank")),
        sa.select(Match.id.label("match_id"), sa.literal(1).label("rank")).where(Match.connected_at.is_not(None)),
        sa.select(MatchEvent.match_id.label("match_id"), event_rank.label("rank"))
        .where(MatchEvent.to_status.in_([status.value for status in FUNNEL_RANK])),
    ).subquery("witnesses")
    reached = (sa.select(witnesses.c.match_id, sa.func.max(witnesses.c.rank).label("rank"))
               .group_by(witnesses.c.match_id).subquery("reached"))
    return (
        sa.select(Need.id, Need.created_at, Need.industry_codes, Need.region,
                  sa.func.count(Match.id).label("matches"), sa.func.min(Match.created_at).label("first_proposed"),
                  sa.func.min(Match.connected_at).label("first_connected"),
                  sa.func.coalesce(sa.func.max(reached.c.rank), 0).label("rank"))
        .select_from(Need)
        .outerjoin(Match, Match.need_id == Need.id)
        .outerjoin(reached, reached.c.match_id == Match.id)
        .where(*need_filter)
        .group_by(Need.id)  # the other columns of needs depend on its key (PostgreSQL cannot group JSON)
    )


def _contract_values_query(need_filter: list) -> sa.Select:
    """Per need: the sum, in yuan, of its confirmed contracts' amounts."""
    return (sa.select(Match.need_id, sa.func.sum(MatchOutcome.amount_yuan))
            .join(Match, Match.id == MatchOutcome.match_id).join(Need, Need.id == Match.need_id)
            .where(*need_filter, MatchOutcome.step == OUTCOME_ORDER[2].value, MatchOutcome.state == COUNTED)
            .group_by(Match.need_id))


def _days(since: datetime, until: datetime | None) -> float | None:
    if until is None:
        return None
    since, until = to_local(since), to_local(until)
    return max(0.0, (until - since).total_seconds() / _DAY)


def _need_figures(need, value_yuan: int) -> dict:
    counts = Counter(needs_posted=1)
    if need.matches:
        counts["needs_proposed"] = 1
    for stage, rank in _MATCH_STAGES.items():
        if need.rank >= rank:
            counts[stage] = 1
    return {"counts": counts, "value": int(value_yuan or 0),
            "days_to_first_proposal": _days(need.created_at, need.first_proposed),
            "days_to_connection": _days(need.created_at, need.first_connected)}


class _Group:
    """The figures of a set of needs: stage counts, contract value, the times to take medians of."""

    def __init__(self) -> None:
        self.counts: Counter = Counter()
        self.value = 0
        self.times: dict[str, list[float]] = {name: [] for name in MEDIANS}

    def add(self, figures: dict) -> None:
        self.counts.update(figures["counts"])
        self.value += figures["value"]
        for name in MEDIANS:
            if figures[name] is not None:
                self.times[name].append(figures[name])

    def figures(self) -> dict:
        stages = {stage: int(self.counts.get(stage, 0)) for stage in STAGES}
        conversion = {later: (round(stages[later] / stages[earlier], 4) if stages[earlier] else None)
                      for earlier, later in zip(STAGES, STAGES[1:], strict=False)}
        medians = {name: (round(statistics.median(times), 1) if times else None) for name, times in self.times.items()}
        return {**stages, "contract_value_wan": _wan(self.value), **medians, "conversion": conversion}


def _wan(yuan: int) -> float | int:
    value = round(yuan / 10_000, 4)
    return int(value) if value == int(value) else value


def _month_group(created_at: datetime) -> tuple[str, str]:
    key = to_local(created_at).strftime("%Y-%m")
    return key, key


def _industry_group(taxonomy, codes, locale: str) -> tuple[str, str]:
    codes = [code for code in (codes or []) if isinstance(code, str) and code.strip()]
    if not codes:
        return UNCLASSIFIED, UNCLASSIFIED
    code = codes[0].strip()
    term = taxonomy.industries.get(code)
    return code, term.name(locale) if term else code


def _region_group(taxonomy, region: str | None, locale: str) -> tuple[str, str]:
    text = " ".join((region or "").split())
    if not text:
        return UNKNOWN, UNKNOWN
    province = taxonomy.province_of(text)
    if province is None:
        return text, text
    term = taxonomy.provinces[province]
    return province, term.name(locale) or province


def _fill_month_gaps(groups: dict[str, _Group], labels: dict[str, str]) -> None:
    if not groups:
        return
    first, last = min(groups), max(groups)
    year, month = int(first[:4]), int(first[5:7])
    while (key := f"{year:04d}-{month:02d}") < last:
        groups.setdefault(key, _Group())
        labels.setdefault(key, key)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def _rows(groups: dict[str, _Group], labels: dict[str, str], *, key) -> list[dict]:
    rows = [{"key": k, "label": labels[k], **group.figures()} for k, group in groups.items()]
    return sorted(rows, key=key)


def _by_size(last_key: str):
    def order(row: dict):
        return (row["key"] == last_key, -row["needs_posted"], row["label"])

    return order
