"""Stateless batch scoring from JSON Lines files (the ``python -m matcher score`` contract)."""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .engine import Engine
from .records import AchievementRecord, ExpertAttributes, ExpertRecord, NeedRecord
from .text import has_lone_surrogates


class InputError(Exception):
    """Bad input; the message names the file, the line and what is wrong."""


def _lines(path: Path) -> Iterator[tuple[int, dict]]:
    try:
        handle = open(path, encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from None
    seen_any = False
    with handle:
        try:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                seen_any = True
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(f"{path}: line {number}: invalid JSON ({exc.msg} at column {exc.colno})") from None
                except RecursionError:
                    raise InputError(f"{path}: line {number}: JSON nested too deeply") from None
                except ValueError as exc:  # e.g. an integer with thousands of digits
                    raise InputError(f"{path}: line {number}: unreadable value ({exc})") from None
                if has_lone_surrogates(record):
                    raise InputError(f"{path}: line {number}: text contains lone surrogates (\\ud800-\\udfff), which are not text")
                if not isinstance(record, dict):
                    raise InputError(f"{path}: line {number}: expected a JSON object, got {type(record).__name__}")
                yield number, record
        except UnicodeDecodeError:
            raise InputError(f"{path}: not UTF-8 text") from None
    if not seen_any:
        raise InputError(f"{path}: file is empty (expected one JSON object per line)")


def _text(record: dict, key: str, where: str, *, required: bool = False) -> str:
    value = record.get(key)
    if value is None:
        if required:
            raise InputError(f"{where}: missing required field {key!r}")
        return ""
    if not isinstance(value, str):
        raise InputError(f"{where}: field {key!r} must be a string, got {type(value).__name__}")
    if required and not value.strip():
        raise InputError(f"{where}: field {key!r} must not be empty")
    return value


def _id(record: dict, where: str, seen: set[str]) -> str:
    if "id" not in record:
        raise InputError(f"{where}: missing required field 'id'")
    value = record["id"]
    if isinstance(value, bool) or not isinstance(value, (str, int)) or str(value).strip() == "":
        raise InputError(f"{where}: field 'id' must be a non-empty string or integer")
    value = str(value).strip()
    if "," in value or "\n" in value or "\r" in value:
        raise InputError(f"{where}: field 'id' must not contain commas or line breaks")
    if value in seen:
        raise InputError(f"{where}: duplicate id {value!r}")
    seen.add(value)
    return value


def _string_list(record: dict, key: str, where: str) -> tuple[str, ...]:
    value = record.get(key)
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(p.strip() for p in value.replace("，", ",").split(",") if p.strip())
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"{where}: field {key!r} must be a list of strings")
    return tuple(value)


def read_experts(path: Path) -> tuple[list[ExpertRecord], dict[str, ExpertAttributes]]:
    experts, attrs, seen = [], {}, set()
    for number, record in _lines(path):
        where = f"{path}: line {number}"
        expert_id = _id(record, where, seen)
        raw = record.get("achievements", [])
        if not isinstance(raw, list):
            raise InputError(f"{where}: field 'achievements' must be a list")
        achievements = []
        for index, item in enumerate(raw, start=1):
            item_where = f"{where}: achievements[{index}]"
            if not isinstance(item, dict):
                raise InputError(f"{item_where}: must be an object")
            year = item.get("year")
            if year is not None and (isinstance(year, bool) or not isinstance(year, int) or not 1900 <= year <= 2100):
                raise InputError(f"{item_where}: field 'year' must be an integer between 1900 and 2100")
            achievements.append(AchievementRecord(
                id=f"{expert_id}#{index}", title=_text(item, "title", item_where, required=True),
                abstract=_text(item, "abstract", item_where), kind=_text(item, "kind", item_where) or "paper", year=year))
        experts.append(ExpertRecord(
            id=expert_id, name=_text(record, "name", where), summary=_text(record, "summary", where),
            keywords=_string_list(record, "keywords", where), research_areas=_string_list(record, "research_areas", where),
            achievements=tuple(achievements)))
        attrs[expert_id] = ExpertAttributes(organization=_text(record, "organization", where),
                                            region=_text(record, "region", where))
    return experts, attrs


def read_needs(path: Path) -> list[NeedRecord]:
    needs, seen = [], set()
    for number, record in _lines(path):
        where = f"{path}: line {number}"
        need_id = _id(record, where, seen)
        industry = record.get("industry")
        if isinstance(industry, str):
            industry = [industry] if industry else []
        if industry is not None and not (isinstance(industry, list) and all(isinstance(i, str) for i in industry)):
            raise InputError(f"{where}: field 'industry' must be a string or a list of strings")
        needs.append(NeedRecord(
            id=need_id, title=_text(record, "title", where, required=True),
            description=_text(record, "description", where), industry_codes=tuple(industry or ()),
            region=_text(record, "region", where), organization=_text(record, "organization", where)))
    return needs


def score_files(engine: Engine, experts_path: Path, needs_path: Path, out_path: Path, *, top: int | None, all_pairs: bool,
                progress: bool = False) -> int:
    """Score and write ``need_id,expert_id,score`` rows atomically; returns the row count.

    ``all_pairs`` writes every pair (pure affinity, as OpenReview's files); otherwise the top
    ``top`` experts per need after hard constraints (same organisation)."""
    experts, attrs = read_experts(experts_path)
    needs = read_needs(needs_path)
    engine.build(experts, needs, progress=progress)
    out_path = Path(out_path)
    out_dir = out_path.resolve().parent
    if not out_dir.is_dir():
        raise InputError(f"{out_path}: directory {out_dir} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{out_path.name}.", dir=out_dir)
    rows = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            for need in needs:
                ranked = engine.rank(need, attrs, limit=None if all_pairs else top, all_experts=all_pairs,
                                     explain=False, include_excluded=all_pairs)
                for suggestion in ranked:
                    writer.writerow([need.id, suggestion.expert_id, f"{suggestion.relevance:.6f}"])
                    rows += 1
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, out_path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return rows
