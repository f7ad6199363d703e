"""The coordinator's review queue: search, filters, sorting and paging, all in SQL.

A :class:`QueueQuery` is parsed from the query string (so a filtered view can be bookmarked)
and checked parameter by parameter: a bad value is a :class:`ValidationError` naming the
parameter, never a server error. :func:`queue_page` counts and pages in the database — it
never loads every need — on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta

import sqlalchemy as sa

from models import Match, Need, NeedInterest, NeedStatus, Organization, User, db, utcnow

from ..access import is_staff
from .errors import N_, PermissionDenied, Problem, ValidationError
from .validation import normalise_text

PER_PAGE = 25
MAX_PAGE = 100_000
MAX_TEXT = 100
AGES = {  # code -> (older than days, younger than days)
    "new": (None, 7),
    "over7": (7, None),
    "over30": (30, None),
    "over90": (90, None),
}
SORTS = ("oldest", "newest", "deadline", "fewest_proposals", "most_proposals")
PROPOSALS = ("with", "without")
STATES = tuple(s.value for s in NeedStatus) + ("all",)


def industry_codes() -> dict[str, object]:
    from matcher.taxonomy import load_taxonomy

    return {t.code: t for t in load_taxonomy().industry_divisions()}


@dataclass(frozen=True)
class QueueQuery:
    q: str = ""
    industry: str = ""
    region: str = ""
    age: str = ""
    state: str = NeedStatus.OPEN.value
    proposals: str = ""
    interest: str = ""
    sort: str = "oldest"
    page: int = 1

    def args(self, **changes) -> dict[str, str | int]:
        """The query string of this view (defaults left out), with ``changes``."""
        view = replace(self, **changes)
        defaults = QueueQuery()
        return {name: getattr(view, name) for name in ("q", "industry", "region", "age", "state", "proposals", "interest", "sort",
                                                                 "page")
                if getattr(view, name) != getattr(defaults, name)}

    @property
    def filtered(self) -> bool:
        return bool(self.q or self.industry or self.region or self.age or self.proposals or self.interest or self.state != "open")


@dataclass
class QueueRow:
    need: Need
    organization: str
    proposals: int
    interests: int = 0


@dataclass
class QueuePage:
    query: QueueQuery
    rows: list[QueueRow] = field(default_factory=list)
    total: int = 0
    per_page: int = PER_PAGE

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def first(self) -> int:
        return 0 if not self.total else (self.query.page - 1) * self.per_page + 1

    @property
    def last(self) -> int:
        return min(self.total, self.query.page * self.per_page)

    @property
    def past_end(self) -> bool:
        """The page asked for is after the last one (the view says so and links back)."""
        return self.query.page > self.pages


def _text(raw: str | None, name: str, errors: dict[str, Problem]) -> str:
    value = " ".join(normalise_text(str(raw or "")).split())  # no NUL or other control characters reach SQL
    if len(value) > MAX_TEXT:
        errors[name] = N_("must be at most %(max)s characters", max=MAX_TEXT)
    return value[:MAX_TEXT]


def _choice(raw: str | None, name: str, allowed: tuple[str, ...], errors: dict[str, Problem], default: str = "") -> str:
    value = (raw or "").strip()
    if not value:
        return default
    if value not in allowed:
        errors[name] = N_("must be one of %(allowed)s", allowed=", ".join(a for a in allowed if a))
        return default
    return value


def parse_query(args: Mapping[str, str]) -> QueueQuery:
    """The queue view named by a query string; ValidationError names every bad parameter."""
    errors: dict[str, Problem] = {}
    q = _text(args.get("q"), "q", errors)
    region = _text(args.get("region"), "region", errors)
    industry = _text(args.get("industry"), "industry", errors)
    if industry:
        # The picker offers "36 汽车制造业"; the code is what counts.
        code = industry.split(" ", 1)[0].upper() if re.match(r"^[A-Za-z]?\d+", industry) else industry
        if code not in industry_codes():
            errors["industry"] = N_("unknown industry code %(code)s", code=code[:20])
            code = ""
        industry = code
    age = _choice(args.get("age"), "age", tuple(AGES), errors)
    state = _choice(args.get("state"), "state", STATES, errors, default=NeedStatus.OPEN.value)
    proposals = _choice(args.get("proposals"), "proposals", PROPOSALS, errors)
    interest = _choice(args.get("interest"), "interest", PROPOSALS, errors)
    sort = _choice(args.get("sort"), "sort", SORTS, errors, default="oldest")
    raw_page = (args.get("page") or "").strip()
    page = 1
    if raw_page:
        if re.fullmatch(r"[0-9]{1,6}", raw_page) and 1 <= int(raw_page) <= MAX_PAGE:
            page = int(raw_page)
        else:
            errors["page"] = N_("must be a whole number between 1 and %(max)s", max=MAX_PAGE)
    query = QueueQuery(q=q, industry=industry, region=region, age=age, state=state, proposals=proposals, interest=interest,
                       sort=sort, page=page)
    if errors:
        raise QueueQueryError(query, errors)
    return query


class QueueQueryError(ValidationError):
    """Bad parameters; ``query`` holds the valid part, for refilling the form."""

    def __init__(self, query: QueueQuery, errors: dict[str, Problem]) -> None:
        names = ", ".join(sorted(errors))
        super().__init__(N_("invalid queue parameter(s): %(names)s", names=names), fields=errors)
        self.query = query


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _has_industry(code: str, dialect: str):
    """``Need.industry_codes`` (a JSON list) holds ``code``."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import JSONB

        return sa.cast(Need.industry_codes, JSONB).contains([code])
    each = sa.func.json_each(Need.industry_codes).table_valued("value").alias("industry_code")
    return sa.exists(sa.select(1).select_from(each).where(each.c.value == code))


def queue_page(actor: User, query: QueueQuery, *, per_page: int = PER_PAGE) -> QueuePage:
    """One page of the queue: the needs that pass the filters, in the chosen order, with the
    number of experts proposed for each and of experts who said they are interested; no rows when the page is past the end (``past_end``)."""
    if not is_staff(actor):
        raise PermissionDenied("only coordinators see the review queue")
    proposed = (sa.select(Match.need_id, sa.func.count().label("n")).group_by(Match.need_id).subquery("proposed"))
    proposals = sa.func.coalesce(proposed.c.n, 0)
    interested = (sa.select(NeedInterest.need_id, sa.func.count().label("n")).group_by(NeedInterest.need_id)
                  .subquery("interested"))
    interests = sa.func.coalesce(interested.c.n, 0)
    conditions = []
    if query.state != "all":
        conditions.append(Need.status == NeedStatus(query.state))
    if query.q:
        like = _like(query.q)
        conditions.append(sa.or_(Need.title.ilike(like, escape="\\"), Need.description.ilike(like, escape="\\"),
                                 Organization.name.ilike(like, escape="\\")))
    if query.region:
        conditions.append(Need.region.ilike(_like(query.region), escape="\\"))
    if query.industry:
        conditions.append(_has_industry(query.industry, db.session.get_bind().dialect.name))
    if query.age:
        older, younger = AGES[query.age]
        now = utcnow()
        if older is not None:
            conditions.append(Need.created_at < now - timedelta(days=older))
        if younger is not None:
            conditions.append(Need.created_at >= now - timedelta(days=younger))
    if query.proposals == "with":
        conditions.append(proposals > 0)
    elif query.proposals == "without":
        conditions.append(proposals == 0)
    if query.interest == "with":
        conditions.append(interests > 0)
    elif query.interest == "without":
        conditions.append(interests == 0)
    base = (sa.select(Need, Organization.name, proposals.label("proposals"), interests.label("interests"))
            .join(Organization, Organization.id == Need.organization_id)
            .outerjoin(proposed, proposed.c.need_id == Need.id)
            .outerjoin(interested, interested.c.need_id == Need.id)
            .where(*conditions))
    total = int(db.session.scalar(sa.select(sa.func.count()).select_from(base.order_by(None).subquery())) or 0)
    result = QueuePage(query, total=total, per_page=per_page)
    if result.past_end:
        return result
    order = {
        "oldest": [Need.created_at.asc()],
        "newest": [Need.created_at.desc()],
        "deadline": [Need.deadline.is_(None), Need.deadline.asc(), Need.created_at.asc()],
        "fewest_proposals": [proposals.asc(), Need.created_at.asc()],
        "most_proposals": [proposals.desc(), Need.created_at.asc()],
    }[query.sort]
    rows = db.session.execute(base.order_by(*order, Need.id.asc()).limit(per_page).offset((query.page - 1) * per_page))
    result.rows = [QueueRow(need, organization, int(count), int(wished)) for need, organization, count, wished in rows]
    return result


def expert_matches(actor: User, expert_id: int) -> list[Match]:
    """Every match of an expert, newest first (the coordinator's view of an expert)."""
    if not is_staff(actor):
        raise PermissionDenied("only coordinators see an expert's matches")
    return list(db.session.scalars(sa.select(Match).where(Match.expert_id == expert_id)
                                   .order_by(Match.updated_at.desc(), Match.id.desc()).limit(200)))
