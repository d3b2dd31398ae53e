"""CQ500 reads: majority truth per label, subject folders, series choice, and the series-level
evaluation through the app's own scorer (real ONNX Runtime) on tiny DICOM series made here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import pytest

from core.errors import InputError
from tests.core.io.dicom_factory import phantom_hu, write_ct_series
from training.datasets.cq500 import LABEL_COLUMNS, load_cq500, pick_series, read_reads, subject_number
from training.datasets.rsna import ICH_LABELS
from core.io import scan

STEMS = ["ICH", "IPH", "IVH", "SDH", "EDH", "SAH", "BleedLocation-Left", "BleedLocation-Right", "ChronicBleed",
         "Fracture", "CalvarialFracture", "OtherFracture", "MassEffect", "MidlineShift"]
HEADER = ["name", "Category"] + [f"{r}:{s}" for r in ("R1", "R2", "R3") for s in STEMS]


def reads_row(name: str, calls: dict[str, tuple[int, int, int]]) -> str:
    """calls: CQ500 stem -> (R1, R2, R3) 0/1; the rest 0."""
    vals = [name, "B1"] + [str(calls.get(s, (0, 0, 0))[r]) for r in range(3) for s in STEMS]
    return ",".join(vals)


def write_reads(path: Path, rows: list[str]) -> None:
    path.write_text(",".join(HEADER) + "\n" + "\n".join(rows) + "\n")


def subject_series(root: Path, n: int, description: str, nz: int = 20, seed: int = 0) -> None:
    folder = root / f"CQ500CT{n} CQ500CT{n}" / "Unknown Study" / description
    files = write_ct_series(folder, phantom_hu(nz, 64, 64, seed=seed), slice_mm=5.0, pixel_mm=3.5, z0=-30.0)
    for f in files:  # the factory writes one description; CQ500 series differ by it
        ds = pydicom.dcmread(f)
        ds.SeriesDescription = description
        ds.save_as(f)


@pytest.fixture(scope="module")
def cq500_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cq500")
    write_reads(root / "reads.csv", [
        reads_row("CQ500-CT-0", {"ICH": (1, 1, 0), "IPH": (1, 1, 0), "BleedLocation-Left": (1, 1, 1)}),
        reads_row("CQ500-CT-1", {"ICH": (1, 0, 0), "SDH": (1, 0, 0)}),
        reads_row("CQ500-CT-2", {"ICH": (1, 1, 1), "SDH": (0, 1, 1), "SAH": (1, 1, 1), "EDH": (0, 0, 1)}),
        reads_row("CQ500-CT-3", {}),  # no folder: a partial download
    ])
    for n in range(3):
        subject_series(root, n, "CT PLAIN", seed=n)
    subject_series(root, 0, "CT BONE", nz=24, seed=9)  # a bone-kernel series must not be scored
    return root


def test_majority_vote_per_label(cq500_root):
    reads = read_reads(cq500_root / "reads.csv", ICH_LABELS)
    assert reads.loc["CQ500-CT-0", "any"] == 1 and reads.loc["CQ500-CT-0", "intraparenchymal"] == 1
    assert reads.loc["CQ500-CT-1", "any"] == 0 and reads.loc["CQ500-CT-1", "subdural"] == 0  # one reader of three
    assert reads.loc["CQ500-CT-1", "subdural_votes"] == 1
    row = reads.loc["CQ500-CT-2"]
    assert (row["any"], row["subdural"], row["subarachnoid"], row["epidural"]) == (1, 1, 1, 0)
    assert set(LABEL_COLUMNS) == set(ICH_LABELS)


def test_subjects_folders_and_series_choice(cq500_root):
    subjects = load_cq500(cq500_root, ICH_LABELS)
    assert [s.name for s in subjects] == ["CQ500-CT-0", "CQ500-CT-1", "CQ500-CT-2"]
    assert subjects[2].labels.tolist() == [1, 0, 0, 0, 1, 1]
    picked = pick_series(scan(subjects[0].folder))
    assert picked is not None and picked.description == "CT PLAIN"
    assert subject_number("CQ500CT12") == subject_number("CQ500-CT-12") == 12


def test_bad_reads_table_names_the_file(tmp_path):
    bad = tmp_path / "reads.csv"
    bad.write_text("name,Category,R1:ICH\nCQ500-CT-0,B1,1\n")
    with pytest.raises(InputError) as err:
        read_reads(bad, ICH_LABELS)
    assert "reads.csv" in str(err.value) and "R2:ICH" in str(err.value)
    with pytest.raises(InputError):
        load_cq500(tmp_path / "absent", ICH_LABELS)


def test_series_level_evaluation_runs_the_app_scorer(cq500_root, tmp_path):
    from training.evaluate_ct import main

    out = tmp_path / "cq500.json"
    assert main(["--cq500", str(cq500_root), "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["subjects"] == 3 and not report["skipped"]
    assert {u["series"] for u in report["scored"]} == {"CT PLAIN"}
    series = report["table3"]["series"]
    for model in ("cnn", "cnn_bilstm"):
        anyrow = series[model]["any"]
        assert anyrow["n_positive"] == 2 and anyrow["n"] == 3
        assert anyrow["auc"] is not None and 0.0 <= anyrow["auc"] <= 1.0
        assert series[model]["epidural"]["auc"] is None  # no positive subject: no AUC, not a made-up one
    assert np.isclose(sum(series["cnn_bilstm"]["any"][k] for k in ("tp", "fn", "tn", "fp")), 3)
