"""Property-based tests: untrusted input gets a clear error, never an unhandled exception.

* the JSON Lines reader of ``python -m matcher score`` (``matcher.batch``);
* the CSV/XLSX importers of experts and needs (``web.formats.imports``/``spreadsheets``);
* the cleaners shared by forms, API and importers (``clean_need``, ``clean_profile``,
  ``clean_achievement``).

Next to each property, a pinned test reproduces what the fuzzer found, deterministically
(Hypothesis stops at a failing ``@example`` before it generates anything, so the pinned
inputs are separate tests).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher.batch import InputError, read_experts, read_needs
from web.domain import fields as spec
from web.domain.errors import ValidationError
from web.domain.experts import PROFILE_FIELDS, clean_achievement, clean_profile
from web.domain.needs import EDITABLE_FIELDS, clean_need
from web.formats.transfer_columns import COLUMNS, KIND_NAMES_ZH, MODE_NAMES_ZH

FUZZ = settings(deadline=None, max_examples=120, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large, HealthCheck.large_base_example])
SLOW_FUZZ = settings(FUZZ, max_examples=60)

DEEP_JSON = "[" * 100_000 + "]" * 100_000  # valid JSON; json.loads raises RecursionError
HUGE_INT = "1" * 5000  # valid JSON; json.loads raises ValueError (int max str digits)
LONE_SURROGATE = "\ud800"  # what a JSON "\ud800" escape decodes to; not encodable as UTF-8

# -- shared strategies -----------------------------------------------------------------------
CONTROL = st.characters(min_codepoint=0, max_codepoint=0x1F) | st.sampled_from("\x7f\u200b\u2028\u202e\ufeff\ufffd")
SURROGATES = st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff"])  # lone: valid in JSON text, not in UTF-8
_PLAIN_TEXT = st.text(st.characters() | CONTROL, max_size=40)
TEXT = _PLAIN_TEXT | st.tuples(_PLAIN_TEXT, SURROGATES, _PLAIN_TEXT).map("".join)  # (a union of alphabets drowns 4 code points)
LONG_TEXT = st.builds(lambda ch, n: ch * n, st.sampled_from(["x", "长", "a b ", "\n"]), st.integers(100, 12_000))
JSON_SCALARS = (st.none() | st.booleans() | st.integers() | st.integers(-(2**70), 2**70)
                | st.floats(allow_nan=True, allow_infinity=True) | TEXT | LONG_TEXT
                | st.sampled_from(["", " ", "0", "1", "-1", "true", "no", "2024-02-30", "2099-12-31", "9" * 13, LONE_SURROGATE]))
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=8)


def utf8_ok(value) -> bool:
    """True if every string inside ``value`` can be stored or written as UTF-8."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(utf8_ok(k) and utf8_ok(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(utf8_ok(v) for v in value)
    return True


# -- (a) the JSON Lines reader ---------------------------------------------------------------
RECORD_KEYS = ("id", "name", "title", "summary", "description", "keywords", "research_areas", "industry",
               "organization", "region", "achievements", "kind", "year", "abstract")
PLAUSIBLE = st.one_of(
    JSON_VALUES,
    st.lists(TEXT, max_size=3),
    st.lists(st.fixed_dictionaries({}, optional={"title": JSON_VALUES, "year": JSON_VALUES, "kind": JSON_VALUES,
                                                 "abstract": JSON_VALUES}), max_size=3),
)
RECORDS = st.dictionaries(st.sampled_from(RECORD_KEYS) | st.text(max_size=6), PLAUSIBLE, max_size=8)
JSONL_LINE = st.one_of(
    RECORDS.map(lambda r: json.dumps(r, ensure_ascii=False, allow_nan=True)),
    RECORDS.map(json.dumps),
    JSON_VALUES.map(json.dumps),
    st.text(st.characters(exclude_characters="\r\n"), max_size=30),
    st.sampled_from(["", "   ", "{", "}", "[]", "null", '{"id": 1}', '{"id": "a", "title": "t"}', DEEP_JSON, HUGE_INT,
                     '{"id": ' + HUGE_INT + "}", '{"id": "\\ud800", "title": "t"}']),
)
JSONL_TEXT = st.tuples(st.lists(JSONL_LINE, max_size=6), st.sampled_from(["\n", "\r\n", "\r"])).map(
    lambda parts: parts[1].join(parts[0]))
JSONL_FILES = st.one_of(
    st.binary(max_size=300),
    JSONL_TEXT.map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.tuples(JSONL_TEXT, st.binary(min_size=1, max_size=4)).map(lambda p: p[0].encode("utf-8", "surrogatepass") + p[1]),
)
FILE_LEVEL = ("file is empty (expected one JSON object per line)", "not UTF-8 text")


def check_reader_outcome(path: Path, content: bytes, read) -> None:
    try:
        result = read(path)
    except InputError as exc:
        message = str(exc)
        assert message.startswith(f"{path}: "), message
        detail = message[len(f"{path}: "):]
        if detail in FILE_LEVEL:
            return
        match = re.match(r"line (\d+): \S", detail)
        assert match, f"InputError without a line number: {message!r}"
        lines = len(content.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n"))
        assert 1 <= int(match.group(1)) <= lines, message
        return
    # Accepted: what was read must be writable (the scores CSV is UTF-8) and ids unique.
    records = result[0] if isinstance(result, tuple) else result
    ids = [r.id for r in records]
    assert records and all(ids) and len(set(ids)) == len(ids)
    assert all(utf8_ok(dataclasses.asdict(r)) for r in records), f"accepted a record that cannot be written as UTF-8: {records!r}"


@pytest.mark.parametrize("read", [read_experts, read_needs], ids=["experts", "needs"])
@FUZZ
@given(content=JSONL_FILES)
def test_jsonl_reader_returns_records_or_names_file_and_line(tmp_path, read, content):
    path = tmp_path / "input.jsonl"
    path.write_bytes(content)
    check_reader_outcome(path, content, read)


@pytest.mark.parametrize("read", [read_experts, read_needs], ids=["experts", "needs"])
@pytest.mark.parametrize("line", [DEEP_JSON, '{"id": ' + HUGE_INT + ', "title": "t"}', '{"id": "\\ud800", "title": "t"}',
                                  '{"id": "a", "title": "\\udc00", "name": "\\udc00"}'],
                         ids=["nested-100000-deep", "5000-digit-number", "lone-surrogate-id", "lone-surrogate-text"])
def test_jsonl_reader_pinned_inputs(tmp_path, read, line):
    """Valid JSON that Python's json module refuses with RecursionError/ValueError, or that
    decodes to text no UTF-8 file can hold: each must be an InputError naming file and line 2."""
    content = ('{"id": "first", "title": "t"}\n' + line + "\n").encode()
    path = tmp_path / "input.jsonl"
    path.write_bytes(content)
    check_reader_outcome(path, content, read)
    with pytest.raises(InputError, match=re.escape(f"{path}: line 2: ")):
        read(path)


def test_jsonl_reader_on_a_directory_or_missing_file(tmp_path):
    for path in (tmp_path, tmp_path / "missing.jsonl"):
        with pytest.raises(InputError, match=re.escape(str(path))):
            read_needs(path)


# -- (b) the CSV and XLSX importers ----------------------------------------------------------
def _header_names(kind: str) -> list[str]:
    return [name for col in COLUMNS[kind] for name in (col.zh, col.en, col.field, *col.aliases)]


INTERESTING_CELLS = [
    "", " ", "=1+1", "=HYPERLINK(\"http://x\")", "+86 138", "-5", "@SUM(A1)", "\t=cmd", "'=1", "'+1", "是", "否", "√", "maybe",
    "3", "0", "51", "-1", "3.0", "３", "1e3", "９９９９９９９９９９９９９", "2024年1月2日", "2099-01-01", "2020-02-30", "12/31/2099",
    "consulting", "技术咨询, 技术开发", "teleport", "36", "8", "C36", "460, 530", "ZZZ", "论文|汽车减振器|2021|摘要",
    "patent|一种减振器|3000|", "奖励||abc|", "标题\n专利|x|1949|", "|||", "｜｜", "\x00", "\x1b[31m", "\u202e", "\ufeff名",
    "x" * 70_000, "长" * 6_000, "\n".join(["论文|t"] * 501), LONE_SURROGATE,
]
CELLS = st.one_of(TEXT, LONG_TEXT, st.sampled_from(INTERESTING_CELLS), st.integers().map(str),
                  st.floats(allow_nan=True).map(str), st.text(st.sampled_from("0123456789-./年月日 "), max_size=12))


NAMES = st.text(st.sampled_from("王李张陈刘杨赵黄周吴磊伟芳娜敏静强军 ABCxyz"), min_size=1, max_size=8)
ORGS = st.sampled_from(["西北工业大学", "中国科学院金属研究所", "茂名减振器有限公司", "广东某某医院", "Institute of Metal Research", "个人"])
YEARS = st.integers(1950, 2100).map(str)
ACHIEVEMENT_LINES = st.lists(st.one_of(
    st.tuples(st.sampled_from(list(KIND_NAMES_ZH) + list(KIND_NAMES_ZH.values()) + ["获奖"]), NAMES, YEARS | st.just(""), NAMES)
    .map("|".join), NAMES), max_size=4).map("\n".join)
GOOD_CELLS = {  # valid values per column field, so that whole rows are often valid and get written
    "name": NAMES, "title": NAMES, "organization": ORGS, "region": st.sampled_from(["广东省茂名市", "陕西省西安市", ""]),
    "discipline_codes": st.sampled_from(["460", "460, 530", ""]), "industry_codes": st.sampled_from(["36", "08", "8", ""]),
    "research_areas": st.lists(NAMES, max_size=3).map("、".join), "keywords": st.lists(NAMES, max_size=3).map(", ".join),
    "summary": NAMES, "description": NAMES,
    "cooperation_modes": st.lists(st.sampled_from(list(MODE_NAMES_ZH) + list(MODE_NAMES_ZH.values())), max_size=3).map(",".join),
    "capacity": st.integers(0, 50).map(str) | st.just(""), "available": st.sampled_from(["是", "否", "", "yes", "√"]),
    "anonymous": st.sampled_from(["是", "否", ""]), "phone": st.just("13800001111"), "email": st.just("a@example.cn"),
    "wechat": st.just("wx_1"), "achievements": ACHIEVEMENT_LINES,
    "budget_min": st.integers(0, 30).map(str) | st.just(""), "budget_max": st.integers(30, 1_000_000).map(str) | st.just(""),
    "deadline": st.sampled_from(["2099-01-01", "2099年1月2日", "2099/12/31", ""]),
}


@st.composite
def sheets(draw, kind: str):
    """(header, rows): usually the real column names in some order and mostly plausible
    cells (so that whole rows are often valid and get written), sometimes anything."""
    names = _header_names(kind)
    required = [col.zh for col in COLUMNS[kind] if col.required]
    header = list(draw(st.one_of(
        st.permutations([col.zh for col in COLUMNS[kind]]),
        st.permutations([col.en for col in COLUMNS[kind]]),
        st.lists(st.sampled_from([col.en for col in COLUMNS[kind] if not col.required]), max_size=8, unique=True)
        .map(lambda h: required + h),
        st.lists(st.sampled_from(names) | CELLS, min_size=1, max_size=8),
    )))
    field_of = {name: col.field for col in COLUMNS[kind] for name in (col.zh, col.en, col.field, *col.aliases)}

    def cell(position: int, clean: bool):
        good = GOOD_CELLS.get(field_of.get(header[position], "")) if position < len(header) else None
        if clean:  # a row meant to be valid: plausible values, nothing under unnamed columns
            return good if good is not None else st.just("")
        return st.one_of(good, good, CELLS) if good is not None else CELLS

    rows = []
    for _ in range(draw(st.integers(1, 5))):
        clean = draw(st.booleans())
        width = len(header) if clean else draw(st.sampled_from([len(header), max(0, len(header) - 1), len(header) + 1]))
        rows.append([draw(cell(position, clean)) for position in range(width)])
    return header, rows


def csv_file(header, rows, encoding: str) -> bytes:
    """``encoding`` "mixed": the header row in UTF-8, the data rows in GB18030."""
    def text(lines) -> str:
        buffer = io.StringIO(newline="")
        csv.writer(buffer).writerows(lines)
        return buffer.getvalue()

    if encoding == "mixed":
        return text([header]).encode("utf-8", "surrogatepass") + text(rows).encode("gb18030", "replace")
    return text([header, *rows]).encode(encoding, "surrogatepass" if encoding == "utf-8" else "replace")


_XLSX_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
XLSX_VALUES = st.one_of(CELLS.map(lambda s: _XLSX_ILLEGAL.sub("", s)), st.integers(-(10**15), 10**15),
                        st.floats(allow_nan=False, allow_infinity=False), st.booleans(), st.none(),
                        st.dates(min_value=date(1900, 3, 1)), st.datetimes(min_value=datetime(1900, 3, 1)),
                        st.sampled_from(["=1+1", "=A1", "=NOW()", "=1/0", '="x"&"y"']))


def xlsx_file(header, rows) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in [header, *rows]:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _counts() -> dict[str, int]:
    from models import Achievement, ExpertProfile, Need, Organization, db

    return {model.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (ExpertProfile, Achievement, Need, Organization)}


class _Actor:
    id = 0


def check_import_outcome(app, kind: str, filename: str, data: bytes) -> None:
    """read → plan (the preview) → commit: either a file-level refusal, or per-row problems
    naming row, column and problem with nothing written, or everything written."""
    from models import db
    from web.formats.imports import ImportRejected, commit_import, plan_import, read_import
    from web.formats.spreadsheets import FileRejected

    with app.test_request_context("/"):
        try:
            table = read_import(kind, filename, data)
        except FileRejected as exc:
            assert exc.message.strip()
            return
        row_numbers = {1} | {number for number, _row in table.rows}
        plan = plan_import(kind, table)
        for problem in plan.problems:
            assert isinstance(problem.row, int) and problem.row in row_numbers, problem
            assert isinstance(problem.column, str) and problem.column.strip(), problem
            assert isinstance(problem.problem, str) and problem.problem.strip(), problem
        db.session.rollback()
        before = _counts()
        if plan.problems:
            with pytest.raises(ImportRejected) as rejected:
                commit_import(kind, table, _Actor())
            assert rejected.value.plan.problems
            db.session.rollback()
            assert _counts() == before, "an import with problems wrote something"
            return
        committed = commit_import(kind, table, _Actor())
        after = _counts()
        model = "ExpertProfile" if kind == "experts" else "Need"
        assert after[model] == before[model] + len(committed.rows)
        if kind == "experts":
            assert after["Achievement"] == before["Achievement"] + committed.achievement_count


@pytest.mark.parametrize("kind", ["experts", "needs"])
@SLOW_FUZZ
@given(data=st.data())
def test_csv_import_accepts_or_lists_row_problems(app, kind, data):
    header, rows = data.draw(sheets(kind))
    encoding = data.draw(st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "mixed"]))
    check_import_outcome(app, kind, "import.csv", csv_file(header, rows, encoding))


@pytest.mark.parametrize("kind", ["experts", "needs"])
@pytest.mark.parametrize("where", ["row", "header"])
def test_csv_import_with_a_cell_beyond_the_last_excel_column(app, kind, where):
    """CSV has no column limit; a value (or a second copy of a column name) beyond XFD, column
    16,384 of Excel and 18,278 of openpyxl's letters, must still be reported as a row problem."""
    header = [col.zh for col in COLUMNS[kind]]
    if where == "row":
        content = ",".join(header) + "\n" + "x," * 20_000 + "y\n"
    else:  # the first copy sits beyond XFD, so the "appears twice (also column …)" message cannot name it
        content = "," * 20_000 + ",".join(header) + "," + header[0] + "\n" + "," * 20_000 + "x\n"
    check_import_outcome(app, kind, "wide.csv", content.encode())


@pytest.mark.parametrize("kind", ["experts", "needs"])
@SLOW_FUZZ
@given(data=st.data())
def test_xlsx_import_accepts_or_lists_row_problems(app, kind, data):
    header, rows = data.draw(sheets(kind))
    rows = [[data.draw(XLSX_VALUES) if isinstance(cell, str) and data.draw(st.booleans()) else _XLSX_ILLEGAL.sub("", cell)
             for cell in row] for row in rows]
    check_import_outcome(app, kind, "import.xlsx", xlsx_file([_XLSX_ILLEGAL.sub("", h) for h in header], rows))


@SLOW_FUZZ
@given(filename=st.sampled_from(["a.csv", "a.xlsx", "a.CSV", "a.txt", "", "a.xlsx.csv"]), content=st.binary(max_size=400))
def test_import_of_arbitrary_bytes_is_refused_or_read(app, filename, content):
    check_import_outcome(app, "experts", filename, content)


# -- (c) the cleaners ------------------------------------------------------------------------
NEED_FIELDS = tuple(EDITABLE_FIELDS)
ACHIEVEMENT_FIELDS = tuple(spec.ACHIEVEMENT.fields)  # every field the spec declares, so a new one is fuzzed too
FIELD_VALUES = st.one_of(
    JSON_VALUES,
    st.sampled_from(list(MODE_NAMES_ZH) + list(KIND_NAMES_ZH) + ["36", "08", "460", "C", "", "2099-01-01"]),
    st.lists(st.sampled_from(list(MODE_NAMES_ZH) + ["36", "460", "x", ""]) | TEXT, max_size=8),
    st.integers(-5, 60), st.integers(1940, 2110),
)
MULTILINE = {"description", "summary", "abstract"}
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def check_cleaner_outcome(clean, data: dict, known: tuple[str, ...]) -> None:
    snapshot = json.dumps(data, sort_keys=True, default=str, ensure_ascii=True)
    try:
        result = clean(data)
    except ValidationError as exc:
        assert exc.fields and exc.message, exc
        assert set(exc.fields) <= set(known), f"error names unknown fields: {exc.fields}"
        assert all(isinstance(p, str) and p for p in exc.fields.values()), exc.fields
        return
    finally:
        assert json.dumps(data, sort_keys=True, default=str, ensure_ascii=True) == snapshot, "the cleaner changed its input"
    assert isinstance(result, dict) and set(result) <= set(known), result
    assert utf8_ok(result), f"accepted text that cannot be stored (not encodable as UTF-8): {result!r}"
    for field, value in result.items():
        for text in (value if isinstance(value, list) else [value]):
            if isinstance(text, str):
                assert not _CONTROL_CHARS.search(text), (field, text)
                assert field in MULTILINE or not re.search(r"[\r\n\t]", text), (field, text)


SHORT_TEXT = st.text(st.characters() | CONTROL, min_size=1, max_size=20) | st.tuples(st.text(max_size=5), SURROGATES).map("".join)
PLAUSIBLE_FIELDS = {  # values that pass, so that whole records are often clean and their output is checked
    **{name: SHORT_TEXT for name in ("title", "description", "region", "name", "summary", "abstract", "authors", "venue", "phone", "email", "wechat")},
    "industry_codes": st.sampled_from([["36"], [], "36", "08"]), "discipline_codes": st.sampled_from([["460"], [], "460, 530"]),
    "cooperation_modes": st.lists(st.sampled_from(list(MODE_NAMES_ZH)), max_size=3), "keywords": st.lists(SHORT_TEXT, max_size=3),
    "research_areas": st.lists(SHORT_TEXT, max_size=3), "budget_min": st.integers(0, 10), "budget_max": st.integers(10, 100),
    "deadline": st.sampled_from(["2099-01-01", None, ""]), "anonymous": st.booleans(), "available": st.booleans(),
    "capacity": st.integers(0, 50), "kind": st.sampled_from(list(KIND_NAMES_ZH)), "year": st.integers(1950, 2100) | st.none(),
}


def _inputs(fields: tuple[str, ...]):
    """A dict of the known fields (each often plausible, sometimes any JSON value) plus a few
    unknown keys."""
    known = st.fixed_dictionaries({}, optional={
        name: st.one_of(PLAUSIBLE_FIELDS[name], PLAUSIBLE_FIELDS[name], FIELD_VALUES) for name in fields})
    extra = st.dictionaries(st.text(max_size=8).filter(lambda k: k not in fields), FIELD_VALUES, max_size=2)
    return st.tuples(known, extra).map(lambda parts: {**parts[1], **parts[0]})


@FUZZ
@given(data=_inputs(NEED_FIELDS), partial=st.booleans())
def test_clean_need_gives_field_errors_or_clean_values(data, partial):
    check_cleaner_outcome(lambda d: clean_need(d, partial=partial, today=date(2024, 1, 1)), data, NEED_FIELDS)


@FUZZ
@given(data=_inputs(PROFILE_FIELDS), partial=st.booleans())
def test_clean_profile_gives_field_errors_or_clean_values(data, partial):
    check_cleaner_outcome(lambda d: clean_profile(d, partial=partial), data, PROFILE_FIELDS)


@FUZZ
@given(data=_inputs(ACHIEVEMENT_FIELDS), partial=st.booleans())
def test_clean_achievement_gives_field_errors_or_clean_values(data, partial):
    check_cleaner_outcome(lambda d: clean_achievement(d, partial=partial), data, ACHIEVEMENT_FIELDS)


@pytest.mark.parametrize(("clean", "data", "field"), [
    (lambda d: clean_need(d, today=date(2024, 1, 1)), {"title": "a" + LONE_SURROGATE + "b"}, "title"),
    (lambda d: clean_need(d, partial=True), {"description": LONE_SURROGATE}, "description"),
    (lambda d: clean_profile(d, partial=False), {"name": LONE_SURROGATE, "capacity": 3}, "name"),
    (clean_profile, {"keywords": ["ok", LONE_SURROGATE]}, "keywords"),
    (clean_achievement, {"kind": "paper", "title": "t" + LONE_SURROGATE}, "title"),
], ids=["need-title", "need-description", "profile-name", "profile-keywords", "achievement-title"])
def test_cleaners_refuse_text_that_cannot_be_stored(clean, data, field):
    """A JSON body may say "\\ud800": json.loads gives a lone surrogate, which the database
    driver cannot encode (UnicodeEncodeError → HTTP 500). The cleaner must name the field."""
    with pytest.raises(ValidationError) as refused:
        clean(data)
    assert field in refused.value.fields
