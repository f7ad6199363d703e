"""The metrics benchmarks.quality reports: checked on cases small enough to work out by hand."""

import math

from benchmarks.metrics import expected_calibration_error, first_relevant_rank, reciprocal_rank_any, roc_auc


def test_reciprocal_rank_of_several_relevant_counts_the_best_ranked_one():
    ranked = ["a", "b", "c", "d"]
    assert first_relevant_rank(ranked, {"d", "b"}) == 2
    assert reciprocal_rank_any(ranked, {"d", "b"}) == 0.5
    assert reciprocal_rank_any(ranked, {"d"}, cutoff=3) == 0.0
    assert reciprocal_rank_any(ranked, {"z"}) == 0.0


def test_auc_counts_ties_as_half_and_is_undefined_without_both_sides():
    assert roc_auc([3.0, 2.0], [1.0, 0.0]) == 1.0
    assert roc_auc([0.0], [1.0]) == 0.0
    assert roc_auc([1.0, 2.0], [1.0, 0.0]) == (0.5 + 1 + 1 + 1) / 4
    assert math.isnan(roc_auc([1.0], []))


def test_calibration_error_weighs_each_bin_by_its_share_of_pairs():
    # Bin [0.9, 1.0): stated 0.95, 1 of 2 relevant -> gap 0.45 on half the pairs;
    # bin [0.1, 0.2): stated 0.15, 0 of 2 relevant -> gap 0.15 on the other half.
    error = expected_calibration_error([0.95, 0.95, 0.15, 0.15], [True, False, False, False])
    assert math.isclose(error, 0.5 * 0.45 + 0.5 * 0.15)
    assert expected_calibration_error([1.0, 0.0], [True, False]) == 0.0
