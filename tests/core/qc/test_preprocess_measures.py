"""QC preprocessing and deterministic measures on small generated volumes."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InputError
from core.qc.measures import measure
from core.qc.preprocess import MODEL_SHAPE, qc_input
from core.volume import Volume


def _ball(shape=(80, 100, 90), radius_mm=40.0, spacing=(1.5, 1.0, 1.2)) -> Volume:
    dz, dy, dx = spacing
    z, y, x = np.meshgrid(*[(np.arange(n) - (n - 1) / 2) * s for n, s in zip(shape, spacing)], indexing="ij")
    r = np.sqrt(z * z + y * y + x * x)
    vox = np.where(r <= radius_mm, 100.0 + 50.0 * (r < radius_mm - 4), 0.0).astype(np.float32)  # dark rim, bright core
    affine = np.diag([dx, dy, dz, 1.0])
    return Volume(voxels=vox, affine=affine, modality="MR")


def test_qc_input_shape_range_and_refusals():
    v = _ball()
    x = qc_input(v.voxels)
    assert x.shape == MODEL_SHAPE and x.dtype == np.float32
    assert x.min() == 0.0 and x.max() == 1.0
    with pytest.raises(InputError, match="3-D"):
        qc_input(np.ones((100, 100), np.float32), "flat.nii")
    with pytest.raises(InputError, match="constant"):
        qc_input(np.zeros((20, 20, 20), np.float32), "empty.nii.gz")


def test_measures_volume_and_flat_cut():
    v = _ball()
    m = measure(v)
    expected_ml = 4 / 3 * np.pi * 40.0 ** 3 / 1000
    assert m.kept_ml == pytest.approx(expected_ml, rel=0.03)
    assert m.anterior_mm == pytest.approx(40.0, abs=2.0)
    assert m.inferior_ai_ml == 0.0  # nothing 40 mm in front of the centre and below it
    assert m.boundary_bright < 0.8  # a dark rim on the surface, like CSF around a good strip
    cut = Volume(voxels=v.voxels.copy(), affine=v.affine, modality="MR")
    cut.voxels[v.voxels.shape[0] // 2 + 5:] = 0  # a cap sheared off by an axial plane
    mc = measure(cut)
    assert mc.flat_top > 0.5 > m.flat_top
    assert mc.boundary_bright > m.boundary_bright  # bright tissue exposed on the cut
    assert mc.kept_ml < m.kept_ml * 0.75
    assert any(s.startswith("kept_ml") for s in mc.outside_normal())
