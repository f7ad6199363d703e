"""Which of a need's terms a coordinator is shown as evidence of a match.

Evidence must be checkable: a domain word the expert's closest work contains. Function and
generic words (``data/stopwords/evidence.txt``), single characters, bare numbers and measures
("45℃", "10mm", "88%") are never shown, however they scored.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from .paths import STOPWORDS_DIR
from .text import CJK_CHAR

MAX_TERMS = 12
_MEASURE = re.compile(r"^[+-]?\d[\d.,:/×x%‰-]*(?:[a-zµμ°℃%‰]{0,4}|[\u4e00-\u9fff]{0,1})$")


@functools.lru_cache(maxsize=1)
def generic_words() -> frozenset[str]:
    path = STOPWORDS_DIR / "evidence.txt"
    return frozenset(line.strip().lower() for line in path.read_text(encoding="utf-8").splitlines()
                     if line.strip() and not line.startswith("#"))


def is_evidence_term(token: str, domain_terms: set[str] | frozenset[str] = frozenset()) -> bool:
    """True for a token worth showing as matched evidence."""
    if not token or token.startswith("#") or token in generic_words():
        return False
    if token in domain_terms:
        return True
    if _MEASURE.match(token):
        return False
    if len(token) == 1:
        return False
    cjk = sum(1 for ch in token if CJK_CHAR.match(ch))
    return not (cjk == len(token) and cjk < 2)


def evidence_terms(query, idf: Callable[[str], float], domain_terms: set[str]) -> list[str]:
    """The need's terms that may be shown, most informative first (once per need)."""
    terms = [t for t in query.terms if is_evidence_term(t, domain_terms)]
    terms.sort(key=lambda t: (-query.terms[t], -idf(t), t))
    return terms


def matched_terms(query, item_ids: list[int], found: dict[int, set[str]], idf: Callable[[str], float],
                  domain_terms: set[str], terms: list[str] | None = None) -> list[dict]:
    """The need's terms found in the given items, most informative first, each with the
    phrase of the need it was expanded from (``via``), longest forms only. ``terms``: the
    need's :func:`evidence_terms`, when already computed."""
    if terms is None:
        terms = evidence_terms(query, idf, domain_terms)
    matched: list[dict] = []
    seen: set[str] = set()
    for item_id in item_ids:
        for token in terms:
            if token in found.get(item_id, ()) and token not in seen:
                seen.add(token)
                entry = {"term": token}
                if token in query.origins:
                    entry["via"] = query.origins[token]
                matched.append(entry)
    words = [t["term"] for t in matched]
    return [t for t in matched if not any(t["term"] != w and t["term"] in w for w in words)][:MAX_TERMS]
