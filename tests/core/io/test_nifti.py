"""NIfTI loading: any orientation becomes canonical R, A, S; world coordinates are preserved."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from core.io import load
from core.volume import WarningCode


@pytest.mark.parametrize("codes", [("R", "A", "S"), ("L", "P", "S"), ("L", "A", "S"), ("P", "S", "R"), ("I", "L", "A")])
def test_any_orientation_becomes_ras_with_same_world_points(tmp_path, codes):
    rng = np.random.default_rng(0)
    data = rng.random((10, 12, 14)).astype(np.float32)
    # build an affine with the requested axis codes, 1.5/2/2.5 mm voxels and an offset origin
    ornt = nib.orientations.axcodes2ornt(codes)
    aff = np.zeros((4, 4))
    for i, (axis, flip) in enumerate(ornt):
        aff[int(axis), i] = flip * (1.5, 2.0, 2.5)[i]
    aff[:3, 3] = (-10.0, 20.0, 5.0)
    aff[3, 3] = 1
    path = tmp_path / "v.nii.gz"
    nib.save(nib.Nifti1Image(data, aff), path)
    vol = load(path)
    assert vol.axcodes == ("R", "A", "S")
    assert (WarningCode.REORIENTED in {w.code for w in vol.warnings}) == (codes != ("R", "A", "S"))
    # the same voxel value sits at the same world point
    ijk = np.array([3, 4, 5])
    world = aff[:3, :3] @ ijk + aff[:3, 3]
    zyx = np.round(vol.world_to_index(world)).astype(int)
    assert vol.voxels[tuple(zyx)] == pytest.approx(data[tuple(ijk)])
    assert sorted(np.round(vol.spacing, 3)) == [1.5, 2.0, 2.5]


def test_uncompressed_nii_and_integer_data(tmp_path):
    data = (np.arange(4 * 5 * 6).reshape(4, 5, 6)).astype(np.int16)
    nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / "v.nii")
    vol = load(tmp_path / "v.nii")
    assert vol.voxels.dtype == np.float32
    assert vol.voxels[2, 1, 3] == data[3, 1, 2]
