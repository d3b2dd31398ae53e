"""training.thresholds: one Youden search for CT (a validation score as the cut) and QC (midway cuts)."""

from __future__ import annotations

import numpy as np

from training.thresholds import youden_threshold


def test_both_kinds_of_cut_separate_separable_scores_where_they_say():
    y, p = np.array([1, 1, 1, 0, 0, 0, -1]), np.array([0.9, 0.85, 0.8006, 0.2, 0.1, 0.05, 0.99])  # -1: unknown, ignored
    assert youden_threshold(y, p, at="score") == 0.8006  # the lowest positive: no rounding can drop it
    assert youden_threshold(y, p, at="middle") == (0.8006 + 0.2) / 2


def test_the_middle_of_a_plateau_and_the_lowest_score_of_it():
    # two cuts reach the best J here (either side of the negative at 0.5): "score" takes the lower, "middle" the middle one
    y, p = np.array([1, 1, 0, 1, 0, 0]), np.array([0.9, 0.8, 0.5, 0.45, 0.3, 0.2])
    se_sp = lambda c: ((p >= c) & (y == 1)).sum() / 3 + ((p < c) & (y == 0)).sum() / 3  # noqa: E731
    best = max(se_sp(c) for c in np.r_[p, 0.0, 1.0])
    for at in ("score", "middle"):
        assert se_sp(youden_threshold(y, p, at=at)) == best
    assert youden_threshold(y, p, at="score") == min(c for c in np.unique(p) if se_sp(c) == best)


def test_one_known_class_gives_one_half():
    assert youden_threshold(np.array([0, 0, -1]), np.array([0.1, 0.7, 0.9])) == 0.5
