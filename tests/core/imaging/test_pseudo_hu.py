"""8-bit windowed images <-> HU: the one mapping the CT models and `score-slices` share."""

from __future__ import annotations

import numpy as np
import pytest

from core.imaging.pseudo_hu import as_model_window_hu, hu_to_window8, to_gray8, window8_to_hu
from core.models.preprocess import MODEL_SIZE, ich_input, slice_image_to_hu, square_pad


def test_round_trip_inside_the_window_is_exact_to_one_grey_level():
    hu = np.linspace(0.5, 79.5, 500, dtype=np.float32)
    back = window8_to_hu(hu_to_window8(hu, "brain"), "brain").hu
    assert np.abs(back - hu).max() <= 80 / 255 / 2 + 1e-4


def test_saturated_pixels_are_flagged_and_kept_at_the_window_edges():
    ph = window8_to_hu(np.array([[0, 1, 254, 255]], np.uint8), "brain")
    assert ph.low_saturated.tolist() == [[True, False, False, False]]
    assert ph.high_saturated.tolist() == [[False, False, False, True]]
    assert ph.hu[0, 0] == 0.0 and ph.hu[0, 3] == 80.0  # never extrapolated to air or bone


def test_full_hu_and_its_8bit_export_give_the_model_the_same_input():
    rng = np.random.default_rng(0)
    hu = rng.uniform(-1000, 1500, (2, 64, 64)).astype(np.float32)
    exported = window8_to_hu(hu_to_window8(hu, "brain"), "brain").hu
    np.testing.assert_allclose(ich_input(hu), ich_input(exported), atol=1e-5)
    assert as_model_window_hu(hu).min() >= 0 and as_model_window_hu(hu).max() <= 80


def test_rgb_and_16bit_exports_become_gray8():
    g = np.arange(256, dtype=np.uint8).reshape(16, 16)
    assert np.array_equal(to_gray8(np.stack([g, g, g], axis=2)), g)
    assert np.array_equal(to_gray8(g.astype(np.uint16) * 257), g)
    assert np.array_equal(to_gray8(g.astype(np.uint16) << 8), g)  # widened by a shift
    raw = (np.linspace(0, 2400, g.size).reshape(g.shape)).astype(np.uint16)  # raw HU + 1024: no window in it
    with pytest.raises(ValueError, match="not a widened 8-bit export"):
        to_gray8(raw)
    with pytest.raises(ValueError):
        to_gray8(np.zeros((2, 3, 4, 5)))


def test_slice_images_are_padded_with_air_never_stretched_and_rotated_clockwise():
    img = np.zeros((100, 200), np.uint8)
    img[:, :20] = 200  # a bright band on the image's left edge
    hu = slice_image_to_hu(img, rotate=90)  # clockwise: the left edge goes to the top
    assert hu.shape == (MODEL_SIZE, MODEL_SIZE)
    assert hu[:20, MODEL_SIZE // 2].mean() > 50 and hu[-20:, MODEL_SIZE // 2].mean() < 1
    square = square_pad(img)
    assert square.shape == (200, 200) and square[:50].max() == 0  # padding rows are air
    with pytest.raises(ValueError):
        slice_image_to_hu(img, rotate=45)
