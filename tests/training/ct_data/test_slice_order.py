"""CT-ICH's labels are per slice number: a patient whose image numbering is out of anatomical order must not
train or test the model with labels that point at the wrong slices."""

from __future__ import annotations

import numpy as np

from training.ct_data.real import checked_labels, slice_order_check


def _series(n: int = 12, size: int = 64) -> np.ndarray:
    """A head-like ellipse that grows slice by slice, with a bright structure that moves across it:
    neighbouring slices look alike, distant ones do not."""
    yy, xx = np.mgrid[:size, :size]
    out = []
    for k in range(n):
        r = 12 + 1.5 * k
        img = np.zeros((size, size), np.uint8)
        img[((yy - 32) / r) ** 2 + ((xx - 32) / (0.8 * r)) ** 2 < 1] = 110
        img[(yy - 32) ** 2 + (xx - 12 - 3.5 * k) ** 2 < 36] = 250
        out.append(img)
    return np.stack(out)


def _labels(n: int, positive: list[int]) -> np.ndarray:
    y = np.zeros((n, 6), np.float32)
    y[positive, 0] = y[positive, 1] = 1
    return y


def test_ordered_series_keeps_its_labels():
    img = _series()
    assert slice_order_check(img) == ([], [])
    y = _labels(len(img), [5, 6])
    out, why = checked_labels(y, img)
    assert why == "" and np.array_equal(out, y)


def test_scrambled_series_loses_all_labels():
    img = _series()
    scrambled = img[[0, 1, 2, 9, 10, 11, 3, 4, 5, 6, 7, 8]]
    inner, _ = slice_order_check(scrambled)
    assert inner, "a jump across the series is a break"
    out, why = checked_labels(_labels(len(img), [4, 5]), scrambled)
    assert (out == -1).all() and "broken" in why


def test_stray_last_slice_loses_only_its_labels():
    img = _series(14)
    stray = np.concatenate([img[1:], img[:1]])  # the lowest slice filed last
    inner, ends = slice_order_check(stray)
    assert inner == [] and ends == [len(img) - 1]
    y = _labels(len(img), [5, 6, 13])
    out, why = checked_labels(y, stray)
    assert (out[-1] == -1).all() and np.array_equal(out[:-1], y[:-1]) and "stray" in why


def test_bleed_free_patient_keeps_zero_labels_in_any_order():
    img = _series()[::-1][[0, 5, 1, 6, 2, 7, 3, 8, 4, 9, 10, 11]]
    y = _labels(len(img), [])
    out, why = checked_labels(y, img)
    assert why == "" and np.array_equal(out, y)
