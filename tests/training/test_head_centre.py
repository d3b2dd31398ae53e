"""training.head_centre centres an 8-bit SliceSeries (and its mask) with core's head finder."""

from __future__ import annotations

import numpy as np

from training.ct_data.phantom import SliceSeries
from tests.core.models.test_centring import _head_series
from training.head_centre import centred, head_region
from training.series_jitter import shift_series


def test_a_shifted_series_is_centred_back_to_the_same_images():
    img = _head_series(128, 128)
    s = SliceSeries("a", "phantom", img, np.zeros((6, 6), np.float32), np.zeros(6, np.int8), img > 200)
    moved = SliceSeries("b", "phantom", shift_series(img, 9, -7), s.labels, s.bg, shift_series(s.mask, 9, -7))
    a, b = centred(s), centred(moved)
    head = head_region(img[0])
    assert np.array_equal(a.img[:, head], b.img[:, head])  # the head is where it was; only the couch was cut
    assert np.array_equal(a.mask, b.mask) and b.key == "b#c"
