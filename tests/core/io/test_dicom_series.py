"""Series assembly on generated CT: orientation, HU, spacing, ordering, tilt, warnings."""

from __future__ import annotations

import random

import numpy as np
import pytest

from core.io import load, scan
from core.volume import WarningCode
from tests.core.io.dicom_factory import phantom_hu, write_ct_series


def codes(vol):
    return {w.code for w in vol.warnings}


def test_round_trip_gives_canonical_ras_and_exact_hu(tmp_path):
    hu = phantom_hu(12, 64, 80)
    hu[3, 10, 5] = 77  # a marker: canonical index (z=3, y=10, x=5)
    write_ct_series(tmp_path, hu, slice_mm=5.0, pixel_mm=0.5)
    vol = load(tmp_path)
    assert vol.modality == "CT"
    assert vol.axcodes == ("R", "A", "S")
    assert vol.shape == (12, 64, 80)
    np.testing.assert_allclose(vol.spacing, (5.0, 0.5, 0.5), atol=1e-6)
    np.testing.assert_array_equal(vol.voxels, np.maximum(hu, -1024).astype(np.float32))
    assert vol.voxels[3, 10, 5] == 77
    # world position of the marker: x = -(col_lps_position) etc.; R of index 0 is most negative R
    ras = vol.index_to_world((3, 10, 5))
    assert ras[2] == pytest.approx(-80.0 + 3 * 5.0)
    assert vol.window is not None and vol.window.width == 80
    assert not codes(vol)


def test_slices_sorted_by_position_not_instance_or_name(tmp_path):
    hu = phantom_hu(10, 32, 32)
    paths = write_ct_series(tmp_path, hu)
    names = [p.name for p in paths]
    random.Random(1).shuffle(names)
    for p, new in zip(paths, names):  # shuffle file names so listing order lies
        p.rename(tmp_path / f"x_{new}")
    vol = load(tmp_path)
    np.testing.assert_array_equal(vol.voxels, np.maximum(hu, -1024))


def test_missing_slice_is_reported_with_its_file_and_interpolated(tmp_path):
    hu = phantom_hu(10, 32, 32)
    paths = write_ct_series(tmp_path, hu)
    paths[4].unlink()
    vol = load(tmp_path)
    missing = [w for w in vol.warnings if w.code == WarningCode.MISSING_SLICE]
    assert len(missing) == 1 and missing[0].path.endswith("IM0004.dcm")
    assert vol.shape[0] == 10 and vol.spacing[0] == pytest.approx(5.0)


def test_irregular_spacing_warns_and_resamples(tmp_path):
    hu = phantom_hu(8, 32, 32)
    pos = [0, 4, 8, 12, 19, 26, 33, 40]
    write_ct_series(tmp_path, hu, positions=pos)
    vol = load(tmp_path)
    assert WarningCode.IRREGULAR_SPACING in codes(vol)
    assert vol.spacing[0] == pytest.approx(np.median(np.diff(pos)))


def test_duplicate_positions_keep_one_and_name_the_other(tmp_path):
    hu = phantom_hu(6, 32, 32)
    write_ct_series(tmp_path, hu, series_uid="1.2.3.4", study_uid="1.2.3")
    write_ct_series(tmp_path, hu[2:3], z0=-80 + 2 * 5.0, series_uid="1.2.3.4", study_uid="1.2.3", prefix="DUP")
    vol = load(tmp_path)
    dup = [w for w in vol.warnings if w.code == WarningCode.DUPLICATE_POSITION]
    assert len(dup) == 1
    named = dup[0].path + dup[0].message  # both files are named: the one left out and the one kept
    assert "DUP0001" in named and "IM0003" in named
    assert vol.shape[0] == 6


def test_gantry_tilt_detected_and_corrected(tmp_path):
    nz, ny, nx = 12, 96, 96
    hu = np.full((nz, ny, nx), -1000, dtype=np.int16)
    tilt = 15.0
    step = 5.0
    # a vertical rod (patient S-I axis) at y index 60 in an untilted frame: on tilted slices it
    # appears at a row that moves slice by slice; after correction it must be a straight column.
    t = np.radians(tilt)
    for k in range(nz):
        z = k * step
        row_lps = 30 + int(round((z * np.sin(t)) / 1.0))  # distance along tilted column direction
        hu[k, ny - 1 - row_lps, 40:44] = 1000
    write_ct_series(tmp_path, hu, slice_mm=step, pixel_mm=1.0, tilt_deg=tilt, z0=0.0)
    vol = load(tmp_path)
    tw = [w for w in vol.warnings if w.code == WarningCode.GANTRY_TILT]
    assert tw and "15.0 deg" in tw[0].message
    np.testing.assert_allclose(vol.spacing[0], step * np.cos(t), rtol=1e-3)
    rows = [np.argmax(vol.voxels[k, :, 41]) for k in range(1, nz - 1)]
    assert max(rows) - min(rows) <= 1, rows  # straight after correction (within interpolation)


def test_two_series_in_one_folder_loads_largest_and_warns(tmp_path):
    write_ct_series(tmp_path / "a", phantom_hu(8, 32, 32), prefix="A")
    write_ct_series(tmp_path / "b", phantom_hu(5, 32, 32), prefix="B")
    res = scan(tmp_path)
    assert [s.n_files for s in res.series] == [8, 5]
    vol = load(tmp_path)
    assert vol.shape[0] == 8 and WarningCode.MIXED_SERIES in codes(vol)
    other = load(tmp_path, series_uid=res.series[1].series_uid)
    assert other.shape[0] == 5


def test_thirty_two_slice_series_loads_in_threads_identically(tmp_path):
    hu = phantom_hu(32, 48, 48, seed=3)
    write_ct_series(tmp_path, hu)
    vol = load(tmp_path)
    np.testing.assert_array_equal(vol.voxels, np.maximum(hu, -1024))
    assert len(vol.ids.files) == 32
