"""Exporting needs, experts and matches for coordinators, as CSV or XLSX.

Column names are those the importer reads, in Chinese or English, so an exported file of
experts or needs can be imported elsewhere. Expert exports include the private contact
fields: only coordinators and administrators may call these functions' routes. Every text
cell is protected against formula injection by the writers in :mod:`spreadsheets`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any

import sqlalchemy as sa
from flask_babel import force_locale
from sqlalchemy.orm import joinedload, selectinload

from models import ExpertProfile, Match, MatchStatus, Need, NeedStatus, User, db

from .. import labels
from ..access import is_staff
from ..domain.errors import PermissionDenied
from ..localtime import to_local
from .spreadsheets import csv_chunks, write_xlsx
from .transfer_columns import EXPERT_COLUMNS, KIND_NAMES_ZH, MODE_NAMES_ZH, NEED_COLUMNS, Column

log = logging.getLogger("matcher.transfer")

EXPORT_KINDS = ("needs", "experts", "matches")
FORMATS = ("csv", "xlsx")
BATCH = 500

ID = Column("id", "编号", "id")
STATUS = Column("status", "状态", "status")
CREATED = Column("created_at", "创建时间", "created_at")
UPDATED = Column("updated_at", "更新时间", "updated_at")
MATCH_COLUMNS = (
    ID,
    Column("need_id", "需求编号", "need_id"),
    Column("need_title", "需求标题", "need_title"),
    Column("organization", "企业", "organization"),
    Column("expert_id", "专家编号", "expert_id"),
    Column("expert_name", "专家姓名", "expert_name"),
    Column("expert_organization", "专家单位", "expert_organization"),
    STATUS,
    Column("score", "匹配分", "score"),
    Column("closed_reason", "关闭原因", "closed_reason"),
    CREATED,
    UPDATED,
)


def _require_staff(actor: User) -> None:
    if not is_staff(actor):
        raise PermissionDenied("only coordinators and administrators export data")


def _headers(columns: tuple[Column, ...], lang: str) -> list[str]:
    return [column.en if lang == "en" else column.zh for column in columns]


def _listed(values: list[str] | None) -> str:
    return ", ".join(values or [])


def _modes(values: list[str] | None, lang: str) -> str:
    return _listed(values if lang == "en" else [MODE_NAMES_ZH.get(v, v) for v in values or []])


def _yes_no(value: bool, lang: str) -> str:
    if lang == "en":
        return "yes" if value else "no"
    return "是" if value else "否"


def _moment(value: datetime | None) -> str:
    """Local wall-clock time in the platform's zone (the database holds UTC)."""
    local = to_local(value)
    return local.strftime("%Y-%m-%d %H:%M") if local else ""


class _Names:
    """Display names of the codes an export shows, worded once in the export's language (the
    rows are produced later, while the response streams)."""

    def __init__(self, lang: str) -> None:
        from ..matches.forms import CLOSE_LABELS

        with force_locale(lang):
            self.need_status = {s: str(labels.NEED_STATUS[s]) for s in NeedStatus}
            self.match_status = {s: str(labels.MATCH_STATUS[s]) for s in MatchStatus}
            self.close_reason = {code: str(name) for code, name in CLOSE_LABELS.items()}

    def closed_reason(self, text: str) -> str:
        """``not_feasible: 成本过高`` → ``Not feasible: 成本过高`` (the note stays as written)."""
        code, sep, note = (text or "").partition(": ")
        name = self.close_reason.get(code.strip())
        return f"{name}{sep}{note}" if name else (text or "")


def _batched(query) -> Iterator[Any]:
    return db.session.scalars(query.execution_options(yield_per=BATCH))


def _need_rows(lang: str, names: _Names) -> Iterator[list[Any]]:
    query = sa.select(Need).options(joinedload(Need.organization)).order_by(Need.id)
    for need in _batched(query):
        yield [need.id, need.title, need.description, _listed(need.industry_codes), need.region,
               _modes(need.cooperation_modes, lang), need.budget_min, need.budget_max, need.deadline,
               _yes_no(need.anonymous, lang), need.organization.name, names.need_status.get(need.status, need.status.value),
               _moment(need.created_at)]


def _achievement_lines(profile: ExpertProfile, lang: str) -> str:
    lines = []
    for a in profile.achievements:
        kind = a.kind.value if lang == "en" else KIND_NAMES_ZH.get(a.kind.value, a.kind.value)
        abstract = " ".join((a.abstract or "").split())
        lines.append(f"{kind}|{' '.join(a.title.split())}|{a.year or ''}|{abstract}".rstrip("|"))
    return "\n".join(lines)


def _expert_rows(lang: str) -> Iterator[list[Any]]:
    query = (sa.select(ExpertProfile)
             .options(joinedload(ExpertProfile.organization), selectinload(ExpertProfile.achievements))
             .order_by(ExpertProfile.id))
    for p in _batched(query):
        yield [p.id, p.name, p.title, p.organization.name if p.organization else "", p.region,
               _listed(p.discipline_codes), _listed(p.research_areas), _listed(p.keywords), p.summary,
               _modes(p.cooperation_modes, lang), p.capacity, _yes_no(p.available, lang), p.phone, p.email, p.wechat,
               _achievement_lines(p, lang), _moment(p.created_at)]


def _match_rows(lang: str, names: _Names) -> Iterator[list[Any]]:
    query = (sa.select(Match)
             .options(joinedload(Match.need).joinedload(Need.organization),
                      joinedload(Match.expert).joinedload(ExpertProfile.organization))
             .order_by(Match.id))
    for m in _batched(query):
        expert_org = m.expert.organization.name if m.expert.organization else ""
        yield [m.id, m.need_id, m.need.title, m.need.organization.name, m.expert_id, m.expert.name, expert_org,
               names.match_status.get(m.status, m.status.value), round(m.score, 4) if m.score is not None else None,
               names.closed_reason(m.closed_reason),
               _moment(m.created_at), _moment(m.updated_at)]


def export_table(actor: User, kind: str, lang: str) -> tuple[list[str], Iterator[list[Any]]]:
    """Header and rows of one export; rows are read from the database in batches."""
    _require_staff(actor)
    lang = "en" if lang.startswith("en") else "zh"
    names = _Names(lang)
    if kind == "needs":
        columns = (ID, *NEED_COLUMNS, STATUS, CREATED)
        rows = _need_rows(lang, names)
    elif kind == "experts":
        columns = (ID, *EXPERT_COLUMNS, CREATED)
        rows = _expert_rows(lang)
    elif kind == "matches":
        columns = MATCH_COLUMNS
        rows = _match_rows(lang, names)
    else:
        raise ValueError(f"unknown export {kind!r}")
    log.info("export kind=%s user=%s", kind, actor.id)
    return _headers(columns, lang), rows


def export_csv(actor: User, kind: str, lang: str) -> Iterator[str]:
    headers, rows = export_table(actor, kind, lang)
    return csv_chunks(headers, rows)


def export_xlsx(actor: User, kind: str, lang: str, target: IO[bytes]) -> None:
    headers, rows = export_table(actor, kind, lang)
    write_xlsx(headers, rows, target, sheet_title=kind)
