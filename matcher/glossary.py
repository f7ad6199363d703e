"""Bilingual terms and colloquial → technical synonyms, used to expand a query.

``data/glossary/terms.tsv`` pairs Chinese and English names of one concept; ``synonyms.tsv``
maps what a farmer or foreman says to what a researcher writes. A need in English thereby
reaches an expert who writes in Chinese, and "弹簧断了" reaches "断裂".
"""

from __future__ import annotations

import csv
import functools
import re
from dataclasses import dataclass
from pathlib import Path

from .paths import GLOSSARY_DIR
from .text import CJK_CHAR, LATIN_TOKEN, fold_plural, normalise

MAX_ZH_PHRASE = 12
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
MAX_EN_WORDS = 4


@dataclass(frozen=True)
class Expansion:
    source: str  # the phrase found in the query
    target: str  # the phrase added to it
    kind: str  # "translation" | "synonym"


def _en_key(phrase: str) -> str:
    return " ".join(fold_plural(t) for t in LATIN_TOKEN.findall(normalise(phrase)))


class Glossary:
    def __init__(self) -> None:
        self._zh: dict[str, list[tuple[str, str]]] = {}
        self._en: dict[str, list[tuple[str, str]]] = {}
        self.terms: set[str] = set()

    def _add(self, index: dict, key: str, target: str, kind: str) -> None:
        if key and target and key != target and (target, kind) not in index.setdefault(key, []):
            index[key].append((target, kind))

    def add_concept(self, zh_variants: list[str], en_variants: list[str]) -> None:
        zh = [normalise(v).strip() for v in zh_variants if v.strip()]
        en = [v.strip() for v in en_variants if v.strip()]
        self.terms.update(zh)
        for z in zh:
            for other in zh:
                self._add(self._zh, z, other, "synonym")
            for e in en:
                self._add(self._zh, z, normalise(e), "translation")
        for e in en:
            key = _en_key(e)
            for other in en:
                self._add(self._en, key, normalise(other), "synonym")
            for z in zh:
                self._add(self._en, key, z, "translation")

    def add_synonym(self, colloquial: str, technical: list[str]) -> None:
        source = normalise(colloquial).strip()
        for term in technical:
            term = normalise(term).strip()
            if CJK_CHAR.search(source):
                self._add(self._zh, source, term, "synonym")
            else:
                self._add(self._en, _en_key(source), term, "synonym")
            if CJK_CHAR.search(term):
                self.terms.add(term)

    def expand(self, text: str) -> list[Expansion]:
        """Every glossary phrase found in ``text`` (longest first per position) and what it adds."""
        text = normalise(text)
        found: list[Expansion] = []
        seen: set[tuple[str, str]] = set()
        for run in (m.group(0) for m in _CJK_RUN.finditer(text)):
            for start in range(len(run)):
                for length in range(min(MAX_ZH_PHRASE, len(run) - start), 1, -1):
                    phrase = run[start : start + length]
                    for target, kind in self._zh.get(phrase, ()):
                        if (phrase, target) not in seen:
                            seen.add((phrase, target))
                            found.append(Expansion(phrase, target, kind))
        words = [fold_plural(t) for t in LATIN_TOKEN.findall(text)]
        for start in range(len(words)):
            for length in range(min(MAX_EN_WORDS, len(words) - start), 0, -1):
                phrase = " ".join(words[start : start + length])
                for target, kind in self._en.get(phrase, ()):
                    if (phrase, target) not in seen:
                        seen.add((phrase, target))
                        found.append(Expansion(phrase, target, kind))
        return found


def _split(cell: str) -> list[str]:
    return [part.strip() for part in (cell or "").split("|") if part.strip()]


def read_glossary(directory: Path = GLOSSARY_DIR) -> Glossary:
    glossary = Glossary()
    terms = directory / "terms.tsv"
    if terms.exists():
        with open(terms, encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle, delimiter="\t"):
                glossary.add_concept(_split(row.get("zh", "")), _split(row.get("en", "")))
    synonyms = directory / "synonyms.tsv"
    if synonyms.exists():
        with open(synonyms, encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle, delimiter="\t"):
                glossary.add_synonym(row.get("colloquial", ""), _split(row.get("technical", "")))
    return glossary


@functools.lru_cache(maxsize=1)
def default_glossary() -> Glossary:
    return read_glossary()
