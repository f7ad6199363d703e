"""A fast pass over the raw worksheet XML of an uploaded workbook, before openpyxl reads it.

openpyxl parses a sheet without a ``<dimension>`` element twice and spends Python time on
every element, so 200,000 formatted but empty rows cost seconds. This pass, with regular
expressions only, drops the rows that certainly hold nothing (every cell self-closing or
with an empty value) and refuses a row whose cells beyond the column limit hold a value.
It is conservative: whatever it does not recognise as blank is left for openpyxl, whose
parser (with defusedxml) stays the only one that interprets the XML. Dropped rows keep
their numbers because each kept row carries its own ``r`` attribute.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable

_ROW = re.compile(rb"<row\b[^>]*?/>|<row\b[^>]*>.*?</row>", re.S)
_BLANK_CELL = (rb"<c\b[^>]*?/>|<c\b[^>]*>(?:\s|<v\s*/>|<v>\s*</v>|<is\s*/>"
               rb"|<is>\s*(?:<t\b[^>]*/>|<t\b[^>]*>\s*</t>)?\s*</is>)*</c>")
_BLANK_CELL_RE = re.compile(_BLANK_CELL)
# A numbered row with nothing in it; matched and removed by one C-level re.subn over the sheet.
_BLANK_ROW = re.compile(rb"""<row\b[^>]*?\sr\s*=\s*["'][0-9]+["'][^>]*?(?:/>|>(?:\s|""" + _BLANK_CELL + rb")*</row>)")
_CELL = re.compile(rb"<c\b[^>]*?/>|<c\b[^>]*>.*?</c>", re.S)
_CELL_COLUMN = re.compile(rb"""\A<c\b[^>]*?\sr\s*=\s*["']([A-Z]{1,3})([0-9]+)["']""")
_REF = re.compile(rb"""<c\b[^>]*?\sr\s*=\s*["']([A-Z]{1,3})[0-9]+["']""")
_SHEET = re.compile(r"\Axl/worksheets/[^/]+\.xml\Z")


def column_number(letters: bytes) -> int:
    number = 0
    for char in letters:
        number = number * 26 + (char - 64)
    return number


def _check_width(xml: bytes, max_columns: int, refuse: Callable[[int], Exception]) -> None:
    """Refuse the first row with a value in a column beyond ``max_columns``."""
    if all(column_number(ref) <= max_columns for ref in set(_REF.findall(xml))):
        return
    for row in _ROW.finditer(xml):
        for cell in _CELL.finditer(row.group()):
            position = _CELL_COLUMN.match(cell.group())
            if (position and column_number(position.group(1)) > max_columns
                    and not _BLANK_CELL_RE.fullmatch(cell.group())):
                raise refuse(int(position.group(2)))


def trimmed_sheet(xml: bytes, max_columns: int, refuse: Callable[[int], Exception]) -> bytes | None:
    """The sheet without its certainly-blank numbered rows, or None when nothing was dropped."""
    trimmed, dropped = _BLANK_ROW.subn(b"", xml)
    _check_width(trimmed, max_columns, refuse)
    return trimmed if dropped else None


def without_blank_rows(data: bytes, max_columns: int, refuse: Callable[[int], Exception]) -> bytes:
    """The workbook with blank rows dropped from every worksheet (the same bytes if none)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    replaced: dict[str, bytes] = {}
    with source:
        for info in source.infolist():
            if _SHEET.match(info.filename):
                trimmed = trimmed_sheet(source.read(info), max_columns, refuse)
                if trimmed is not None:
                    replaced[info.filename] = trimmed
        if not replaced:
            return data
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as target:
            for info in source.infolist():
                target.writestr(info, replaced.get(info.filename) or source.read(info))
    return out.getvalue()
