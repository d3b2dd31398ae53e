"""The centring probe finds the head, not the couch, and undoes a shift."""

from __future__ import annotations

import numpy as np

from training.ct_data.phantom import SliceSeries
from training.head_centre import centre_offset, centred, head_region
from training.series_jitter import shift_series


def _head_series(cx: int, cy: int, n: int = 6) -> np.ndarray:
    """uint8 [n, 256, 256]: an elliptical 'head' (skin ring, dark fat gap, bright skull, grey brain) at (cx, cy) and a
    couch strip near the bottom edge."""
    yy, xx = np.mgrid[:256, :256]
    r = np.sqrt(((xx - cx) / 80.0) ** 2 + ((yy - cy) / 95.0) ** 2)
    sl = np.zeros((256, 256), np.uint8)
    sl[r < 1.0] = 120  # skin
    sl[(r < 0.96)] = 0  # fat: a dark ring the hole filling must close over
    sl[r < 0.93] = 255  # skull
    sl[r < 0.85] = 110  # brain
    sl[246:250, 20:236] = 90  # the couch
    return np.repeat(sl[None], n, axis=0)


def test_the_head_region_is_the_filled_head_without_the_couch():
    img = _head_series(128, 120)[0]
    reg = head_region(img)
    assert reg[120, 128] and img[120, 128 + 76] == 0 and reg[120, 128 + 76]  # centre, and the fat ring: filled
    assert not reg[248, 128]  # couch
    assert not head_region(np.zeros((64, 64), np.uint8)).any()
    assert not head_region(np.full((64, 64), 2, np.uint8)).any()  # CT-ICH's exports put air at 1-2: not tissue


def test_centre_offset_moves_the_head_box_to_the_grid_middle():
    dx, dy = centre_offset(_head_series(100, 140))
    assert (dx, dy) == (28, -12)
    assert centre_offset(np.zeros((3, 256, 256), np.uint8)) == (0, 0)


def test_a_shifted_series_is_centred_back_to_the_same_images():
    img = _head_series(128, 128)
    s = SliceSeries("a", "phantom", img, np.zeros((6, 6), np.float32), np.zeros(6, np.int8), img > 200)
    moved = SliceSeries("b", "phantom", shift_series(img, 9, -7), s.labels, s.bg, shift_series(s.mask, 9, -7))
    a, b = centred(s), centred(moved)
    head = head_region(img[0])
    assert np.array_equal(a.img[:, head], b.img[:, head])  # the head is where it was; only the couch was cut
    assert np.array_equal(a.mask, b.mask) and b.key == "b#c"
