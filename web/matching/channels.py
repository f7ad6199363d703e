"""The engine as the service builds it: the configured dense channels (one instance per
process), the embedding store in the instance folder backed by the shipped demo vectors, and
what ``/healthz`` and ``matcher status`` say about each channel."""

from __future__ import annotations

import functools
import os

from flask import current_app

from matcher import EmbeddingStore, Engine, MatcherConfig
from matcher.embedding import CHINESE_PROBE, load_channels, parse_channel_names
from matcher.embstore import DatabaseRows, shipped_seeds
from models import db


@functools.lru_cache(maxsize=4)
def embedding_store(path: str) -> EmbeddingStore:
    """``database``: the ``embedding_vectors`` table of the app's database (shared by every
    machine); otherwise a SQLite file of its own; empty: memory only."""
    if path == "database":
        return EmbeddingStore(DatabaseRows(lambda: db.engine), seeds=shipped_seeds())
    return EmbeddingStore(path or None, seeds=shipped_seeds())


def configured_store() -> EmbeddingStore:
    return embedding_store(current_app.config.get("EMBEDDING_STORE", ""))


def configured_channels(model_spec: str | None = None):
    config = current_app.config
    spec = config["MATCHER_EMBEDDING_MODEL"] if model_spec is None else model_spec
    return load_channels(spec or None, parse_channel_names(config.get("MATCHER_DENSE_CHANNELS", "")))


def new_engine(model_spec: str | None = None) -> Engine:
    encoders, _errors = configured_channels(model_spec)
    return Engine(MatcherConfig(), encoders, store=configured_store())


_probes: dict[tuple[int, str], str | None] = {}


def _probe(encoder) -> str | None:
    """Encode one sentence in this process, once (a native library that loads but hangs or
    fails after a fork shows here); None when it works, else the error."""
    key = (os.getpid(), encoder.fingerprint)
    if key not in _probes:
        try:
            vector = encoder.encode_queries([CHINESE_PROBE if encoder.covers("zh") else "probe sentence"])[0]
            _probes[key] = None if abs(float((vector**2).sum()) - 1.0) < 1e-3 else "vector is not unit length"
        except Exception as exc:  # any failure of a native engine is reported, never raised
            _probes[key] = f"{type(exc).__name__}: {exc}"
    return _probes[key]


def channel_status(model_spec: str | None = None) -> dict:
    """Each configured dense channel: loaded and encoding in this process (with model,
    dimension, languages), or why not. The service matches with the channels it has."""
    encoders, errors = configured_channels(model_spec)
    report = {}
    for e in encoders:
        problem = _probe(e)
        report[e.name] = {"status": "ok" if problem is None else "failing", "model": e.model, "dim": e.dim,
                          "languages": sorted(e.languages), "pid": os.getpid(), **({"error": problem} if problem else {})}
    report.update({name: {"status": "unavailable", "error": error} for name, error in errors.items()})
    return report
