"""Text → tokens: normalisation, language detection, jieba for Chinese, regex for Latin text.

One :class:`TextProcessor` is built per engine. It owns a private jieba tokenizer whose user
dictionary holds taxonomy terms, glossary terms and expert keywords, so a phrase such as
"无乳链球菌" stays one token instead of three fragments.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from .paths import STOPWORDS_DIR

log = logging.getLogger("matcher.text")

CJK_CHAR = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_SEGMENTS = re.compile(r"([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)|([a-z0-9][a-z0-9+#./\-]*)")
LATIN_TOKEN = re.compile(r"[a-z0-9][a-z0-9+#\-]*[a-z0-9+#]|[a-z0-9]")
_LETTER = re.compile(r"[a-zA-Z\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


@functools.lru_cache(maxsize=1)
def _traditional_converter():
    """opencc (pure-Python port) t2s, plus the set of characters it would change."""
    try:
        from opencc import OpenCC
    except ImportError:  # optional: without it traditional text is matched as is
        return None, frozenset()
    converter = OpenCC("t2s")
    dictionary = Path(__import__("opencc").__file__).parent / "dictionary" / "TSCharacters.txt"
    traditional = set()
    for line in dictionary.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) == 2 and parts[0] not in parts[1].split(" "):
            traditional.add(parts[0])
    return converter, frozenset(traditional)


_SURROGATE = re.compile(r"[\ud800-\udfff]")


def has_lone_surrogates(value) -> bool:
    """Lone UTF-16 surrogates (JSON's "\ud800") anywhere in a string, or in the keys and values
    of nested dicts and lists: they are not text, and no database or file can store them."""
    if isinstance(value, str):
        return _SURROGATE.search(value) is not None
    if isinstance(value, dict):
        return any(has_lone_surrogates(k) or has_lone_surrogates(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_lone_surrogates(v) for v in value)
    return False


def normalise(text: str) -> str:
    """Full-width → half-width (NFKC), traditional → simplified, lower-case Latin."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text)
    converter, traditional = _traditional_converter()
    if converter is not None and not traditional.isdisjoint(text):
        text = converter.convert(text)
    return text.lower()


def cjk_ratio(text: str) -> float:
    letters = _LETTER.findall(text or "")
    if not letters:
        return 0.0
    return sum(1 for ch in letters if CJK_CHAR.match(ch)) / len(letters)


def detect_language(text: str) -> str:
    """``zh``, ``en`` or ``none`` for one field, by the share of CJK among letters."""
    letters = _LETTER.findall(text or "")
    if not letters:
        return "none"
    ratio = sum(1 for ch in letters if CJK_CHAR.match(ch)) / len(letters)
    return "zh" if ratio >= 0.3 else "en"


def _read_words(path: Path) -> frozenset[str]:
    if not path.exists():
        return frozenset()
    return frozenset(
        line.strip().lower() for line in path.read_text(encoding="utf-8").splitlines() if line.strip() and not line.startswith("#")
    )


@functools.lru_cache(maxsize=1)
def default_stopwords() -> frozenset[str]:
    return _read_words(STOPWORDS_DIR / "zh.txt") | _read_words(STOPWORDS_DIR / "en.txt")


def fold_plural(token: str) -> str:
    """Plural folding only: enough for matching 'absorbers' to 'absorber' without a stemmer's
    surprises on technical terms."""
    if len(token) > 4 and token.endswith("ies"):
        return token[:-3] + "y"
    if len(token) > 4 and token.endswith(("ches", "shes", "sses", "xes")):
        return token[:-2]
    if len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is", "os")):
        return token[:-1]
    return token


class TextProcessor:
    """Tokenises normalised text; Chinese with jieba and a domain user dictionary."""

    def __init__(self, user_terms: Iterable[str] = (), stopwords: frozenset[str] | None = None, cjk_bigrams: bool = False) -> None:
        import jieba

        self.stopwords = default_stopwords() if stopwords is None else stopwords
        self.cjk_bigrams = cjk_bigrams
        self._jieba = jieba.Tokenizer()
        jieba.setLogLevel(logging.WARNING)
        self._jieba.initialize()
        self.user_terms: set[str] = set()
        self._lock = threading.Lock()
        self.add_terms(user_terms)

    def add_terms(self, terms: Iterable[str]) -> None:
        """Teach the segmenter multi-character domain terms (idempotent, thread-safe)."""
        with self._lock:
            for term in terms:
                term = normalise(term).strip()
                if 2 <= len(term) <= 20 and CJK_CHAR.search(term) and " " not in term and term not in self.user_terms:
                    self.user_terms.add(term)
                    self._jieba.add_word(term, freq=max(2000, self._jieba.suggest_freq(term, tune=False)))

    def tokens(self, text: str, *, normalised: bool = False) -> list[str]:
        """Tokens in order, stopwords removed: Chinese words and sub-words (plus ``#``-prefixed
        character bigrams), Latin words with plurals folded."""
        if not normalised:
            text = normalise(text)
        out: list[str] = []
        for match in _SEGMENTS.finditer(text):
            chinese, latin = match.groups()
            if chinese:
                # Search mode keeps a dictionary term whole *and* emits its sub-words, so
                # "无乳链球菌病" matches "链球菌" too; bigrams catch what segmentation splits.
                words = self._jieba.cut_for_search(chinese, HMM=True)
                out.extend(w for w in words if w not in self.stopwords)
                if self.cjk_bigrams:
                    out.extend("#" + chinese[i : i + 2] for i in range(len(chinese) - 1))
            else:
                for token in LATIN_TOKEN.findall(latin):
                    if token in self.stopwords or (len(token) == 1 and not token.isdigit()):
                        continue
                    out.append(fold_plural(token))
        return out
