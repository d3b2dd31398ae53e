"""Head centring on the model grid: the head finder finds the head, not the couch; the offset centres it; a shift
moves a stack and ModelGrid maps a map back through it; the offset of an HU stack is the offset of its 8-bit export
(the one training.head_centre reads)."""

from __future__ import annotations

import numpy as np

from core.imaging.pseudo_hu import window8_to_hu
from core.models.centring import centre_offset, head_region, shift_stack
from core.models.preprocess import AIR_HU, ModelGrid, centring_offset


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


def test_shift_stack_moves_and_fills():
    a = np.arange(2 * 5 * 6, dtype=np.float32).reshape(2, 5, 6)
    b = shift_stack(a, 2, -1, -7.0)
    assert np.array_equal(b[:, :4, 2:], a[:, 1:, :4]) and (b[:, :, :2] == -7).all() and (b[:, 4, :] == -7).all()
    assert (shift_stack(a, 6, 0, 1.0) == 1).all()  # moved off the grid entirely


def test_the_offset_of_an_hu_stack_is_the_offset_of_its_brain_window_export():
    img = _head_series(100, 140)
    hu = window8_to_hu(img).hu  # what training reads: the 8-bit series back in pseudo-HU
    assert centring_offset(hu) == centre_offset(img) == (28, -12)


def test_a_shifted_grid_puts_the_slice_where_the_shift_says_and_maps_come_back_through_it():
    """Rectangular slice with non-square pixels: the forward map with a shift is the unshifted one moved, and a map
    drawn on the shifted grid (here: the forward image itself) comes back onto the volume where the unshifted one does."""
    rng = np.random.default_rng(0)
    sl = np.full((180, 240), AIR_HU, np.float32)
    sl[60:120, 90:170] = 40.0 + rng.normal(0, 5, (60, 80))
    plain = ModelGrid(180, 240, 1.2, 0.9)
    moved = ModelGrid(180, 240, 1.2, 0.9, shift=(-11, 7))
    a, b = plain.to_model(sl), moved.to_model(sl)
    assert np.array_equal(b, shift_stack(a, -11, 7, AIR_HU))
    back_a = plain.to_volume(a - AIR_HU)
    back_b = moved.to_volume(b - AIR_HU)
    assert np.allclose(back_a, back_b, atol=1e-3)
    assert back_b[90, 130] > 900 and back_b[10, 10] < 1  # the block lands where it is in the slice, not 11 px beside it
    assert ModelGrid(180, 240, 1.2, 0.9).shift == (0, 0)  # unshifted unless asked


def test_an_8x8_map_on_a_shifted_grid_is_moved_back_at_full_resolution():
    grid = ModelGrid(256, 256, shift=(32, 0))  # one 8x8 cell = 32 model pixels
    m = np.zeros((8, 8), np.float32)
    m[4, 5] = 1.0  # peak in the cell right of the grid centre, i.e. one cell beyond the head's true place
    plain = ModelGrid(256, 256).to_volume(np.roll(m, -1, axis=1))
    assert np.allclose(grid.to_volume(m)[:, 40:216], plain[:, 40:216], atol=1e-5)


def test_centring_a_centred_series_changes_nothing():
    """training.series_outputs centres what a centring series model reads, also when the series came centred already
    (training.series_vs_slices --centre): the second offset must be (0, 0)."""
    for cx, cy in ((100, 140), (129, 127), (150, 101)):
        img = _head_series(cx, cy)
        once = shift_stack(img, *centre_offset(img), 0)
        assert centre_offset(once) == (0, 0)
