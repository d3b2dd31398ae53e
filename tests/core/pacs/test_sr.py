"""`neuroreview score PATH --sr OUT.dcm`: the SR validates (dciodvfy), reads back with pydicom and highdicom,
carries one finding per label with the probabilities the scorer printed, and references the source series."""

from __future__ import annotations

import json
import shutil
import subprocess

import highdicom as hd
import pydicom
import pytest

from tests.core.pacs.helpers import DEMO, NEUROREVIEW


def dciodvfy_errors(path) -> list[str]:
    out = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True)
    return [line for line in (out.stdout + out.stderr).splitlines() if line.startswith("Error")]


needs_dciodvfy = pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dciodvfy is not installed (Debian dicom3tools)")


@pytest.fixture(scope="module")
def demo_sr(tmp_path_factory):
    out = tmp_path_factory.mktemp("sr") / "demo-sr.dcm"
    run = subprocess.run([NEUROREVIEW, "score", str(DEMO / "hemorrhage"), "--json", "--sr", str(out)],
                         capture_output=True, text=True, check=True)
    return out, json.loads(run.stdout)


@needs_dciodvfy
def test_sr_validates(demo_sr):
    path, _ = demo_sr
    assert dciodvfy_errors(path) == []


def test_sr_reads_back_with_one_finding_per_label(demo_sr):
    path, scored = demo_sr
    ds = pydicom.dcmread(path)
    src = [pydicom.dcmread(p, stop_before_pixels=True) for p in sorted((DEMO / "hemorrhage").glob("*.dcm"))]
    assert ds.SOPClassUID == pydicom.uid.Comprehensive3DSRStorage and ds.Modality == "SR"
    assert (ds.PatientID, ds.PatientName, ds.StudyInstanceUID) == (src[0].PatientID, src[0].PatientName, src[0].StudyInstanceUID)
    assert ds.SeriesInstanceUID != src[0].SeriesInstanceUID and "not for clinical use" in ds.SeriesDescription
    (ev,) = ds.CurrentRequestedProcedureEvidenceSequence
    (ser,) = ev.ReferencedSeriesSequence
    assert ser.SeriesInstanceUID == src[0].SeriesInstanceUID
    assert {r.ReferencedSOPInstanceUID for r in ser.ReferencedSOPSequence} == {s.SOPInstanceUID for s in src}

    sr = hd.sr.srread(path)
    groups = sr.content.get_image_measurement_groups()
    ich = [g for g in groups if g.tracking_identifier.startswith("ICH ")]
    labels = list(scored["ich"]["series_probs"])
    assert [g.tracking_identifier for g in ich] == [f"ICH {lab}" for lab in labels]  # one finding per label
    for g, lab in zip(ich, labels):
        (prob,) = [m for m in g.get_measurements() if m.name.meaning == "Model probability"]
        assert prob.value == pytest.approx(scored["ich"]["series_probs"][lab], abs=1e-5)
        (thr,) = [m for m in g.get_measurements() if m.name.meaning == "Decision threshold"]
        (flag,) = g.get_qualitative_evaluations()
        expect = "Present" if scored["ich"]["series_probs"][lab] >= thr.value else "Absent"
        assert flag.value.meaning == expect
        algo = _texts(g[0].ContentSequence)
        assert set(algo["Algorithm Name"]) == {"ich_bilstm"} and algo["Algorithm Version"]  # group and measurement
        assert {p.split()[0] for p in algo["Algorithm Parameters"]} == {"ich_cnn", "ich_bilstm"}
        assert all("sha256=" in p and len(p.split("sha256=")[1]) == 64 for p in algo["Algorithm Parameters"])
    (bg,) = [g for g in groups if g.tracking_identifier == "BG laterality"]
    lat = [q for q in bg.get_qualitative_evaluations() if q.name.meaning.startswith("Laterality")]
    assert len(lat) == 1 and scored["bg"]["side"] in lat[0].value.meaning.lower() + " none unverified"
    ood = scored["ich"].get("ood")
    checks = [g for g in groups if g.tracking_identifier == "Input check"]
    if ood is None:
        assert checks == []
    else:  # the out-of-distribution verdict travels with the results
        (check,) = checks
        (dist,) = [m for m in check.get_measurements() if m.name.meaning.startswith("Distance to training data")]
        assert dist.value == pytest.approx(ood["score"], abs=1e-4)
        (out,) = check.get_qualitative_evaluations()
        assert out.value.meaning == ("Absent" if ood["in_distribution"] else "Present")
        (orient,) = [g for g in groups if g.tracking_identifier == "Orientation check"]  # ich_ood 0.5: P(turned)
        (med,) = [m for m in orient.get_measurements() if m.name.meaning == "Median probability the head is turned"]
        (thr,) = [m for m in orient.get_measurements() if m.name.meaning == "Decision threshold"]
        assert med.value == pytest.approx(ood["turned_prob_median"], abs=1e-4) and thr.value == pytest.approx(ood["turned_threshold"])
        (turned,) = orient.get_qualitative_evaluations()
        assert turned.value.meaning == ("Present" if ood["turned"] else "Absent") == ("Present" if med.value > thr.value else "Absent")
    text = [i.TextValue for i in ds.ContentSequence if i.ValueType == "TEXT"]
    assert any("not for clinical use" in t for t in text)


def _texts(items) -> dict[str, list[str]]:
    """TEXT content items by concept name, searched through nested content."""
    out: dict[str, list[str]] = {}
    for it in items:
        if it.ValueType == "TEXT":
            out.setdefault(it.ConceptNameCodeSequence[0].CodeMeaning, []).append(it.TextValue)
        for k, v in _texts(it.get("ContentSequence", [])).items():
            out.setdefault(k, []).extend(v)
    return out


@needs_dciodvfy
def test_gradcam_secondary_captures_validate_and_reference_the_study(tmp_path):
    from core.pacs.results import score_and_write

    written = score_and_write(str(DEMO / "hemorrhage"), tmp_path)
    assert len(written.secondary_captures) == len(written.findings.flagged) >= 1
    src = pydicom.dcmread(next((DEMO / "hemorrhage").glob("*.dcm")), stop_before_pixels=True)
    src_uids = {pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID for p in (DEMO / "hemorrhage").glob("*.dcm")}
    for p in written.secondary_captures:
        assert dciodvfy_errors(p) == []
        sc = pydicom.dcmread(p)
        assert sc.StudyInstanceUID == src.StudyInstanceUID and sc.PatientID == src.PatientID
        assert sc.BurnedInAnnotation == "YES" and sc.SourceImageSequence[0].ReferencedSOPInstanceUID in src_uids
        rgb = sc.pixel_array
        assert rgb.shape == (512, 512, 3) and (rgb[..., 0].astype(int) - rgb[..., 2]).std() > 5  # colour map present
