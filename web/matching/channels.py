"""The engine as the service builds it: the configured dense channels (one instance per
process), the embedding store in the instance folder backed by the shipped demo vectors, and
what ``/healthz`` and ``matcher status`` say about each channel."""

from __future__ import annotations

import functools

from flask import current_app

from matcher import EmbeddingStore, Engine, MatcherConfig
from matcher.embedding import load_channels, parse_channel_names
from matcher.embstore import shipped_seeds


@functools.lru_cache(maxsize=4)
def embedding_store(path: str) -> EmbeddingStore:
    return EmbeddingStore(path or None, seeds=shipped_seeds())


def configured_channels(model_spec: str | None = None):
    config = current_app.config
    spec = config["MATCHER_EMBEDDING_MODEL"] if model_spec is None else model_spec
    return load_channels(spec or None, parse_channel_names(config.get("MATCHER_DENSE_CHANNELS", "")))


def new_engine(model_spec: str | None = None) -> Engine:
    encoders, _errors = configured_channels(model_spec)
    return Engine(MatcherConfig(), encoders, store=embedding_store(current_app.config.get("EMBEDDING_STORE", "")))


def channel_status(model_spec: str | None = None) -> dict:
    """Each configured dense channel: loaded (with model, dimension, languages) or why not."""
    encoders, errors = configured_channels(model_spec)
    report = {e.name: {"status": "ok", "model": e.model, "dim": e.dim, "languages": sorted(e.languages)} for e in encoders}
    report.update({name: {"status": "unavailable", "error": error} for name, error in errors.items()})
    return report
