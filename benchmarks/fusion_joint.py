"""Joint fit of one language pair's fusion: routing (rank experts for a need) and cross-need
(order one expert's needs, own field above others) at once, against the best channel alone.

Both tasks read the same matrix of raw channel scores (needs x experts, see
``fusion_fit.channel_matrix``). A candidate fusion is (lexical power ``p``, lexical weight,
dense shares): the lexical share is first mapped to ``share ** p`` (monotone, so the lexical
channel alone ranks exactly as before), every channel is scaled with the medians of its
unrelated and relevant pairs (a median commutes with a monotone map), then summed with the
weights. The objective is the worst, over the two tasks, of (fusion − best channel alone) on
the development half; ties go to the better sum. Nothing depends on the other candidates of
a need: the fitted constants are the same for every need.
"""

from __future__ import annotations

import itertools

import numpy as np

from .metrics import bootstrap, paired_bootstrap_delta

POWERS = (1.0, 0.75, 0.5, 0.35, 0.25)
LEXICAL_WEIGHTS = tuple(round(float(w), 2) for w in np.linspace(0, 1, 21))


def powered(channels: dict[str, np.ndarray], power: float) -> dict[str, np.ndarray]:
    if power == 1.0:
        return channels
    return {**channels, "lexical": np.power(np.clip(channels["lexical"], 0.0, None), power)}


def medians(channels: dict[str, np.ndarray], relevant: np.ndarray, rows: np.ndarray) -> dict[str, tuple[float, float]]:
    out = {}
    for name, matrix in channels.items():
        values, rel = matrix[rows], relevant[rows]
        ok = ~np.isnan(values)
        out[name] = (round(float(np.median(values[ok & ~rel])), 4), round(float(np.median(values[ok & rel])), 4))
    return out


def fused(channels, scales, lexical_weight: float, shares: dict[str, float]) -> np.ndarray:
    """The engine's text score for every cell (RankingMixin.text_parts / _score_expert)."""
    def scaled(name):
        low, high = scales[name]
        return (channels[name] - low) / (high - low)

    lex = scaled("lexical")
    num, den = np.zeros_like(lex), np.zeros_like(lex)
    for name, share in shares.items():
        if name in channels and share > 0:
            values = scaled(name)
            ok = ~np.isnan(values)
            num += np.where(ok, values * share, 0.0)
            den += np.where(ok, share, 0.0)
    has = den > 0
    semantic = np.where(has, num / np.where(has, den, 1.0), 0.0)
    return np.where(has, lexical_weight * lex + (1 - lexical_weight) * semantic, lex)


def routing_rr(scores: np.ndarray, relevant: np.ndarray, rows: np.ndarray) -> np.ndarray:
    out = []
    for row in np.flatnonzero(rows):
        order = np.argsort(-np.nan_to_num(scores[row], nan=-1e9), kind="stable")
        hits = np.flatnonzero(relevant[row][order])
        out.append(1.0 / (hits[0] + 1) if len(hits) else 0.0)
    return np.asarray(out)


def cross_need_auc(scores: np.ndarray, labels: np.ndarray, rows: np.ndarray, min_side: int = 2) -> np.ndarray:
    """Per expert (column) with >= ``min_side`` labelled needs of each kind among ``rows``: AUC
    of its scores on its own-field needs (label 1) against the others (label 0)."""
    out = []
    for col in range(scores.shape[1]):
        lab = labels[rows, col]
        values = np.nan_to_num(scores[rows, col], nan=-1e9)
        pos, neg = values[lab == 1], values[lab == 0]
        if len(pos) < min_side or len(neg) < min_side:
            continue
        greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
        out.append(greater / (len(pos) * len(neg)))
    return np.asarray(out)


def metrics(scores, relevant, labels, rows) -> dict[str, np.ndarray]:
    return {"routing_mrr": routing_rr(scores, relevant, rows), "cross_need_auc": cross_need_auc(scores, labels, rows)}


def fit_pair(channels: dict[str, np.ndarray], relevant: np.ndarray, labels: np.ndarray, dev: np.ndarray,
             dense_names: list[str], *, powers=POWERS, weights=LEXICAL_WEIGHTS) -> dict:
    """Grid search on the ``dev`` rows; the report has the chosen constants, the dev objective
    and, on the other rows, each task's fusion, channels alone and paired intervals."""
    test = ~dev
    alone = {name: metrics(np.where(np.isnan(m), -1e9, m), relevant, labels, dev) for name, m in channels.items()}
    best_alone = {task: max(float(v[task].mean()) for v in alone.values()) for task in ("routing_mrr", "cross_need_auc")}
    grid_shares = [{d: 1.0} for d in dense_names] if len(dense_names) < 2 else \
        [{dense_names[0]: round(float(s), 2), dense_names[1]: round(1 - float(s), 2)} for s in np.linspace(0, 1, 11)]
    best, trace = None, []
    for power in powers:
        values = powered(channels, power)
        scales = medians(values, relevant, dev)
        for lexical_weight, shares in itertools.product(weights, grid_shares):
            got = metrics(fused(values, scales, lexical_weight, shares), relevant, labels, dev)
            deltas = {t: float(got[t].mean()) - best_alone[t] for t in best_alone}
            key = (round(min(deltas.values()), 6), round(sum(deltas.values()), 6))
            trace.append((key, power, lexical_weight, shares))
            if best is None or key > best[0]:
                best = (key, power, lexical_weight, shares, scales, deltas)
    key, power, lexical_weight, shares, scales, deltas = best
    values = powered(channels, power)
    final = metrics(fused(values, scales, lexical_weight, shares), relevant, labels, test)
    report = {"lexical_power": power, "lexical_weight": lexical_weight, "dense_shares": shares, "scales": scales,
              "dev": {"objective_worst_delta": key[0], "deltas_vs_best_channel": {t: round(v, 4) for t, v in deltas.items()}},
              "dev_rows": int(dev.sum()), "test_rows": int(test.sum()), "test": {}}
    for task, fused_values in final.items():
        block = {"fused": bootstrap(fused_values.tolist())}
        for name, matrix in channels.items():
            own = metrics(np.where(np.isnan(matrix), -1e9, matrix), relevant, labels, test)[task]
            block[name] = bootstrap(own.tolist())
            block[f"fused_minus_{name}"] = paired_bootstrap_delta(fused_values.tolist(), own.tolist())
        report["test"][task] = block
    report["runner_up"] = [{"worst_delta": k[0], "power": p, "lexical_weight": w, "dense_shares": s}
                           for k, p, w, s in sorted(trace, key=lambda t: t[0], reverse=True)[1:6]]
    return report
