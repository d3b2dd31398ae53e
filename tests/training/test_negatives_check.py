"""training.negatives_check reads a real negative as a thin reconstruction the way the app would: the same head, the
same number of ~5 mm slabs, only the noise of thinner slices added."""

from __future__ import annotations

import numpy as np

from core.io import load
from core.paths import demo_normal_ct_dir
from training.negatives_check import thin_series_img, thin_volume


def _series() -> np.ndarray:
    yy, xx = np.mgrid[:64, :64]
    head = ((yy - 32) ** 2 + (xx - 32) ** 2) < 25 ** 2
    img = np.zeros((6, 64, 64), np.uint8)
    img[:, head] = 110  # brain, ~35 HU in the 40/80 window
    img[2:4, 28:36, 28:36] = 200  # a brighter block on two slices
    return img


def test_a_thin_read_of_an_8_bit_series_keeps_its_slabs_and_anatomy():
    img = _series()
    thin = thin_series_img(img, dz=5.0, to_mm=1.0)
    assert thin.dtype == np.uint8 and thin.shape[1:] == img.shape[1:]
    assert abs(len(thin) - len(img)) <= 1  # five 1 mm slices averaged back per slab
    assert (thin[:, 0, 0] == 0).all()  # air stays air: no noise outside tissue
    brain = thin[:, 10:20, 30]
    assert abs(float(np.median(brain)) - 110) <= 3 and brain.std() > 0  # same tissue, a little noise
    assert thin[2:4, 30, 30].max() > 150  # the block is still there


def test_the_ge_demo_at_1_mm_has_four_times_the_slices_and_the_same_extent():
    vol = load(demo_normal_ct_dir())
    thin = thin_volume(vol, 1.0)
    assert abs(thin.shape[0] - 4 * vol.shape[0]) <= 1 and thin.shape[1:] == vol.shape[1:]
    assert abs(thin.spacing[0] - 1.0) < 0.01
    assert abs(thin.shape[0] * thin.spacing[0] - vol.shape[0] * vol.spacing[0]) < 2 * vol.spacing[0]


def test_aligned_thin_slabs_sit_on_the_original_slices():
    """Without noise, slabs of an aligned thin read are the original slices up to a little blending of neighbours."""
    from core.imaging.pseudo_hu import window8_to_hu
    from core.tasks.slabs import slab_average, slab_plan
    from training.negatives_check import aligned_thin_voxels

    hu = window8_to_hu(_series()).hu
    thin = aligned_thin_voxels(hu, 5, tissue=np.zeros(hu.shape, bool))  # no noise anywhere
    slabs = slab_average(thin, slab_plan(len(thin), 1.0))
    assert slabs.shape == hu.shape
    blend = np.abs(slabs[2, 30, 30] - hu[2, 30, 30]) / np.abs(hu[1, 30, 30] - hu[2, 30, 30])
    assert blend < 0.15  # slice 2 keeps > 85 % of itself at the block's edge slice
