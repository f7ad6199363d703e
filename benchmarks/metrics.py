"""Ranking metrics with bootstrap confidence intervals over queries."""

from __future__ import annotations

import math

import numpy as np


def reciprocal_rank(ranked: list[str], relevant: str, cutoff: int | None = None) -> float:
    for position, item in enumerate(ranked[:cutoff] if cutoff else ranked, start=1):
        if item == relevant:
            return 1.0 / position
    return 0.0


def hit_at(ranked: list[str], relevant: str, k: int) -> float:
    return 1.0 if relevant in ranked[:k] else 0.0


def ndcg_at(ranked: list[str], gains: dict[str, int], k: int = 10) -> float:
    dcg = sum((2 ** gains.get(item, 0) - 1) / math.log2(position + 1) for position, item in enumerate(ranked[:k], start=1))
    ideal = sorted(gains.values(), reverse=True)[:k]
    idcg = sum((2**g - 1) / math.log2(position + 1) for position, g in enumerate(ideal, start=1))
    return dcg / idcg if idcg > 0 else 0.0


def bootstrap(values: list[float], rounds: int = 1000, seed: int = 7) -> tuple[float, float, float]:
    """(mean, low, high) with a 95% percentile interval over resampled queries."""
    data = np.asarray(values, dtype=float)
    if len(data) == 0:
        return (float("nan"),) * 3
    rng = np.random.default_rng(seed)
    samples = rng.integers(0, len(data), size=(rounds, len(data)))
    means = data[samples].mean(axis=1)
    return float(data.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def paired_bootstrap_delta(a: list[float], b: list[float], rounds: int = 1000, seed: int = 11) -> tuple[float, float, float]:
    """Mean of a - b with a 95% interval, resampling the same queries for both systems."""
    return bootstrap([x - y for x, y in zip(a, b, strict=True)], rounds, seed)


def first_relevant_rank(ranked: list[str], relevant: set[str] | frozenset[str]) -> int | None:
    """1-based position of the best-ranked relevant item, None if none is ranked."""
    for position, item in enumerate(ranked, start=1):
        if item in relevant:
            return position
    return None


def reciprocal_rank_any(ranked: list[str], relevant: set[str] | frozenset[str], cutoff: int | None = None) -> float:
    """Reciprocal rank of the best-ranked of several relevant items (0 beyond ``cutoff``)."""
    position = first_relevant_rank(ranked, relevant)
    if position is None or (cutoff and position > cutoff):
        return 0.0
    return 1.0 / position


def roc_auc(positives: list[float], negatives: list[float]) -> float:
    """Probability that a positive outscores a negative (ties count 1/2); nan if a side is empty."""
    if not positives or not negatives:
        return float("nan")
    neg = np.sort(np.asarray(negatives, dtype=float))
    pos = np.asarray(positives, dtype=float)
    below = np.searchsorted(neg, pos, side="left")
    ties = np.searchsorted(neg, pos, side="right") - below
    return float((below + 0.5 * ties).sum() / (len(pos) * len(neg)))


def expected_calibration_error(probabilities: list[float], outcomes: list[bool], bins: int = 10) -> float:
    """Sum over equal-width probability bins of (share of pairs) x |mean probability - share relevant|."""
    p = np.asarray(probabilities, dtype=float)
    y = np.asarray(outcomes, dtype=float)
    if len(p) == 0:
        return float("nan")
    index = np.minimum((p * bins).astype(int), bins - 1)
    error = 0.0
    for b in range(bins):
        mask = index == b
        if mask.any():
            error += mask.mean() * abs(p[mask].mean() - y[mask].mean())
    return float(error)
