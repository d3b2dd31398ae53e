"""BG training pieces: mirroring swaps the patient side of the label (and only of hematoma
slices), the rotation pads with air, and every epoch samples each kind of negative."""

from __future__ import annotations

import numpy as np
import torch

from core.models.preprocess import bg_input
from training.bg import augment_hu, epoch_indices, series_result


def _slice_with_blob(col: int) -> np.ndarray:
    hu = np.full((128, 128), -1000, np.int16)
    yy, xx = np.mgrid[:128, :128]
    hu[(yy - 64) ** 2 / 50 ** 2 + (xx - 64) ** 2 / 40 ** 2 < 1] = 30
    hu[(yy - 64) ** 2 + (xx - col) ** 2 < 36] = 75
    return hu


def test_mirror_swaps_left_and_right_labels_with_the_image():
    hu = np.stack([_slice_with_blob(90)] * 64)  # blob on image right = patient left (radiological)
    y = np.array([1] * 32 + [0] * 32)
    x, t = augment_hu(hu, y, np.random.default_rng(0))
    blood = x[:, 1]  # acute-blood window channel: the blob is its brightest spot
    right_half = blood.flatten(1).argmax(dim=1) % 128 >= 64
    hem = torch.from_numpy(y > 0)
    assert set(t[hem].tolist()) == {1, 2} and set(t[~hem].tolist()) == {0}
    # label 1 (patient left) exactly where the blob stayed on the image's right
    assert torch.equal(t[hem] == 1, right_half[hem])


def test_rotation_pads_with_air_not_with_the_mean():
    hu = np.stack([_slice_with_blob(64)] * 8)
    x, _ = augment_hu(hu, np.zeros(8, int), np.random.default_rng(1))
    air = torch.from_numpy(bg_input(np.full((1, 4, 4), -1000, np.float32)))[0, :, 0, 0]
    corners = x[:, :, 0, 0]
    assert torch.allclose(corners, air.expand_as(corners), atol=1e-3)


def test_epoch_samples_hematoma_twice_and_each_kind_of_hard_negative():
    y = np.zeros(300, int)
    y[:10] = 1
    y[10:20] = 2
    iph = np.zeros(300, bool)
    iph[20:60] = True  # thalamic / lobar bleeds: the closest mimic
    other = iph.copy()
    other[60:100] = True
    calc = np.zeros(300, bool)
    calc[100:105] = True
    idx = epoch_indices(y, iph, other, calc, np.random.default_rng(0))
    counts = np.bincount(idx, minlength=300)
    assert (counts[:20] == 2).all()
    assert counts[20:60].sum() == 20 and counts[60:100].sum() == 10
    assert (counts[100:105] == 1).all() and counts[105:].sum() == 10
    assert counts.max() == 2


def test_series_result_takes_the_side_of_the_strongest_slice():
    p = np.array([[0.9, 0.05, 0.05], [0.2, 0.1, 0.7], [0.6, 0.3, 0.1]])
    p_hem, side, probs = series_result(p)
    assert np.isclose(p_hem, 0.8) and side == "right" and np.isclose(probs[2], 0.7)
    assert series_result(np.array([[0.9, 0.05, 0.05]] * 3))[1] == "none"
