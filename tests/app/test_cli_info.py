"""`neuroreview info` on a full-size generated CT with one corrupt file (issue 2's check)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.core.io.dicom_factory import phantom_hu, write_ct_series


def test_info_reports_series_spacing_and_the_skipped_file(tmp_path):
    paths = write_ct_series(tmp_path / "ct", phantom_hu(40, 512, 512), slice_mm=5.0, pixel_mm=0.45)
    corrupt = paths[17]
    corrupt.write_bytes(corrupt.read_bytes()[:2000])  # header intact, pixel data cut off
    out = subprocess.run([sys.executable, "-m", "app", "info", str(tmp_path / "ct"), "--json"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert len(report["series"]) == 1
    s = report["series"][0]
    assert s["modality"] == "CT" and s["n_files"] == 40
    assert s["volume_shape_zyx"] == [40, 512, 512]
    assert s["spacing_zyx_mm"] == [5.0, 0.45, 0.45]
    skipped = [w for w in s["warnings"] if w["code"] == "skipped-file"]
    assert [w["path"] for w in skipped] == [str(corrupt)]
    text = subprocess.run([sys.executable, "-m", "app", "info", str(tmp_path / "ct")], capture_output=True, text=True, timeout=300)
    assert corrupt.name in text.stdout and "5 x 0.45 x 0.45 mm" in text.stdout and "Traceback" not in text.stderr


def test_info_names_each_series_kernel_and_which_one_opens(tmp_path):
    import pydicom

    for sub, n, kernel, desc in (("bone", 12, "BONEPLUS", "CT Thin Bone"), ("plain", 6, "STANDARD", "CT Plain")):
        for p in write_ct_series(tmp_path / sub, phantom_hu(n, 32, 32), prefix=sub[0].upper()):
            ds = pydicom.dcmread(p)
            ds.ConvolutionKernel, ds.SeriesDescription = kernel, desc
            ds.save_as(p)
    out = subprocess.run([sys.executable, "-m", "app", "info", str(tmp_path), "--json"], capture_output=True, text=True, timeout=300)
    report = json.loads(out.stdout)
    assert [(s["description"], s["kernel"], s["plane"], s["default"]) for s in report["series"]] == [
        ("CT Thin Bone", "BONEPLUS", "axial", False), ("CT Plain", "STANDARD", "axial", True)]
    text = subprocess.run([sys.executable, "-m", "app", "info", str(tmp_path)], capture_output=True, text=True, timeout=300).stdout
    assert "(kernel BONEPLUS, axial)" in text
    assert "opened by default: the larger CT Thin Bone (12 files) is a bone/lung-kernel reconstruction" in text
