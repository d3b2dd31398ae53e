"""`neuroreview score-slices`: generated phantom slices exported through hu_to_window8, and the real 8-bit sets
(CT-ICH anterior up, PHE-SICH turned 90 degrees) on the test patients of the stored split."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.cli import main
from core.explain.intracranial import NOMINAL_MODEL_PX_MM, intracranial_cam
from core.models.preprocess import slice_image_to_hu
from core.tasks import CTScorer
from tests.core.tasks.test_slice_images import export_slices

SPLITS = json.loads((Path(__file__).resolve().parents[2] / "training" / "ct_data" / "splits.json").read_text())


def run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture(scope="module")
def phantom_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli_slices")
    labels = export_slices(root, 5)
    labels.update(export_slices(root, 6, ()))
    (root / "zz_broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    lab = root.parent / f"{root.name}_labels.csv"
    with open(lab, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["slice", "any hemorrhage"])
        w.writerows(sorted(labels.items()))
    return root, lab, labels


def test_out_csv_labels_and_errors(capsys, phantom_folder, tmp_path):
    root, lab, labels = phantom_folder
    out = tmp_path / "res.csv"
    rc, stdout, err = run(capsys, "score-slices", str(root), "--labels", str(lab), "--out", str(out))
    assert rc == 0
    assert "error: cannot decode the image" in err and "zz_broken.jpg" in err
    assert f"{len(labels)} image(s) scored, 1 unreadable" in stdout
    assert f"n = {len(labels)} ({sum(labels.values())} positive" in stdout
    assert "AUC " in stdout and "DeLong" in stdout and "sensitivity" in stdout and "specificity" in stdout
    assert "shortcut baseline (soft-tissue fraction" in stdout
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == len(labels) + 1
    assert list(rows[0])[:7] == ["filename", "any", "epidural", "intraparenchymal", "intraventricular", "subarachnoid", "subdural"]
    assert {"ood_score", "in_distribution", "error"} <= set(rows[0])
    ok = [r for r in rows if not r["error"]]
    assert all(0.0 <= float(r["any"]) <= 1.0 for r in ok)


def test_json_output_and_bad_arguments(capsys, phantom_folder, tmp_path):
    root, lab, labels = phantom_folder
    rc, stdout, _ = run(capsys, "score-slices", str(root), "--json", "--labels", str(lab))
    doc = json.loads(stdout)
    assert rc == 0 and len(doc["images"]) == len(labels) and doc["errors"][0]["filename"] == "zz_broken.jpg"
    assert doc["evaluation"]["n"] == len(labels) and "auc" in doc["evaluation"]["shortcut"]
    rc, _, err = run(capsys, "score-slices", str(root), "--window", "lung")
    assert rc == 2 and "unknown window 'lung'" in err
    bad = tmp_path / "bad.csv"
    bad.write_text("name,label\nx.png,maybe\n")
    rc, _, err = run(capsys, "score-slices", str(root), "--labels", str(bad))
    assert rc == 2 and "bad.csv" in err and "line 2" in err
    rc, _, err = run(capsys, "score-slices", str(tmp_path / "none"))
    assert rc == 2 and "not a folder" in err


# -- real 8-bit head CT (../shared/data) ------------------------------------------------------------
def _test_patients(prefix: str) -> set[str]:
    return {k.split("_", 1)[1] for k, v in SPLITS.items() if k.startswith(prefix) and v == "test"}


def _order_checked(rows: list[dict], images: Path) -> list[dict]:
    """Drop the slices whose CT-ICH labels the slice-order check cannot trust (training.ct_data.real: patient 49's
    file numbering is scrambled, its 'epidural' labels fall on neck slices), as training and evaluation do."""
    from training.ct_data.real import checked_labels, to_grid8

    keep = []
    for pid in sorted({r["patient"] for r in rows}):
        pr = sorted((r for r in rows if r["patient"] == pid), key=lambda r: int(r["slice"]))
        img = np.stack([to_grid8(cv2.imread(str(images / r["filename"]), cv2.IMREAD_GRAYSCALE)) for r in pr])
        y = np.array([[float(r["any"])] + [0.0] * 5 for r in pr], np.float32)
        checked, _ = checked_labels(y, img)
        keep += [r for r, yy in zip(pr, checked[:, 0]) if yy >= 0]
    return keep


def _link_folder(src: Path, names: list[str], dst: Path) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for n in names:
        os.symlink(src / n, dst / n)


@pytest.mark.slow
def test_real_ct_ich_test_patients(capsys, shared_data, tmp_path):
    rows = list(csv.DictReader((shared_data / "ct-ich" / "slices.csv").open()))
    test = _test_patients("ctich_")
    rows = _order_checked([r for r in rows if r["filename"].split("_")[0] in test], shared_data / "ct-ich" / "images")
    _link_folder(shared_data / "ct-ich" / "images", [r["filename"] for r in rows], tmp_path / "img")
    lab = tmp_path / "labels.csv"
    lab.write_text("filename,any\n" + "".join(f"{r['filename']},{r['any']}\n" for r in rows))
    rc, out, err = run(capsys, "score-slices", str(tmp_path / "img"), "--labels", str(lab), "--json")
    ev = json.loads(out)["evaluation"]
    print(f"CT-ICH test patients: n {ev['n']} ({ev['n_pos']} pos), AUC {ev['auc']}, se {ev['sensitivity']['value']:.3f}, "
          f"sp {ev['specificity']['value']:.3f}, shortcut {ev['shortcut']['auc']:.3f}, OOD {ev['n_out_of_distribution']}")
    assert rc == 0 and ev["n"] == len(rows) and "warning" not in err  # anterior up: no orientation warning
    assert ev["auc"]["auc"] > ev["shortcut"]["auc"], ("the model must beat the soft-tissue shortcut (blood, not the slice level)",
                                                     ev["auc"], ev["shortcut"])


def _phe_lesion_folder(shared_data: Path, dst: Path) -> list[str]:
    rows = list(csv.DictReader((shared_data / "phe-sich-ct" / "slices.csv").open()))
    test = _test_patients("phe_")
    names = [r["filename"] for r in rows if r["patient"] in test and r["lesion"] == "1"]
    _link_folder(shared_data / "phe-sich-ct" / "images", names, dst)
    return names


@pytest.mark.slow
def test_real_phe_sich_export_is_noticed_as_turned_and_scored_with_rotate_90(shared_data, tmp_path):
    from core.tasks.slice_images import orientation_hint, score_slice_folder

    names = _phe_lesion_folder(shared_data, tmp_path / "img")
    scorer = CTScorer(threads=2)
    as_given = score_slice_folder(tmp_path / "img", scorer, rotate=0)
    assert "--rotate 90" in orientation_hint(as_given.rows, 0)  # the cheap check notices the export is turned
    res = score_slice_folder(tmp_path / "img", scorer, rotate=90)
    assert orientation_hint(res.rows, 90) == "" and len(res.scored) == len(names)
    flagged = [r for r in res.scored if r.in_distribution and r.probs["any"] >= res.thresholds["any"]]
    print(f"PHE-SICH test lesion slices flagged at the card threshold: {len(flagged)}/{len(names)}")
    assert len(flagged) >= 0.5 * len(names)


@pytest.mark.slow
def test_real_phe_sich_gradcam_points_at_the_lesion(shared_data, tmp_path):
    """Flagged lesion slices of the PHE-SICH test patients (turned 90 degrees): the 'any' map's peak, cut to the
    intracranial space, lies inside or within ~10 mm of the outlined lesion for most of them."""
    from core.tasks.slice_images import score_slice_folder

    names = _phe_lesion_folder(shared_data, tmp_path / "img")
    scorer = CTScorer(threads=2)
    res = score_slice_folder(tmp_path / "img", scorer, rotate=90)
    thr = res.thresholds["any"]
    flagged = [r for r in res.scored if r.in_distribution and r.probs["any"] >= thr]
    hu = np.stack([slice_image_to_hu(cv2.imread(str(tmp_path / "img" / r.name), cv2.IMREAD_UNCHANGED), rotate=90) for r in flagged])
    out = scorer.score_slices(hu)
    near_px = 10.0 / NOMINAL_MODEL_PX_MM
    hits = 0
    for k, r in enumerate(flagged):
        m = intracranial_cam(out.cam[k, 0], hu[k])
        y, x = np.unravel_index(int(np.argmax(m)), m.shape)
        lesion = cv2.imread(str(shared_data / "phe-sich-ct" / "masks" / r.name), cv2.IMREAD_GRAYSCALE)
        lesion = slice_image_to_hu(lesion, window="brain", rotate=90) > 40  # same turn, pad and resize as the image
        dist = cv2.distanceTransform((~lesion).astype(np.uint8), cv2.DIST_L2, 5)
        hits += dist[y, x] <= near_px
    frac = hits / max(len(flagged), 1)
    print(f"PHE-SICH test lesion slices: {len(names)}, flagged {len(flagged)}, Grad-CAM peak within 10 mm of the lesion "
          f"{hits}/{len(flagged)} = {frac:.2f}")
    assert frac >= 0.5, f"Grad-CAM peak within 10 mm of the outlined lesion on {hits} of {len(flagged)} flagged lesion slices"


def test_dicom_files_are_scored_in_hu_and_rotate_does_not_turn_them(capsys, tmp_path):
    """Single-slice CT DICOM files (RSNA-style) beside PNGs: both scored, --rotate applies to the PNGs only and the
    user is told so."""
    from core.imaging.pseudo_hu import hu_to_window8
    from tests.core.io.dicom_factory import phantom_hu, write_ct_series

    hu = phantom_hu(3, 128, 128, seed=2)
    write_ct_series(tmp_path / "mixed", hu)
    cv2.imwrite(str(tmp_path / "mixed" / "slice.png"), hu_to_window8(hu[1, ::-1, ::-1].astype(np.float32)))
    rc, stdout, err = run(capsys, "score-slices", str(tmp_path / "mixed"), "--rotate", "90", "--json")
    doc = json.loads(stdout)
    assert rc == 0 and not doc["errors"]
    assert sorted((i["filename"], i["kind"]) for i in doc["images"]) == [("IM0001.dcm", "dicom"), ("IM0002.dcm", "dicom"),
                                                                          ("IM0003.dcm", "dicom"), ("slice.png", "image")]
    assert "--rotate 90 does not apply to the 3 DICOM file(s)" in err
    rc, stdout, err = run(capsys, "score-slices", str(tmp_path / "mixed"))
    assert rc == 0 and "4 image(s) scored (3 DICOM in HU)" in stdout and "does not apply" not in err


@pytest.mark.slow
def test_real_dicom_files_of_one_series_score_one_by_one(capsys, shared_data, tmp_path):
    """The real GE head CT's files as single slices: every file read in HU, oriented by its header (the model finds
    them upright: no --rotate), and in the model's training distribution."""
    out = tmp_path / "ge.csv"
    rc, stdout, err = run(capsys, "score-slices", str(shared_data / "ct-ge-head-tilt"), "--out", str(out))
    rows = list(csv.DictReader(out.open()))
    assert rc == 0 and len(rows) == 28 and not any(r["error"] for r in rows) and "turned" not in err
    assert all(r["in_distribution"] == "1" for r in rows)
    assert np.median([float(r["turned_prob"]) for r in rows]) < 0.75
