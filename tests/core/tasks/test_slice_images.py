"""Scoring a folder of 8-bit slice images (core.tasks.slice_images) with the real ICH CNN in ONNX Runtime:
slices of generated phantoms exported through hu_to_window8 as PNG/JPEG, gray/RGB, cropped, rotated, broken."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from core.errors import InputError
from core.imaging.pseudo_hu import hu_to_window8
from core.models.preprocess import slice_image_to_hu
from core.study.stats import auc_delong
from core.tasks import CTScorer
from core.tasks.slice_images import (SliceRow, evaluate, find_images, head_aspect, orientation_hint, read_labels_csv,
                                     score_slice_folder, soft_tissue_fraction, write_csv)
from training.synth.ct import make_ct_case


def export_slices(folder: Path, seed: int = 3, lesions: tuple[str, ...] = ("subdural",)) -> dict[str, int]:
    """8-bit brain-window PNGs (radiological orientation, anterior up) of a phantom; name -> any-hemorrhage label."""
    case = make_ct_case(seed, lesions=lesions, bg_side="none", size=256)
    folder.mkdir(parents=True, exist_ok=True)
    labels = {}
    for k in range(3, case.hu.shape[0] - 2):
        img = hu_to_window8(case.hu[k, ::-1, ::-1])
        name = f"s{seed}_{k:02d}.png"
        cv2.imwrite(str(folder / name), img)
        labels[name] = int(case.slice_labels["any"][k])
    return labels


@pytest.fixture(scope="module")
def scorer():
    return CTScorer(threads=2)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("slices")
    labels = export_slices(root / "a", 3)
    labels.update(export_slices(root / "a", 4, ()))
    return root, labels


@pytest.fixture(scope="module")
def result(scorer, folder):
    return score_slice_folder(folder[0], scorer)


def test_every_image_gets_six_probabilities_and_an_ood_verdict(result, folder, scorer):
    root, labels = folder
    assert [r.name for r in result.rows] == sorted(f"a/{n}" for n in labels)
    assert result.labels == ("any", "epidural", "intraparenchymal", "intraventricular", "subarachnoid", "subdural")
    assert not result.errors and set(result.thresholds) >= {"any"}
    direct = scorer.score_slices(np.stack([slice_image_to_hu(cv2.imread(str(root / r.name), cv2.IMREAD_UNCHANGED))
                                           for r in result.rows]))
    for k, r in enumerate(result.rows):
        assert [r.probs[lab] for lab in result.labels] == pytest.approx(direct.probs[k].tolist(), abs=1e-6)
        assert r.in_distribution == bool(direct.ood.slice_in_distribution[k])
        assert r.ood_score == pytest.approx(float(direct.ood.slice_scores[k]), rel=1e-6)
        assert 0 < r.soft_tissue < 1


def test_rgb_jpeg_cropped_and_rotated_copies_score_like_the_original(scorer, folder, tmp_path):
    root, labels = folder
    name = sorted(labels)[len(labels) // 2]
    gray = cv2.imread(str(root / "a" / name), cv2.IMREAD_GRAYSCALE)
    h, w = gray.shape
    cv2.imwrite(str(tmp_path / "rgb.png"), np.dstack([gray] * 3))
    cv2.imwrite(str(tmp_path / "gray.png"), gray)
    wide = np.zeros((h, w + 80), np.uint8)  # the same slice with air beside it: padding, never stretching
    wide[:, 40:40 + w] = gray
    cv2.imwrite(str(tmp_path / "wide.png"), wide)
    ref = score_slice_folder(tmp_path, scorer).rows
    by = {r.name: r for r in ref}
    assert by["rgb.png"].probs == pytest.approx(by["gray.png"].probs, abs=1e-6)
    assert by["wide.png"].probs["any"] == pytest.approx(by["gray.png"].probs["any"], abs=0.05)
    rot = tmp_path / "rot"
    rot.mkdir()
    cv2.imwrite(str(rot / "gray.png"), np.rot90(gray, k=1))  # turned 90 degrees anticlockwise, as PHE-SICH is
    turned = score_slice_folder(rot, scorer, rotate=90).rows[0]
    assert turned.probs == pytest.approx(by["gray.png"].probs, abs=1e-6)
    jpg = tmp_path / "jpg"
    jpg.mkdir()
    cv2.imwrite(str(jpg / "gray.jpg"), gray, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert score_slice_folder(jpg, scorer).rows[0].probs["any"] == pytest.approx(by["gray.png"].probs["any"], abs=0.1)


def test_unreadable_images_are_error_rows_naming_the_file_and_the_rest_is_scored(scorer, folder, tmp_path):
    root, _ = folder
    src = sorted((root / "a").iterdir())[:3]
    for p in src:
        (tmp_path / p.name).write_bytes(p.read_bytes())
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "tiny.png").write_bytes(cv2.imencode(".png", np.zeros((8, 8), np.uint8))[1].tobytes())
    raw_hu = (np.linspace(0, 2400, 64 * 64).reshape(64, 64)).astype(np.uint16)  # a 16-bit PNG of raw HU + 1024
    (tmp_path / "raw16.png").write_bytes(cv2.imencode(".png", raw_hu)[1].tobytes())
    (tmp_path / "notes.txt").write_text("not an image")  # not a PNG/JPEG name: not looked at
    res = score_slice_folder(tmp_path, scorer)
    errs = {r.name: r.error for r in res.errors}
    assert set(errs) == {"broken.png", "empty.jpg", "tiny.png", "raw16.png"}
    assert "cannot decode" in errs["broken.png"] and "too small" in errs["tiny.png"]
    assert "not a widened 8-bit export" in errs["raw16.png"]  # never scored as a near-black brain-window image
    assert len(res.scored) == 3
    out = tmp_path / "out.csv"
    write_csv(res, out)
    lines = out.read_text().splitlines()
    assert lines[0] == "filename,any,epidural,intraparenchymal,intraventricular,subarachnoid,subdural,ood_score,in_distribution,turned_prob,error"
    assert len(lines) == 1 + 7 and any(line.startswith("broken.png,,,,,,,,,") for line in lines)


def test_an_empty_folder_or_a_file_is_a_clear_error(scorer, tmp_path):
    with pytest.raises(InputError, match="no PNG, JPEG or DICOM images"):
        score_slice_folder(tmp_path, scorer)
    f = tmp_path / "x.png"
    f.write_bytes(b"")
    with pytest.raises(InputError, match="not a folder"):
        find_images(f)


def test_labels_csv_header_free_form_and_bad_rows(tmp_path):
    p = tmp_path / "l.csv"
    p.write_text("image name;whatever,hemorrhage (0/1)\na.png,1\nb.png,0\n\n")
    assert read_labels_csv(p) == {"a.png": 1, "b.png": 0}
    p.write_text("a.png,1\nb.png,0\n")  # no header
    assert read_labels_csv(p) == {"a.png": 1, "b.png": 0}
    p.write_text("f,label\na.png,yes\n")
    with pytest.raises(InputError, match="line 2"):
        read_labels_csv(p)


def test_evaluation_matches_delong_on_the_same_scores(result, folder):
    _, labels = folder
    ev = evaluate(result, labels)  # bare names match the rows' a/NAME paths
    assert ev.n == len(labels) and ev.n_pos == sum(labels.values()) and not ev.unmatched_labels
    rows = sorted(result.rows, key=lambda r: Path(r.name).name)
    truth = np.array([labels[Path(r.name).name] for r in rows], bool)
    p_any = np.array([r.probs["any"] for r in rows])
    assert ev.auc.auc == pytest.approx(auc_delong(truth, p_any).auc)
    assert ev.metrics.tp == int(((p_any >= ev.threshold) & truth).sum())
    soft = np.array([r.soft_tissue for r in rows])
    assert ev.shortcut_auc.auc == pytest.approx(max(auc_delong(truth, soft).auc, auc_delong(truth, -soft).auc))


def test_soft_tissue_fraction_and_orientation_hint():
    hu = np.full((64, 64), -1000.0, np.float32)
    hu[16:48, 16:48] = 40.0
    assert soft_tissue_fraction(hu) == pytest.approx(0.25)
    tall = np.zeros((100, 100), np.uint8)
    tall[10:90, 30:70] = 120  # 80 high, 40 wide: anterior up
    assert head_aspect(tall) == pytest.approx(2.0, rel=0.05)

    wide = SliceRow("w.png", aspect=0.8)  # a model without the orientation output: turned_prob NaN
    assert "--rotate 90" in orientation_hint([wide] * 5, 0)
    assert orientation_hint([wide] * 5, 90) == ""
    turned = SliceRow("t.png", aspect=1.2, turned_prob=0.97)  # taller than wide, yet the model finds it turned (e.g. 180)
    hint = orientation_hint([turned] * 4 + [wide], 0)
    assert "finds 4 of 4 images turned" in hint and "not scored" in hint
    # DICOM files are oriented by their header: neither their shape nor the model's verdict asks for --rotate
    assert orientation_hint([SliceRow("d.dcm", aspect=0.8, turned_prob=0.97, kind="dicom")] * 5, 0) == ""


# --- DICOM slice files ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dicom_folder(tmp_path_factory):
    """Five slices of a phantom with a subdural written as single-slice CT DICOM files (no gantry tilt), the
    same slices as 8-bit PNGs beside them, and three bad files: truncated, MR, and CT values that are not HU."""
    from tests.core.io.dicom_factory import ct_dataset, write_ct_series

    root = tmp_path_factory.mktemp("dicom_slices")
    case = make_ct_case(3, lesions=("subdural",), bg_side="none", size=256)
    hu = case.hu[8:13]
    write_ct_series(root / "ct", hu)
    (root / "png").mkdir()
    for k in range(len(hu)):
        cv2.imwrite(str(root / "png" / f"IM{k + 1:04d}.png"), hu_to_window8(hu[k, ::-1, ::-1]))
    (root / "bad").mkdir()
    good = (root / "ct" / "IM0001.dcm").read_bytes()
    (root / "bad" / "truncated.dcm").write_bytes(good[:len(good) // 3])
    mr = ct_dataset(np.full((64, 64), 300, np.int16), (0, 0, 0), series_uid="1.2.3.4", study_uid="1.2.3", instance=1, modality="MR")
    mr.save_as(root / "bad" / "mr.dcm", enforce_file_format=True)
    flat = ct_dataset(np.full((64, 64), 1024 + 40, np.int16), (0, 0, 0), series_uid="1.2.3.5", study_uid="1.2.3", instance=1)
    flat.save_as(root / "bad" / "IMFLAT", enforce_file_format=True)  # no suffix: found by its DICM preamble
    return root


def test_dicom_slice_files_score_as_the_loaded_series_slices(scorer, dicom_folder):
    from core.io.loader import load
    from core.models.preprocess import display_slices

    res = score_slice_folder(dicom_folder / "ct", scorer)
    assert [r.name for r in res.rows] == [f"IM{k:04d}.dcm" for k in range(1, 6)] and res.n_dicom == 5 and not res.errors
    series = scorer.score_slices(display_slices(load(dicom_folder / "ct")))
    for k, r in enumerate(res.rows):
        assert r.kind == "dicom" and np.isnan(r.aspect)
        assert [r.probs[lab] for lab in res.labels] == pytest.approx(series.probs[k].tolist(), abs=1e-5)
        assert r.in_distribution == bool(series.ood.slice_in_distribution[k])
    # the same slices exported as brain-window PNGs read the same (the model sees only what the export keeps)
    png = score_slice_folder(dicom_folder / "png", scorer)
    for a, b in zip(res.rows, png.rows):
        assert [a.probs[lab] for lab in res.labels] == pytest.approx([b.probs[lab] for lab in res.labels], abs=0.02)
    # rotate does not turn DICOM files (their header orients them)
    turned = score_slice_folder(dicom_folder / "ct", scorer, rotate=90)
    assert [r.probs for r in turned.rows] == [r.probs for r in res.rows]
    # a labels file listing IDs without ".dcm" matches by the name's stem
    ev = evaluate(res, {"IM0001": 0, "IM0003": 1, "ct/IM0004": 1, "IM0005.dcm": 0, "IM0099": 1})
    assert ev.n == 4 and ev.unmatched_labels == ["IM0099"]


def test_bad_dicom_files_are_error_rows_naming_them(scorer, dicom_folder):
    res = score_slice_folder(dicom_folder / "bad", scorer)
    errors = {r.name: r.error for r in res.rows}
    assert set(errors) == {"IMFLAT", "mr.dcm", "truncated.dcm"} and not res.scored
    assert errors["mr.dcm"] == "modality MR: the ICH CNN reads head CT"
    assert "do not look like CT Hounsfield units" in errors["IMFLAT"]
    assert errors["truncated.dcm"]  # the loader's own reason, whatever pydicom calls it
