"""Window presets and the HU mappings the viewer and the ICH model share."""

from __future__ import annotations

import numpy as np
import pytest

from core.imaging.windows import PRESETS, apply_window, auto_window, ich_channels, window_unit


def test_presets_are_the_design_values():
    got = {k: (w.width, w.level) for k, w in PRESETS.items()}
    assert got == {"brain": (80, 40), "subdural": (200, 80), "soft_tissue": (380, 40), "bone": (2800, 600),
                   "stroke": (40, 40), "acute_blood": (220, 95)}


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_apply_window_matches_the_formula(name):
    w = PRESETS[name]
    hu = np.linspace(-1100, 3200, 2001, dtype=np.float32)
    expected = np.clip(np.rint((hu - w.low) / w.width * 255.0), 0, 255).astype(np.uint8)
    got = apply_window(hu, w)
    assert got.dtype == np.uint8
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1
    assert got[0] == 0 and got[-1] == 255


def test_ich_channels_are_brain_subdural_soft_tissue_in_unit_range():
    hu = np.array([[[-1000, 0, 40, 80, 180, 230]]], dtype=np.float32)
    ch = ich_channels(hu)
    assert ch.shape == (1, 3, 1, 6)
    np.testing.assert_allclose(ch[0, 0, 0], np.clip((hu[0, 0] - 0) / 80, 0, 1))
    np.testing.assert_allclose(ch[0, 1, 0], np.clip((hu[0, 0] - (-20)) / 200, 0, 1))
    np.testing.assert_allclose(ch[0, 2, 0], np.clip((hu[0, 0] - (-150)) / 380, 0, 1))
    assert window_unit(hu, PRESETS["brain"]).max() == 1.0


def test_auto_window_covers_robust_range():
    vals = np.concatenate([np.zeros(1000), np.linspace(100, 200, 10000), [1e6]]).astype(np.float32)
    w = auto_window(vals)
    assert w.low < 100 + 5 and 195 < w.high < 1e5
