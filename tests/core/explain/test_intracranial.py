"""The intracranial mask that CT heat maps are cut to: inside the inner table, not the scalp or the skull,
the same from full HU and from the 8-bit brain-window export, keeping blood along the inner table."""

from __future__ import annotations

import numpy as np
import pytest

from core.explain.intracranial import intracranial_mask, intracranial_masks
from core.imaging.pseudo_hu import hu_to_window8, window8_to_hu
from training.synth.ct import make_ct_case


@pytest.fixture(scope="module")
def case():
    return make_ct_case(20241, lesions=("subdural", "intraventricular"), bg_side="none")


@pytest.fixture(scope="module")
def masks(case):
    return intracranial_masks(case.to_volume())


def _mid(case) -> int:
    return int(np.argmax(case.masks["subdural"].sum(axis=(1, 2))))


def test_mask_excludes_scalp_and_skull_and_keeps_the_brain(case, masks):
    k = _mid(case)
    hu, m = case.hu[k].astype(np.float32), masks[k]
    brain = (hu > 15) & (hu < 60)
    scalp_or_skull = (hu > 300) | ((hu > -200) & ~_filled(hu > 300))
    assert m[brain & m].sum() / max((brain & _filled(hu > 300)).sum(), 1) > 0.95
    from scipy import ndimage

    depth = ndimage.distance_transform_edt(_filled(hu > 300)) * case.spacing[1]
    outer_table = (hu > 300) & (depth <= 2.5)
    assert not (m & outer_table).any()  # the skull is out, bar the 2 mm margin along the inner table
    assert not (m & scalp_or_skull & (hu < 300) & (hu > -200)).any()  # no scalp


def _filled(bone: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    return ndimage.binary_fill_holes(bone)


def test_subdural_and_intraventricular_blood_lie_inside(case, masks):
    for kind in ("subdural", "intraventricular"):
        blood = case.masks[kind]
        assert (blood & masks).sum() / blood.sum() > 0.98, kind


def test_full_hu_and_the_8bit_export_give_the_same_mask(case):
    k = _mid(case)
    hu = case.hu[k].astype(np.float32)
    px = case.spacing[1]
    a = intracranial_mask(hu, px)
    b = intracranial_mask(window8_to_hu(hu_to_window8(hu)).hu, px)
    assert a.kind == b.kind == "skull" and np.array_equal(a.mask, b.mask)


def test_no_bone_gives_the_head_outline_and_says_so():
    yy, xx = np.mgrid[:128, :128]
    disc = np.where((yy - 64) ** 2 + (xx - 64) ** 2 < 50 ** 2, 35.0, -1000.0).astype(np.float32)
    m = intracranial_mask(disc, 1.0)
    assert m.kind == "head outline" and m.mask.sum() == pytest.approx((disc > 0).sum(), rel=0.02)
