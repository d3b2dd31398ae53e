"""Display geometry from the affine: radiological flips, labels and mm aspect, also for volumes that
are not in the canonical orientation (the views must not assume it)."""

from __future__ import annotations

import numpy as np
import pytest

from app.viewer.planes import plane
from core.volume import ras_affine


def test_canonical_volume_is_shown_radiologically():
    a = np.random.default_rng(0).random((7, 9, 11)).astype(np.float32)
    aff = ras_affine((5.0, 0.5, 0.4))
    ax, cor, sag = (plane(aff, a.shape, n) for n in ("axial", "coronal", "sagittal"))
    assert np.array_equal(ax.extract(a, 3), a[3, ::-1, ::-1])  # the README's convention
    assert np.array_equal(cor.extract(a, 4), a[::-1, 4, ::-1])
    assert np.array_equal(sag.extract(a, 5), a[::-1, ::-1, 5])
    assert ax.labels == {"top": "A", "bottom": "P", "left": "R", "right": "L"}
    assert sag.labels == {"top": "S", "bottom": "I", "left": "A", "right": "P"}
    assert (cor.row_mm, cor.col_mm) == (5.0, 0.4) and cor.height_mm == 35.0


def test_flipped_and_permuted_affines_still_put_patient_left_on_image_right():
    rng = np.random.default_rng(1)
    a = rng.random((6, 8, 10)).astype(np.float32)
    # x runs to patient Left (LPS-like in-plane), y Anterior, z Superior
    aff = np.diag([-0.5, 0.5, 3.0, 1.0])
    ax = plane(aff, a.shape, "axial")
    assert not ax.flip_cols and ax.labels["right"] == "L"
    assert np.array_equal(ax.extract(a, 2), a[2, ::-1, :])
    # array axes permuted: axis 0 runs Anterior, axis 1 Superior, axis 2 Right (a coronal acquisition)
    perm = np.zeros((4, 4))
    perm[0, 0], perm[2, 1], perm[1, 2], perm[3, 3] = 0.5, 2.0, 0.7, 1.0  # affine columns act on (x, y, z) = (axis2, axis1, axis0)
    ax = plane(perm, a.shape, "axial")
    assert ax.axis == 1 and ax.labels == {"top": "A", "bottom": "P", "left": "R", "right": "L"}
    assert ax.row_mm == pytest.approx(0.7) and ax.col_mm == pytest.approx(0.5)
    img = ax.extract(a, 3)
    assert img.shape == (6, 10) and np.array_equal(img, a[::-1, 3, ::-1])


def test_display_and_voxel_round_trip():
    aff = ras_affine((5.0, 0.45, 0.45))
    shape = (30, 512, 512)
    for name in ("axial", "coronal", "sagittal"):
        p = plane(aff, shape, name)
        cursor = (12, 200, 300)
        x, y = p.to_display(cursor)
        assert p.voxel_at(cursor, x, y) == cursor
        assert p.from_display(-1.0, y) is None and p.from_display(x, p.height_mm + 1) is None
