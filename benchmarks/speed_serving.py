"""A serving process for :mod:`benchmarks.speed`, as a web worker runs: a fresh process loads
the saved snapshot with every dense channel (it never built anything) and answers the same
fresh needs with the candidates' live attributes. Its resident memory is what one worker holds;
the benchmark's own process also built the index, and its allocator keeps some of the build's
temporaries, so its ``rss_mb_serving`` reads higher."""

from __future__ import annotations

import time

from .speed_encoders import current_rss_mb, percentile


def _serve(path: str, needs, attributes, results) -> None:
    from matcher import Engine, MatcherConfig
    from matcher.embedding import load_channels
    from matcher.store import IndexStore

    encoders, _ = load_channels(None)
    engine = Engine(MatcherConfig(), encoders)
    started = time.perf_counter()
    engine.load_snapshot(IndexStore(path).open_current())
    load_s = time.perf_counter() - started
    for encoder in encoders:  # the runtimes load on first use, as the web app's warm-up makes them
        encoder.encode_queries(["warm-up"])
    loaded = current_rss_mb()
    timings = []
    for need in needs:
        started = time.perf_counter()
        query = engine.prepare_query(need)
        candidates = engine.candidates(query)
        engine.rank(need, {e: attributes[e] for e in candidates}, limit=20, query=query, candidates=candidates)
        timings.append((time.perf_counter() - started) * 1000)
    results.put({"load_s": round(load_s, 1), "rss_mb_after_load_and_warm_up": loaded, "rss_mb_serving": current_rss_mb(),
                 "queries": len(timings), "suggest_p50_ms": percentile(timings, 50),
                 "suggest_p95_ms": percentile(timings, 95)})


def serving_process(path: str, needs, attributes) -> dict:
    """Load the snapshot at ``path`` in a new process, serve ``needs``, report its figures."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # nothing inherited from the building process
    results = context.Queue()
    worker = context.Process(target=_serve, args=(path, needs, attributes, results))
    worker.start()
    try:
        return results.get(timeout=1800)
    finally:
        worker.join()
