"""Reading a pasted publication list, one citation per line, into achievement fields.

A professor pastes the reference list of a CV or a grant report. Each line is tried against
the citation styles met in Chinese and international lists, in this order:

- ``gbt7714`` — GB/T 7714, with the document type in brackets: ``作者. 题名[J]. 刊名, 年, 卷(期): 页.``,
  ``作者. 题名[C]//会议文集. 地点: 出版者, 年.``, ``作者. 书名[M]. 地点: 出版者, 年.``,
  ``发明人. 专利名: 国别, 专利号[P]. 公告日期.`` (also [D] thesis, [S] standard, [R] report, [N] newspaper);
- ``ieee`` — ``A. Author and B. Author, "Title," Venue, vol. 1, no. 2, pp. 3–4, 2020.``;
- ``apa`` — ``Author, A., & Author, B. (2020). Title. Venue, 1(2), 3–4.``;
- ``acl`` — ACL Anthology: ``First Last and First Last. 2020. Title. In Proceedings of …, pages 1–10.``;
- ``plain`` — any other line holding a year, as in ``题名, 刊名, 2021``: read as title (and venue), with a note.

A line none of these reads comes back with the reason (``problem``) and its text, so the
preview can show it and the professor can still keep it as a title. Nothing here touches the
database or Flask: the rows are checked against the field spec and stored by
:mod:`web.domain.experts`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import N_, Problem

# Document types: GB/T 7714 code → (type, achievement kind).
GBT_TYPES = {
    "J": ("journal", "paper"), "C": ("conference", "paper"), "M": ("book", "paper"), "P": ("patent", "patent"),
    "D": ("thesis", "paper"), "S": ("standard", "standard"), "R": ("report", "paper"), "N": ("newspaper", "paper"),
    "A": ("book", "paper"), "G": ("book", "paper"), "Z": ("other", "paper"), "EB": ("online", "paper"),
}
KIND_OF_TYPE = {"journal": "paper", "conference": "paper", "book": "paper", "thesis": "paper", "patent": "patent",
                "standard": "standard", "report": "paper", "newspaper": "paper", "online": "paper", "other": "paper"}
DOC_TYPES = tuple(KIND_OF_TYPE)

_YEAR = r"(?:19[5-9]\d|20\d\d)"
_YEAR_RE = re.compile(rf"(?<![0-9A-Za-z]){_YEAR}(?![0-9])")
_NUMBERING = re.compile(r"^\s*(?:\[\d{1,4}\]|［\d{1,4}］|\(\d{1,4}\)|\d{1,4}[.、)）]\s|\d{1,4}、|[-*•·]\s*)\s*")
_BRACKETS = str.maketrans({"［": "[", "］": "]", "【": "[", "】": "]", "“": '"', "”": '"'})
_PERIOD = r"[.。．]"

_GBT = re.compile(r"^(?P<head>.+?)\s*\[(?P<code>[A-Z]{1,2})(?:/OL)?\]\s*(?P<rest>.*)$")
_IEEE = re.compile(r'^(?P<authors>[^"]*?[^\s,"]),?\s*"(?P<title>[^"]+?)[,.]?\s*"\s*,?\s*(?P<rest>.*)$')
_APA = re.compile(rf"^(?P<authors>.+?)\s*\((?P<year>{_YEAR})[a-z]?(?:,[^)]*)?\)\.?\s+"
                  r"(?P<title>(?:[^()]|\([^()]*\))+?[.?!])\s+(?P<rest>.+)$")
_APA_NO_VENUE = re.compile(rf"^(?P<authors>.+?)\s*\((?P<year>{_YEAR})[a-z]?(?:,[^)]*)?\)\.?\s+(?P<title>.+?)[.?!]?$")
_ACL = re.compile(rf"^(?P<authors>.+?)\.\s+(?P<year>{_YEAR})[a-z]?\.\s+(?P<title>.+?[.?!])\s+(?P<rest>.+)$")
_CONFERENCE_WORDS = re.compile(r"proceedings|proc\.|conference|conf\.|workshop|symposium|会议|论坛", re.I)
_PATENT_WORDS = re.compile(r"patent|专利", re.I)
_THESIS_WORDS = re.compile(r"dissertation|thesis|学位论文", re.I)
_KIND_HINTS = (  # for lines in no known style
    ("patent", ("专利", "patent", "zl")),
    ("standard", ("标准", "standard", "gb/t", "ny/t", "db")),
    ("project", ("项目", "课题", "基金", "project", "grant")),
    ("award", ("奖", "award", "prize")),
)

NOT_A_CITATION = N_("not a citation we can read (GB/T 7714, APA, IEEE or ACL style) and no year in it")
NO_TITLE = N_("no title found in the line")


@dataclass
class CitationRow:
    """One pasted line, read or not. ``problem`` says why a line was not read; ``note`` is a
    caution about a line read by guessing (the ``plain`` style)."""

    line: int
    text: str
    style: str = ""  # gbt7714 | ieee | apa | acl | plain; "" when not read
    doc_type: str = ""  # one of DOC_TYPES
    kind: str = ""  # an AchievementKind value
    title: str = ""
    authors: str = ""
    venue: str = ""
    year: int | None = None
    problem: Problem | None = None
    note: Problem | None = None

    @property
    def read(self) -> bool:
        return self.problem is None

    def fields(self) -> dict:
        """The achievement fields of the row (what the preview shows and the confirm form sends)."""
        return {"kind": self.kind or "paper", "title": self.title, "authors": self.authors, "venue": self.venue,
                "year": self.year, "abstract": ""}


def _tidy(text: str) -> str:
    return " ".join(text.split()).strip(" ,，;；:：.。．")


def _first_year(*texts: str) -> int | None:
    for text in texts:
        found = _YEAR_RE.search(text or "")
        if found:
            return int(found.group(0))
    return None


def _last_year(text: str) -> int | None:
    found = _YEAR_RE.findall(text or "")
    return int(found[-1]) if found else None


def _gbt(row: CitationRow, line: str) -> bool:
    found = _GBT.match(line)
    if not found or found.group("code") not in GBT_TYPES:
        return False
    head, code, rest = found.group("head"), found.group("code"), found.group("rest")
    row.doc_type, row.kind = GBT_TYPES[code]
    split = re.search(rf"{_PERIOD}\s*(?=\D)", head)
    authors, title = (head[:split.start()], head[split.end():]) if split else ("", head)
    rest = rest.lstrip("/.。． ")
    if code == "P" and re.search(r"[:：]", title):
        title, _, number = re.split(r"([:：])", title, maxsplit=1)
        row.venue = _tidy(number)
    elif code in ("M", "D", "A", "G", "R", "S"):  # 出版地: 出版者, 年
        publisher = re.split(r"[:：]", rest, maxsplit=1)[-1]
        row.venue = _tidy(re.split(r"[,，]", publisher)[0])
    elif code == "C":  # //文集名. 出版地: 出版者, 年: 页码
        row.venue = _tidy(re.split(rf"{_PERIOD}\s|{_PERIOD}(?=[\u4e00-\u9fff])", rest)[0])
    else:  # 刊名, 年, 卷(期): 页码
        row.venue = _tidy(re.split(r"[,，]", rest)[0])
    if row.venue and _YEAR_RE.fullmatch(row.venue):
        row.venue = ""
    row.authors, row.title = _tidy(authors), _tidy(title)
    row.year = _first_year(rest, head)
    row.style = "gbt7714"
    return True


def _venue_before_details(rest: str, *, abbreviated: bool = False) -> str:
    """The venue at the start of ``rest``: up to the volume, pages, place or year that follow it.
    An ``abbreviated`` venue (IEEE's "IEEE Trans. Ind. Electron.") ends at a comma only."""
    rest = re.sub(r"^in:?\s+", "", rest.strip(), flags=re.I)
    rest = re.sub(r"^.*?\((?:eds?|hrsg)\.\),\s*", "", rest, flags=re.I)  # "A. Editor (Ed.), Book"
    if abbreviated:
        return " ".join(rest.split(",")[0].split())
    return _tidy(re.split(r",|\s\(pp\.|\.\s", rest)[0])


def _doc_type_of(rest: str, title: str = "") -> str:
    if _PATENT_WORDS.search(rest) or _PATENT_WORDS.search(title):
        return "patent"
    if _THESIS_WORDS.search(rest):
        return "thesis"
    if re.match(r"^in:?\s", rest.strip(), re.I) or _CONFERENCE_WORDS.search(rest):
        return "conference"
    return "journal"


def _ieee(row: CitationRow, line: str) -> bool:
    found = _IEEE.match(line)
    if not found or not re.search(r"[A-Za-z\u4e00-\u9fff]", found.group("authors")):
        return False
    rest = found.group("rest")
    row.authors, row.title = _tidy(found.group("authors")), _tidy(found.group("title"))
    row.doc_type = _doc_type_of(rest)
    row.venue = _venue_before_details(rest, abbreviated=True) if row.doc_type != "patent" else _tidy(rest.split(",")[0])
    row.year = _last_year(rest)
    row.style = "ieee"
    return True


def _apa(row: CitationRow, line: str) -> bool:
    found = _APA.match(line) or _APA_NO_VENUE.match(line)
    if not found:
        return False
    rest = found.groupdict().get("rest") or ""
    title = found.group("title")
    patent = re.search(r"\(([^()]*patent[^()]*)\)", title, re.I)
    if patent:
        row.doc_type, row.venue = "patent", _tidy(patent.group(1))
        title = title.replace(patent.group(0), "")
    elif re.match(r"^in:?\s", rest, re.I):
        row.doc_type = "conference" if _CONFERENCE_WORDS.search(rest) else "book"
        row.venue = _venue_before_details(rest)
    elif re.search(r",\s*\d+\s*(?:\(\d+\))?\s*,|,\s*\d+\s*\(\d+\)", rest):  # volume(issue), pages
        row.doc_type, row.venue = "journal", _venue_before_details(rest)
    elif rest:
        row.doc_type = "thesis" if _THESIS_WORDS.search(title + rest) else "book"
        row.venue = _tidy(re.split(r"\.\s|https?://", rest)[0])
    else:
        row.doc_type = "other"
    row.authors, row.title, row.year = _tidy(found.group("authors")), _tidy(title), int(found.group("year"))
    row.style = "apa"
    return True


def _acl(row: CitationRow, line: str) -> bool:
    found = _ACL.match(line)
    if not found:
        return False
    rest = found.group("rest")
    row.authors, row.title, row.year = _tidy(found.group("authors")), _tidy(found.group("title")), int(found.group("year"))
    row.doc_type = _doc_type_of(rest)
    row.venue = re.split(r",\s*pages\b|,\s*\d|,\s*(?:volume|vol\.)", re.sub(r"^in:?\s+", "", rest, flags=re.I))[0]
    row.venue = _tidy(row.venue)
    row.style = "acl"
    return True


def _plain(row: CitationRow, line: str) -> bool:
    """``题名, 刊名, 2021`` or any line with a year: the last part holding the year closes the line."""
    year = _first_year(line)
    if year is None:
        return False
    lowered = line.lower()
    row.kind = next((k for k, hints in _KIND_HINTS if any(h in lowered for h in hints)), "paper")
    row.doc_type = {"patent": "patent", "standard": "standard"}.get(row.kind, "other")
    parts = [p for p in re.split(r"\s*[,，;；]\s*", line) if p.strip()]
    if len(parts) >= 2 and _YEAR_RE.search(parts[-1]):
        tail = _tidy(re.sub(rf"[(（]?(?<![0-9A-Za-z]){_YEAR}(?![0-9])[)）]?", "", parts[-1]))
        if tail:  # "SAE paper 2023": the venue holds the year
            row.venue, row.title = tail, "，".join(parts[:-1]) if _has_cjk(line) else ", ".join(parts[:-1])
        else:
            body = parts[:-1]
            row.venue = body[-1] if len(body) >= 2 else ""
            kept = body[:-1] if len(body) >= 2 else body
            row.title = ("，" if _has_cjk(line) else ", ").join(kept)
        row.title, row.venue = _tidy(row.title), _tidy(row.venue)
    else:
        row.title = _tidy(line)
    row.year = year
    row.style = "plain"
    row.note = N_("no citation style recognised: check the title, venue and kind")
    return True


def _has_cjk(text: str) -> bool:
    return bool(re.search(r"[\u4e00-\u9fff]", text))


def parse_citation(text: str, line: int = 1) -> CitationRow:
    """Read one line. The row carries the line's text whatever happens."""
    clean = " ".join(_NUMBERING.sub("", text.translate(_BRACKETS)).split())
    row = CitationRow(line=line, text=" ".join(text.split()))
    if not any(read(row, clean) for read in (_gbt, _ieee, _apa, _acl, _plain)):
        return CitationRow(line=line, text=row.text, title=clean, problem=NOT_A_CITATION)
    if not row.kind:
        row.kind = KIND_OF_TYPE.get(row.doc_type, "paper")
    if not row.title:
        return CitationRow(line=line, text=row.text, title=clean, problem=NO_TITLE)
    return row


def parse_citations(text: str) -> list[CitationRow]:
    """One row per non-empty line of ``text``, numbered by the line's place in the paste."""
    return [parse_citation(raw, number) for number, raw in enumerate((text or "").splitlines(), start=1) if raw.strip()]
