"""RSNA 2019-format output: loads through core.io with the phantom's geometry and HU, the label CSV
parses into per-slice labels matching the masks, and the same seed writes identical bytes."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pydicom

from core.io import load
from training.synth.__main__ import main as synth_main
from training.synth.ct import make_ct_case
from training.synth.rsna import DatasetWriter, write_series


def test_series_loads_through_core_io_exactly(tmp_path):
    case = make_ct_case(4, size=128, n_slices=12, lesions=("subdural",), bg_side="none")
    ids = write_series(case, tmp_path)
    assert all(i.startswith("ID_") and len(i) == 12 for i in ids)
    vol = load(tmp_path)
    assert vol.modality == "CT" and vol.axcodes == ("R", "A", "S")
    np.testing.assert_allclose(vol.spacing, case.spacing, rtol=1e-6)
    np.testing.assert_allclose(vol.affine, case.affine, atol=1e-4)
    np.testing.assert_array_equal(vol.voxels, np.maximum(case.hu, -1024).astype(np.float32))
    ds = pydicom.dcmread(tmp_path / f"{ids[0]}.dcm")
    for tag in ("PatientID", "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "ImagePositionPatient",
                "ImageOrientationPatient", "PixelSpacing", "RescaleSlope", "RescaleIntercept", "WindowCenter", "WindowWidth"):
        assert tag in ds, tag
    assert ds.pixel_array.dtype in (np.int16, np.uint16)


def test_label_csv_matches_masks_and_bytes_are_deterministic(tmp_path):
    out1, out2 = tmp_path / "a", tmp_path / "b"
    for out in (out1, out2):
        assert synth_main(["ct", "--n", "3", "--out", str(out), "--seed", "2", "--size", "96"]) == 0
    labels = pd.read_csv(out1 / "stage_2_train.csv")
    assert list(labels.columns) == ["ID", "Label"]
    labels[["ImageID", "subtype"]] = labels["ID"].str.rsplit("_", n=1, expand=True)
    wide = labels.pivot(index="ImageID", columns="subtype", values="Label")
    series = pd.read_csv(out1 / "series.csv")
    bg = pd.read_csv(out1 / "bg_labels.csv")
    assert set(bg["bg_side"]) <= {"none", "left", "right"}
    for _, row in bg.iterrows():
        case = make_ct_case(int(row["seed"]), size=96)
        rows = series[series["SeriesInstanceUID"] == row["SeriesInstanceUID"]].sort_values("z_index")
        got = wide.loc[rows["ImageID"]]
        for sub in ("any", "epidural", "intraparenchymal", "intraventricular", "subarachnoid", "subdural"):
            np.testing.assert_array_equal(got[sub].to_numpy().astype(bool), case.slice_labels[sub], err_msg=sub)
        assert row["bg_side"] == case.bg_side
    digest = lambda root: hashlib.sha256(b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())).hexdigest()
    assert digest(out1) == digest(out2)


def test_compressed_writer_is_lossless(tmp_path):
    case = make_ct_case(9, size=96, n_slices=6)
    with DatasetWriter(tmp_path, compress=True) as w:
        w.add(case)
    ds = pydicom.dcmread(next((tmp_path / "stage_2_train").glob("*.dcm")))
    assert ds.file_meta.TransferSyntaxUID.is_compressed
    vol = load(tmp_path / "stage_2_train")
    np.testing.assert_array_equal(vol.voxels, np.maximum(case.hu, -1024))
    again = tmp_path / "again"
    write_series(case, again, compress=True)  # compression must not mint new random UIDs
    for p in again.glob("*.dcm"):
        assert p.read_bytes() == (tmp_path / "stage_2_train" / p.name).read_bytes()
