"""Importing experts and needs from a coordinator's spreadsheet.

Every row passes through the same cleaners as the forms and the API (``clean_profile``,
``clean_achievement``, ``clean_need``). All problems of the whole file are collected as
(row, column, problem), with the row number Excel shows (the header is row 1). Nothing is
written unless the whole file is valid, and then everything is written in one transaction.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from openpyxl.utils import get_column_letter

from matcher.taxonomy import load_taxonomy
from matcher.text import detect_language
from models import (
    Achievement,
    AchievementKind,
    ExpertProfile,
    Need,
    NeedStatus,
    Organization,
    OrganizationKind,
    User,
    db,
    write_transaction,
)

from ..domain.errors import ValidationError, localize
from ..domain.experts import clean_achievement, clean_profile
from ..domain.fields import ACHIEVEMENT_LINES, ORGANIZATION
from ..domain.needs import clean_need
from ..domain.validation import Cleaner
from ..localtime import local_today
from .spreadsheets import Table, read_table, unescape_formula
from .transfer_columns import COLUMNS, KIND_ALIASES, MODE_ALIASES, MODE_NAMES_ZH

log = logging.getLogger("matcher.transfer")

PREVIEW_ROWS = 20
LISTED_PROBLEMS = 200  # the preview lists this many problems and counts the rest
MAX_ACHIEVEMENTS = ACHIEVEMENT_LINES.max_items
DEFAULT_CAPACITY = next(column.default for column in COLUMNS["experts"] if column.field == "capacity")


_YES = {"是", "可", "可以", "有", "√", "y", "yes", "true", "1", "on"}
_NO = {"否", "不", "不可", "无", "×", "n", "no", "false", "0", "off"}
_LIST_SPLIT = re.compile(r"[,，;；、/\s]+")
_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")


@dataclass
class RowProblem:
    row: int
    column: str
    problem: str


@dataclass
class PlannedRow:
    """One valid row as it will be stored."""

    row: int
    fields: dict[str, Any]
    organization: str = ""
    achievements: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ImportPlan:
    kind: str
    total_rows: int = 0
    rows: list[PlannedRow] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    new_organizations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def achievement_count(self) -> int:
        return sum(len(row.achievements) for row in self.rows)

    @property
    def labels(self) -> dict[str, str]:
        """Each column's display label (an English msgid), for the preview's table headers."""
        return {column.field: column.label for column in COLUMNS[self.kind]}

    @property
    def preview(self) -> list[PlannedRow]:
        return self.rows[:PREVIEW_ROWS]

    @property
    def listed_problems(self) -> list[RowProblem]:
        return self.problems[:LISTED_PROBLEMS]


class ImportRejected(ValidationError):
    """The file has row problems; ``plan`` lists them all."""

    def __init__(self, plan: ImportPlan) -> None:
        super().__init__(f"{len(plan.problems)} problem(s) in the file; nothing was imported")
        self.plan = plan


def _letter(position: int) -> str:
    """Excel's name of a 0-based column; beyond Excel's last column (XFD) its number."""
    return get_column_letter(position + 1) if position < 18278 else f"#{position + 1}"


def _header_key(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "")
    text = re.sub(r"[(\[【].*?[)\]】]", "", text)
    return re.sub(r"[\s_*\-:]", "", text).lower()


class _Sheet:
    """Which column of the file holds which field, and what each row says."""

    def __init__(self, kind: str, table: Table, plan: ImportPlan) -> None:
        self.columns = COLUMNS[kind]
        lookup = {_header_key(name): col for col in self.columns for name in (col.zh, col.en, col.field, *col.aliases)}
        self.index: dict[str, int] = {}
        self.names: dict[str, str] = {col.field: col.display for col in self.columns}
        self.width = len(table.headers)
        self.unnamed: set[int] = set()
        for position, header in enumerate(table.headers):
            column = lookup.get(_header_key(header))
            if not header:
                self.unnamed.add(position)
            elif column is None:
                plan.ignored_columns.append(header)
            elif column.field in self.index:
                plan.problems.append(RowProblem(1, header, _("the same column appears twice (also column %(letter)s)",
                                                             letter=_letter(self.index[column.field]))))
            else:
                self.index[column.field] = position
                self.names[column.field] = header
        for column in self.columns:
            if column.required and column.field not in self.index:
                plan.problems.append(RowProblem(1, column.display, _("this required column is missing")))

    def cells(self, number: int, row: list[str], plan: ImportPlan) -> dict[str, str]:
        unnamed = [position for position, value in enumerate(row)
                   if value.strip() and (position >= self.width or position in self.unnamed)]
        if unnamed:  # one problem per row, however many such cells it has
            letters = ", ".join(_letter(position) for position in unnamed[:5]) + (" …" if len(unnamed) > 5 else "")
            problem = (_("has a value but the column has no name in row 1") if len(unnamed) == 1 else
                       _("%(count)s cells have a value but their columns have no name in row 1", count=len(unnamed)))
            plan.problems.append(RowProblem(number, _("column %(letter)s", letter=letters), problem))
        return {name: unescape_formula(row[pos]) if pos < len(row) else "" for name, pos in self.index.items()}


def read_import(kind: str, filename: str | None, data: bytes) -> Table:
    """Parse the file (FileRejected on any file-level problem) without looking at the rows."""
    if kind not in COLUMNS:
        raise ValidationError("unknown import kind", fields={"kind": "must be experts or needs"})
    return read_table(filename, data)


def plan_import(kind: str, table: Table, *, today: date | None = None) -> ImportPlan:
    """Check every row of ``table``; reads the database for organisations and duplicates."""
    plan = ImportPlan(kind=kind, total_rows=len(table.rows))
    sheet = _Sheet(kind, table, plan)
    if plan.problems:  # a broken header would make every row wrong; report the header alone
        return plan
    today = today or local_today()
    check = _expert_row if kind == "experts" else _need_row
    for number, row in table.rows:
        cells = sheet.cells(number, row, plan)
        problems: list[tuple[str, str]] = []
        planned = check(number, cells, problems, today)
        plan.problems.extend(RowProblem(number, sheet.names.get(name, name), problem) for name, problem in problems)
        if not problems:
            plan.rows.append(planned)
    _check_duplicates_and_organizations(plan, sheet.names)
    order = {sheet.names[name]: position for name, position in sheet.index.items()}
    plan.problems.sort(key=lambda p: (p.row, order.get(p.column, len(order))))
    return plan


def _collect(problems: list[tuple[str, str]], check) -> dict[str, Any]:
    try:
        return check()
    except ValidationError as exc:
        problems.extend((name, localize(problem)) for name, problem in exc.fields.items())
        return {}


def _organization(cells: dict[str, str], problems: list[tuple[str, str]]) -> str:
    cleaner = Cleaner({"organization": cells.get("organization", "")})
    cleaner.field(ORGANIZATION)
    problems.extend(cleaner.errors.items())
    return cleaner.clean.get("organization", "")


def _codes(text: str, kind: str) -> list[str]:
    """Codes split on any usual separator; a numeric cell that lost its leading zero ("8") is
    read as the division it stood for ("08")."""
    known = load_taxonomy().industries if kind == "industry" else load_taxonomy().disciplines
    codes = []
    for token in _LIST_SPLIT.split(text or ""):
        token = token.strip().upper() if kind == "industry" else token.strip()
        if token.isdigit() and len(token) == 1 and f"0{token}" in known:
            token = f"0{token}"
        if token:
            codes.append(token)
    return codes


def _modes(text: str, column: str, problems: list[tuple[str, str]]) -> list[str]:
    modes, unknown = [], []
    for token in _LIST_SPLIT.split(text or ""):
        if not token:
            continue
        code = MODE_ALIASES.get(token) or (token.lower() if token.lower() in MODE_NAMES_ZH else None)
        (modes if code else unknown).append(code or token)
    if unknown:
        allowed = ", ".join(f"{code} / {name}" for code, name in MODE_NAMES_ZH.items())
        problems.append((column, _("unknown cooperation mode(s) %(modes)s; allowed: %(allowed)s",
                                   modes=", ".join(unknown[:5]), allowed=allowed)))
    return modes


def _yes_no(text: str, default: bool) -> bool | str:
    value = (text or "").strip().lower()
    if not value:
        return default
    if value in _YES:
        return True
    if value in _NO:
        return False
    return value  # the cleaner reports it


def _date_text(text: str) -> str:
    match = _DATE.fullmatch((text or "").strip())
    if match:
        year, month, day = (int(part) for part in match.groups())
        return f"{year:04d}-{month:02d}-{day:02d}"
    return (text or "").strip()


def _achievements(text: str, problems: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Lines ``类型|标题|年份|摘要`` (or ``kind|title|year|abstract``), or bare titles (papers)."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if len(lines) > MAX_ACHIEVEMENTS:
        problems.append(("achievements", _("at most %(count)s achievements per expert (got %(got)s)",
                                           count=MAX_ACHIEVEMENTS, got=len(lines))))
        return []
    achievements = []
    for number, line in enumerate(lines, start=1):
        parts = re.split(r"\s*[|｜]\s*", line, maxsplit=3)
        if len(parts) == 1:
            data = {"kind": AchievementKind.PAPER.value, "title": parts[0], "year": None, "abstract": ""}
        else:
            parts += [""] * (4 - len(parts))
            kind = KIND_ALIASES.get(parts[0], parts[0].lower())
            data = {"kind": kind, "title": parts[1], "year": parts[2] or None, "abstract": parts[3]}
        try:
            achievements.append(clean_achievement(data))
        except ValidationError as exc:
            problems.extend(("achievements", _("line %(line)s: %(field)s %(problem)s", line=number, field=name, problem=localize(problem)))
                            for name, problem in exc.fields.items())
    return achievements


def _expert_row(number: int, cells: dict[str, str], problems: list[tuple[str, str]], today: date) -> PlannedRow:
    data: dict[str, Any] = {name: cells.get(name, "") for name in
                            ("name", "title", "region", "research_areas", "keywords", "summary", "phone", "email", "wechat")}
    data["discipline_codes"] = _codes(cells.get("discipline_codes", ""), "discipline")
    data["cooperation_modes"] = _modes(cells.get("cooperation_modes", ""), "cooperation_modes", problems)
    data["capacity"] = cells.get("capacity", "").strip() or DEFAULT_CAPACITY
    data["available"] = _yes_no(cells.get("available", ""), default=True)
    fields = _collect(problems, lambda: clean_profile(data, partial=False))
    organization = _organization(cells, problems)
    achievements = _achievements(cells.get("achievements", ""), problems)
    return PlannedRow(number, fields, organization, achievements)


def _need_row(number: int, cells: dict[str, str], problems: list[tuple[str, str]], today: date) -> PlannedRow:
    data: dict[str, Any] = {name: cells.get(name, "") for name in ("title", "description", "region")}
    data["industry_codes"] = _codes(cells.get("industry_codes", ""), "industry")
    data["cooperation_modes"] = _modes(cells.get("cooperation_modes", ""), "cooperation_modes", problems)
    data["budget_min"] = cells.get("budget_min", "").strip() or None
    data["budget_max"] = cells.get("budget_max", "").strip() or None
    data["deadline"] = _date_text(cells.get("deadline", "")) or None
    data["anonymous"] = _yes_no(cells.get("anonymous", ""), default=False)
    fields = _collect(problems, lambda: clean_need(data, today=today))
    organization = _organization(cells, problems)
    if not organization and not any(name == "organization" for name, _p in problems):
        problems.append(("organization", _("must not be empty: the enterprise that posts the need")))
    return PlannedRow(number, fields, organization)


def _chunks(values: Iterable[str], size: int = 500) -> Iterable[list[str]]:
    items = sorted(set(values))
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _check_duplicates_and_organizations(plan: ImportPlan, names: dict[str, str]) -> None:
    """Duplicates within the file and against the database; needs only for enterprises."""
    org_names = {row.organization for row in plan.rows if row.organization}
    existing_orgs: dict[str, OrganizationKind] = {}
    for chunk in _chunks(org_names):
        existing_orgs.update(db.session.execute(
            sa.select(Organization.name, Organization.kind).where(Organization.name.in_(chunk))).all())
    key_field = "name" if plan.kind == "experts" else "title"
    in_database: set[tuple[str, str]] = set()
    for chunk in _chunks(row.fields[key_field] for row in plan.rows):
        if plan.kind == "experts":
            query = (sa.select(ExpertProfile.name, Organization.name)
                     .outerjoin(Organization, Organization.id == ExpertProfile.organization_id)
                     .where(ExpertProfile.name.in_(chunk)))
        else:
            query = (sa.select(Need.title, Organization.name)
                     .join(Organization, Organization.id == Need.organization_id).where(Need.title.in_(chunk)))
        in_database.update((key, org or "") for key, org in db.session.execute(query))
    seen: dict[tuple[str, str], int] = {}
    valid: list[PlannedRow] = []
    what = _("an expert with this name and organisation") if plan.kind == "experts" else _(
        "a need with this title and enterprise")
    for row in plan.rows:
        key = (row.fields[key_field], row.organization)
        org_kind = existing_orgs.get(row.organization, OrganizationKind.ENTERPRISE)
        if plan.kind == "needs" and org_kind != OrganizationKind.ENTERPRISE:
            problem = (names["organization"], _("“%(name)s” exists and is not an enterprise", name=row.organization))
        elif key in in_database:
            problem = (names[key_field], _("already exists: %(what)s is already in the database", what=what))
        elif key in seen:
            problem = (names[key_field], _("appears twice in this file (also row %(row)s)", row=seen[key]))
        else:
            problem = None
            valid.append(row)
        seen.setdefault(key, row.row)
        if problem:
            plan.problems.append(RowProblem(row.row, *problem))
    plan.rows = valid
    plan.new_organizations = sorted(org_names - set(existing_orgs))


def _organization_kind(name: str) -> OrganizationKind:
    lowered = name.lower()
    if "医院" in name or "hospital" in lowered:
        return OrganizationKind.HOSPITAL
    if any(word in name for word in ("大学", "学院", "学校")) or any(w in lowered for w in ("university", "college")):
        return OrganizationKind.UNIVERSITY
    if any(word in name for word in ("研究院", "研究所", "科学院", "研究中心", "实验室")) or any(
            w in lowered for w in ("institute", "academy", "laboratory")):
        return OrganizationKind.RESEARCH_INSTITUTE
    return OrganizationKind.OTHER


def _language(*texts: str) -> str:
    return "en" if detect_language(" ".join(texts)) == "en" else "zh"


def commit_import(kind: str, table: Table, actor: User, *, today: date | None = None) -> ImportPlan:
    """Check the file again and write it in ONE transaction; ImportRejected writes nothing.

    The check runs inside the write transaction so that a concurrent import of the same
    records cannot slip in between the duplicate check and the insert.
    """
    with write_transaction() as session:
        plan = plan_import(kind, table, today=today)
        if not plan.ok:
            raise ImportRejected(plan)
        organizations = {org.name: org for chunk in _chunks({r.organization for r in plan.rows if r.organization})
                         for org in session.scalars(sa.select(Organization).where(Organization.name.in_(chunk)))}
        for row in plan.rows:
            if row.organization and row.organization not in organizations:
                kind_of_org = OrganizationKind.ENTERPRISE if kind == "needs" else _organization_kind(row.organization)
                organizations[row.organization] = Organization(name=row.organization, kind=kind_of_org,
                                                               region=row.fields.get("region", ""))
                session.add(organizations[row.organization])
            org = organizations.get(row.organization)
            if kind == "experts":
                profile = ExpertProfile(organization=org, lang=_language(row.fields["name"], row.fields["summary"],
                                                                         " ".join(row.fields["keywords"])), **row.fields)
                profile.achievements = [Achievement(**achievement) for achievement in row.achievements]
                session.add(profile)
            else:
                session.add(Need(organization=org, status=NeedStatus.OPEN,
                                 lang=_language(row.fields["title"], row.fields["description"]), **row.fields))
        session.flush()
    log.info("import_committed kind=%s rows=%s achievements=%s new_organizations=%s user=%s",
             kind, len(plan.rows), plan.achievement_count, len(plan.new_organizations), actor.id)
    return plan
