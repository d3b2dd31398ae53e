"""training.evaluate_real's real GE series check: what it writes into the CT cards (metrics.real_ge_head_ct)."""

from __future__ import annotations

from core.tasks import CTScorer
from training.evaluate_real import ge_series_check


def test_no_ge_folder_means_no_check(tmp_path):
    assert ge_series_check(tmp_path, CTScorer(threads=1)) is None


def test_the_real_ge_head_flags_nothing_and_is_in_distribution(shared_data):
    ge = ge_series_check(shared_data, CTScorer(threads=2))
    assert ge["flagged"] == [] and ge["bg_side"] == "none", ge
    assert ge["ood"]["in_distribution"] and ge["ood"]["turned_prob_median"] < 0.75, ge["ood"]
