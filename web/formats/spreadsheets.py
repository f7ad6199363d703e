"""Reading and writing the two file formats coordinators exchange: CSV and XLSX.

Uploaded files are untrusted: every way a file can be broken (wrong type, bad encoding,
damaged zip, XML entity tricks, too many rows) ends in :class:`FileRejected` with a message
that names the problem, never in an unhandled exception. XLSX is parsed only while openpyxl
uses defusedxml, which refuses entity declarations (billion laughs, external entities).
"""

from __future__ import annotations

import csv
import io
import logging
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from flask_babel import gettext as _

from ..domain.errors import ValidationError

log = logging.getLogger("matcher.transfer")

EXTENSIONS = ("csv", "xlsx")
MAX_DATA_ROWS = 5000
MAX_COLUMNS = 100
MAX_SCANNED_ROWS = 200_000  # blank rows included; a sheet longer than this is refused
MAX_UNZIPPED_BYTES = 100 * 1024 * 1024
MAX_ZIP_MEMBERS = 2000

# OWASP "CSV injection": a cell starting with one of these is a formula to a spreadsheet.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_ILLEGAL_XLSX_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


class FileRejected(ValidationError):
    """The file as a whole cannot be read; nothing in it was looked at row by row."""

    code = "file_rejected"


@dataclass
class Table:
    """A header row and the non-blank data rows, each with its row number as Excel shows it."""

    headers: list[str]
    rows: list[tuple[int, list[str]]] = field(default_factory=list)

    def to_json(self) -> bytes:
        """The parsed cells, kept with an upload so that no later step parses the file again."""
        import json

        return json.dumps({"headers": self.headers, "rows": self.rows}, ensure_ascii=False).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Table:
        import json

        raw = json.loads(data)
        if not isinstance(raw, dict) or not isinstance(raw.get("headers"), list) or not isinstance(raw.get("rows"), list):
            raise ValueError("not a stored table")
        return cls(headers=[str(h) for h in raw["headers"]],
                   rows=[(int(number), [str(cell) for cell in cells]) for number, cells in raw["rows"]])


def extension(filename: str | None) -> str:
    name = (filename or "").strip().lower()
    return name.rsplit(".", 1)[-1] if "." in name else ""


def read_table(filename: str | None, data: bytes) -> Table:
    """Parse an uploaded file into text cells. Raises FileRejected naming the problem."""
    ext = extension(filename)
    if ext not in EXTENSIONS:
        raise FileRejected(_("Only .csv and .xlsx files can be imported; this file is named “%(name)s”.",
                             name=(filename or "")[:100]))
    if not data:
        raise FileRejected(_("The file is empty."))
    rows = _csv_rows(data) if ext == "csv" else _xlsx_rows(data)
    try:
        return _table(rows)
    finally:
        rows.close()


def _table(rows: Iterator[list[str]]) -> Table:
    header = next(rows, None)
    if header is None or not any(cell.strip() for cell in header):
        raise FileRejected(_("The first row must hold the column names, but it is empty."))
    _check_width(1, header)
    while header and not header[-1].strip():
        header.pop()
    table = Table(headers=[cell.strip() for cell in header])
    for number, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue  # blank rows, trailing ones included, are skipped and never stored
        if number > MAX_SCANNED_ROWS:
            raise FileRejected(_("The sheet has more than %(count)s rows (blank rows included).",
                                 count=f"{MAX_SCANNED_ROWS:,}"))
        if len(table.rows) >= MAX_DATA_ROWS:
            raise FileRejected(_("The file has more than %(count)s data rows; split it into smaller files.",
                                 count=f"{MAX_DATA_ROWS:,}"))
        _check_width(number, row)
        table.rows.append((number, row))
    if not table.rows:
        raise FileRejected(_("The file has a header row but no data rows."))
    return table


def _check_width(number: int, row: list[str]) -> None:
    """Cells beyond ``MAX_COLUMNS`` refuse the file when any holds a value; blank ones are dropped."""
    if len(row) <= MAX_COLUMNS:
        return
    if any(cell.strip() for cell in row[MAX_COLUMNS:]):
        raise too_many_columns(number)
    del row[MAX_COLUMNS:]


def too_many_columns(number: int) -> FileRejected:
    return FileRejected(_("Row %(row)s has values in more than %(count)s columns; at most %(count)s columns are read.",
                          row=number, count=MAX_COLUMNS))


# --- CSV -------------------------------------------------------------------------------------

def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030 as Chinese Excel saves "CSV"."""
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8")
        except UnicodeDecodeError:
            raise FileRejected(_("The file starts like UTF-8 text but contains bytes that are not UTF-8.")) from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileRejected(_("The file is UTF-16 text. Save it as “CSV UTF-8 (comma delimited)” and upload it again."))
    if data.startswith(b"PK\x03\x04"):
        raise FileRejected(_("This is a zip or Excel workbook, not CSV text. Upload it with the .xlsx extension."))
    if b"\x00" in data:
        raise FileRejected(_("The file is not text (it contains binary data), so it cannot be read as CSV."))
    for encoding in ("utf-8", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise FileRejected(_("The file could not be read as text in UTF-8 or GB18030. Save it as “CSV UTF-8” and try again."))


def _csv_rows(data: bytes) -> Iterator[list[str]]:
    text = decode_text(data)
    first_line = text.split("\n", 1)[0]
    delimiter = ","
    if "," not in first_line and "，" not in first_line:
        delimiter = "\t" if "\t" in first_line else (";" if ";" in first_line else ",")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    return _guarded_csv(reader)


def _guarded_csv(reader) -> Iterator[list[str]]:
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise FileRejected(_("The CSV file is malformed near row %(row)s: %(problem)s",
                                 row=reader.line_num, problem=str(exc))) from None
        yield row


# --- XLSX ------------------------------------------------------------------------------------

def xml_is_defused() -> bool:
    """True only when openpyxl parses workbook XML with defusedxml."""
    import openpyxl.xml
    import openpyxl.xml.functions as xml_functions

    return bool(openpyxl.xml.DEFUSEDXML) and xml_functions.iterparse.__module__.startswith("defusedxml")


def _check_archive(data: bytes) -> None:
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileRejected(_("This is an old-format (.xls) or password-protected workbook. Save it as .xlsx without a password."))
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError):
        raise FileRejected(_("The file is not a valid .xlsx workbook (it is not a zip archive, or it is truncated).")) from None
    with archive:
        members = archive.infolist()
        if "[Content_Types].xml" not in {m.filename for m in members}:
            raise FileRejected(_("The file is a zip archive but not an Excel workbook ([Content_Types].xml is missing)."))
        if len(members) > MAX_ZIP_MEMBERS or sum(m.file_size for m in members) > MAX_UNZIPPED_BYTES:
            raise FileRejected(_("The workbook unpacks to more data than this service accepts."))


def _xlsx_rows(data: bytes) -> Iterator[list[str]]:
    _check_archive(data)
    if not xml_is_defused():
        log.error("xlsx_refused reason=defusedxml_inactive")
        raise FileRejected(_("Excel files cannot be read safely on this server (defusedxml is not active). Upload CSV instead."))
    from .sheet_xml import without_blank_rows

    try:
        data = without_blank_rows(data, MAX_COLUMNS, too_many_columns)
    except FileRejected:
        raise
    except Exception as exc:  # a member that does not inflate (bad CRC, truncated stream)
        raise _unreadable(exc) from None
    return _safe_sheet_rows(data)


def _safe_sheet_rows(data: bytes) -> Iterator[list[str]]:
    """Rows of the first worksheet; any parser failure becomes FileRejected, even mid-iteration."""
    try:
        import openpyxl

        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
    except Exception as exc:  # untrusted input: any failure of the parser is a refused file
        raise _unreadable(exc) from None
    try:
        if not workbook.worksheets:
            raise FileRejected(_("The workbook has no worksheet."))
        sheet = workbook.worksheets[0]
        for values in sheet.iter_rows(max_col=MAX_COLUMNS + 1, values_only=True):
            if values.count(None) == len(values):
                yield []  # the gap rows openpyxl fills in, at no cost per cell
            else:
                yield [cell_text(value) for value in values]
    except FileRejected:
        raise
    except Exception as exc:
        raise _unreadable(exc) from None
    finally:
        workbook.close()


def _unreadable(exc: BaseException) -> FileRejected:
    """openpyxl wraps parser errors in ValueError; look down the chain for defusedxml's refusal."""
    from defusedxml import DefusedXmlException

    cause: BaseException | None = exc
    for _depth in range(20):  # a bounded walk: chains can in principle loop
        if cause is None:
            break
        if isinstance(cause, DefusedXmlException):
            log.warning("xlsx_refused reason=xml_entities error=%s", type(cause).__name__)
            return FileRejected(_("The workbook contains XML entity declarations, which are refused for safety."))
        cause = cause.__cause__ or cause.__context__
    log.info("xlsx_unreadable error=%s", type(exc).__name__)
    return FileRejected(_("The .xlsx workbook is damaged or truncated and cannot be read."))


def cell_text(value: Any) -> str:
    """A cell value as the text a user typed: dates as YYYY-MM-DD, 12.0 as 12."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --- writing ---------------------------------------------------------------------------------

def escape_formula(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def unescape_formula(value: str) -> str:
    """Undo :func:`escape_formula`, so that an exported file imports as it was stored."""
    if value.startswith("'") and value[1:].startswith(FORMULA_PREFIXES):
        return value[1:]
    return value


def csv_chunks(headers: list[str], rows: Iterable[list[Any]]) -> Iterator[str]:
    """CSV text in chunks, UTF-8 BOM first so that Excel shows Chinese correctly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow([escape_formula(h) for h in headers])
    yield "\ufeff" + buffer.getvalue()
    for count, row in enumerate(rows, start=1):
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(["" if v is None else escape_formula(v) for v in row])
        yield buffer.getvalue()
        if count % 1000 == 0:
            log.debug("csv_export rows=%s", count)


def write_xlsx(headers: list[str], rows: Iterable[list[Any]], target, *, sheet_title: str = "data") -> None:
    """Write a one-sheet workbook to the binary file object ``target``."""
    import openpyxl

    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet(title=sheet_title)
    sheet.append([_xlsx_value(h) for h in headers])
    for row in rows:
        sheet.append([_xlsx_value(v) for v in row])
    workbook.save(target)


def _xlsx_value(value: Any) -> Any:
    if isinstance(value, str):
        return escape_formula(_ILLEGAL_XLSX_CHARS.sub("", value))
    return value
