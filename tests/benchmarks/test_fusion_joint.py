"""The joint fit of a language pair's fusion (benchmarks.fusion_joint): it scores cells the way
the engine does, and its objective keeps both tasks at or above their best channel alone."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.fusion_joint import cross_need_auc, fit_pair, fused
from benchmarks.metrics import roc_auc
from matcher import Engine, MatcherConfig


def test_fused_is_the_engines_text_score():
    config = MatcherConfig()
    engine = Engine(config, None)
    for pair, raw in (("en-en", {"lexical": 0.05, "st": 0.31, "e5": 0.83}), ("zh-zh", {"lexical": 0.02, "e5": 0.86})):
        parts = engine.text_parts(pair, raw)
        weights, _ = config.score_weights(pair)
        expected = sum(weights[p] * parts[p] for p in parts) / sum(weights.values())
        channels = {name: np.array([[value]]) for name, value in raw.items()}
        got = fused(channels, config.channel_scales[pair], config.fusion_weights[pair]["lexical"], config.dense_shares[pair])
        assert got[0, 0] == pytest.approx(expected, abs=1e-9)


def test_cross_need_auc_is_each_experts_auc_over_its_labelled_needs():
    rng = np.random.default_rng(3)
    scores = rng.normal(size=(12, 4))
    labels = np.full((12, 4), np.nan)
    labels[:6, :] = 1
    labels[6:11, :] = 0  # row 11 unlabelled
    rows = np.ones(12, dtype=bool)
    got = cross_need_auc(scores, labels, rows)
    expected = [roc_auc(scores[:6, c].tolist(), scores[6:11, c].tolist()) for c in range(4)]
    assert got.tolist() == pytest.approx(expected)


def complementary_channels(seed: int = 5):
    """'lexical' ranks experts within a need well but carries a large per-need offset (its
    scores do not compare across needs); 'st' compares across needs but is noisier."""
    rng = np.random.default_rng(seed)
    needs, experts, fields = 160, 40, 8
    need_field, expert_field = rng.integers(0, fields, needs), np.arange(experts) % fields
    truth = (need_field[:, None] == expert_field[None, :]).astype(float)
    lexical = truth + 0.7 * rng.normal(size=truth.shape) + 0.8 * rng.normal(size=(needs, 1))
    st = truth + 0.8 * rng.normal(size=truth.shape)
    relevant = truth.astype(bool)
    dev = np.arange(needs) % 2 == 0
    return {"lexical": lexical, "st": st}, relevant, truth.copy(), dev


def test_the_joint_fit_keeps_both_tasks_at_or_above_the_best_channel():
    channels, relevant, labels, dev = complementary_channels()
    report = fit_pair(channels, relevant, labels, dev, ["st"], powers=(1.0,))
    deltas = report["dev"]["deltas_vs_best_channel"]
    assert 0.0 < report["lexical_weight"] < 1.0
    assert min(deltas.values()) >= 0.0
    assert report["dev"]["objective_worst_delta"] == pytest.approx(min(deltas.values()), abs=1e-4)
    # A routing-only choice (all lexical) would lose the cross-need task to st alone.
    routing_only = fit_pair(channels, relevant, labels, dev, ["st"], powers=(1.0,), weights=(1.0,))
    assert routing_only["dev"]["deltas_vs_best_channel"]["cross_need_auc"] < 0.0
    assert set(report["test"]) == {"routing_mrr", "cross_need_auc"}
    assert "fused_minus_st" in report["test"]["cross_need_auc"]
