"""The English channel (``st``, all-MiniLM-L6-v2) in float32 against bfloat16, on the English
development set. Prints one JSON object; never asserts on a number.

    python -m benchmarks.st_precision [--experts 200]

For each precision the same tasks as :mod:`benchmarks.quality`'s English rows (the ``test``
half of :mod:`benchmarks.english_dev`: author routing, title -> abstract known item) are scored
by ``st`` alone and by the whole engine (``e5`` beside it, as served). Per need reciprocal
ranks give each precision's mean and the paired 95% interval of bfloat16 minus float32 (the
same needs resampled for both). Also: cosine of the two precisions' vectors on the tasks'
passages and needs, and the CPU time per query and per passage of each.

The two precisions write separate spaces of one in-memory embedding store (their model ids
differ here only), so each really encodes every text; ``e5`` vectors are shared.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from matcher import EmbeddingStore, MatcherConfig  # noqa: E402
from matcher.embedding import SentenceTransformerEncoder, load_channel  # noqa: E402

from . import english_dev  # noqa: E402
from .metrics import bootstrap, paired_bootstrap_delta  # noqa: E402
from .quality import KNOWN_ITEM_CANDIDATES  # noqa: E402
from .quality_tasks import ENGINE, Task, build_engine, routing_values, score_systems, system_configs  # noqa: E402

PRECISIONS = ("float32", "bfloat16")


def encoders() -> dict[str, SentenceTransformerEncoder]:
    out = {}
    for dtype in PRECISIONS:
        encoder = SentenceTransformerEncoder(dtype=dtype)
        encoder.model = f"{encoder.model}#{dtype}"  # a store space of its own for this benchmark
        out[dtype] = encoder
    return out


def tasks(experts: int) -> list[tuple[Task, str]]:
    routing = english_dev.expert_routing_task(split="test", max_experts=experts, max_needs=experts)
    known = english_dev.title_to_abstract_task(split="test", size=2 * experts)
    return [(Task("en_routing", *routing), "rr"),
            (Task("en_title_abstract", *known, candidate_items=KNOWN_ITEM_CANDIDATES), "rr@10")]


def agreement(by_dtype: dict[str, SentenceTransformerEncoder], passages: list[str], queries: list[str]) -> dict:
    out = {}
    for label, texts, role in (("passages", passages, "encode_passages"), ("queries", queries, "encode_queries")):
        vectors, cpu = {}, {}
        for dtype, encoder in by_dtype.items():
            getattr(encoder, role)(texts[:4])  # warm-up
            started = time.process_time()
            vectors[dtype] = getattr(encoder, role)(texts) if role == "encode_passages" else np.vstack(
                [encoder.encode_queries([t]) for t in texts])  # queries one at a time, as a suggestion asks
            cpu[dtype] = round(1000 * (time.process_time() - started) / len(texts), 2)
        cosine = np.sum(vectors["float32"] * vectors["bfloat16"], axis=1)
        out[label] = {"texts": len(texts), "cosine_min": round(float(cosine.min()), 5),
                      "cosine_mean": round(float(cosine.mean()), 5), "cpu_ms_per_text": cpu}
    return out


def run(experts: int) -> dict:
    by_dtype = encoders()
    e5 = load_channel("e5")
    store = EmbeddingStore(None)
    report: dict = {"experts": experts, "torch_threads": __import__("torch").get_num_threads()}
    for task, metric in tasks(experts):
        values = {}
        for dtype, encoder in by_dtype.items():
            engine = build_engine(task, [encoder, e5], store)
            configs = {name: config for name, config in system_configs(MatcherConfig(), ["st", "e5"]).items()
                       if name in ("st", ENGINE)}
            rankings = score_systems(engine, task, configs, baseline=False)
            values[dtype] = {name: routing_values(r, task)[metric] for name, r in rankings.items()}
        report[task.name] = {
            "needs": len(task.needs), "metric": metric,
            **{f"{name}_{dtype}": bootstrap(values[dtype][name]) for name in ("st", ENGINE) for dtype in PRECISIONS},
            **{f"{name}_bf16_minus_fp32": paired_bootstrap_delta(values["bfloat16"][name], values["float32"][name])
               for name in ("st", ENGINE)},
        }
        if task.name == "en_routing":
            passages = [f"{a.title}. {a.abstract}" for e in task.experts for a in e.achievements][:256]
            report["agreement"] = agreement(by_dtype, passages, [n.text() for n in task.needs][:100])
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experts", type=int, default=200, help="English experts (routing) and half the abstracts (known item)")
    args = parser.parse_args(argv)
    if args.experts < 1:
        parser.error("--experts must be a positive number")
    logging.basicConfig(level=logging.WARNING)
    started = time.perf_counter()
    report = run(args.experts)
    report["total_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(report, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
