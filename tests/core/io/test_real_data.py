"""The real heads in ../shared/data (skipped, visibly, when that folder is absent)."""

from __future__ import annotations

import numpy as np
import pytest

from core.io import load
from core.volume import WarningCode


def test_real_tilted_ge_head_ct(shared_data):
    vol = load(shared_data / "ct-ge-head-tilt")
    codes = {w.code for w in vol.warnings}
    assert WarningCode.GANTRY_TILT in codes and WarningCode.IRREGULAR_SPACING in codes
    tilt = next(w for w in vol.warnings if w.code == WarningCode.GANTRY_TILT)
    assert "18.5 deg" in tilt.message
    irregular = next(w for w in vol.warnings if w.code == WarningCode.IRREGULAR_SPACING)
    assert "4" in irregular.message and "7" in irregular.message
    assert any(w.code == WarningCode.SKIPPED_FILE and w.path.endswith("LICENSE") for w in vol.warnings)
    assert vol.modality == "CT" and vol.axcodes == ("R", "A", "S")
    assert vol.spacing[0] == pytest.approx(4.0, abs=0.05)
    assert vol.spacing[1] == pytest.approx(0.488, abs=0.001)
    v = vol.voxels
    assert np.percentile(v, 5) < -900  # air around the head
    mid = v[v.shape[0] // 2 + 2]
    soft = mid[(mid > 0) & (mid < 80)]
    assert 25 < np.median(soft) < 45  # brain parenchyma
    assert (mid > 700).sum() > 2000  # skull
    # after tilt correction the skull's inner outline barely moves between adjacent slices
    z = v.shape[0] // 2
    rows = [np.nonzero((v[k] > 700).any(axis=1))[0] for k in (z, z + 1)]
    assert abs(rows[0].min() - rows[1].min()) < 20


@pytest.mark.parametrize("name", ["MNI152_T1_1mm.nii.gz", "colin27_1mm.nii.gz", "T1_head_ext2.nii.gz"])
def test_real_t1_heads_load_as_ras(shared_data, name):
    vol = load(shared_data / "mri-heads" / name)
    assert vol.axcodes == ("R", "A", "S") and vol.modality == "MR"
    assert vol.voxels.max() > vol.voxels.mean() > 0
