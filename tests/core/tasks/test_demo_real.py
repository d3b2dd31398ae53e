"""The real-anatomy demo cases (resources/demo/ct/real_bleed, real_normal): what was inserted and where, the
headers that say so, the licence beside them, and the bundled models scoring both as their truth."""

from __future__ import annotations

import json

import numpy as np
import pydicom
import pytest

from core.io import load
from core.paths import demo_ct_dir, demo_dir, demo_normal_ct_dir
from core.tasks import CTScorer

TRUTH = json.loads((demo_dir() / "labels.json").read_text())


@pytest.fixture(scope="module")
def volumes():
    return load(demo_ct_dir()), load(demo_normal_ct_dir())


def test_the_demo_is_the_real_bleed_case_with_its_licence():
    assert demo_ct_dir().name == "real_bleed"
    lic = (demo_dir() / "ct" / "LICENSE-ge-head-ct.txt").read_text()
    assert "BSD 2-Clause" in lic and "Chris Rorden" in lic
    assert sum(p.stat().st_size for p in demo_ct_dir().iterdir()) < 5e6  # small enough to bundle


def test_headers_say_modified_with_new_uids_and_keep_the_rest():
    bleed = [pydicom.dcmread(p) for p in sorted(demo_ct_dir().glob("*.dcm"))]
    normal = [pydicom.dcmread(p) for p in sorted(demo_normal_ct_dir().glob("*.dcm"))]
    assert len(bleed) == len(normal) == 28
    assert len({ds.SeriesInstanceUID for ds in bleed}) == 1 and bleed[0].SeriesInstanceUID != normal[0].SeriesInstanceUID
    assert not {ds.SOPInstanceUID for ds in bleed} & {ds.SOPInstanceUID for ds in normal}
    for b, n in zip(bleed, normal):
        assert "GENERATED" in b.SeriesDescription and "RESEARCH ONLY" in b.SeriesDescription
        assert b.ImageType[0] == "DERIVED" and "not a real finding" in b.DerivationDescription
        for kw in ("StudyInstanceUID", "ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing", "GantryDetectorTilt",
                   "RescaleIntercept", "Manufacturer", "InstanceNumber"):
            assert b.get(kw) == n.get(kw), kw


def test_blood_is_inserted_where_the_truth_says_in_the_acute_range(volumes):
    bleed, normal = volumes
    truth = TRUTH["ct/real_bleed"]
    assert bleed.shape == normal.shape and bleed.shape[0] == truth["slices"]
    changed = np.abs(bleed.voxels - normal.voxels) > 10
    per_slice = changed.sum(axis=(1, 2))
    pos = set(truth["positive_slices"]["any"])
    assert {int(k) for k in np.nonzero(per_slice >= 200)[0]} == pos
    assert per_slice[[k for k in range(bleed.shape[0]) if k not in pos]].max() < 200
    # well inside the blood (not its partial-volume rim, nor voxels the tilt resampling mixed with the inner table)
    core = changed & (np.abs(bleed.voxels - normal.voxels) > 30) & (normal.voxels < 60)
    assert 55 < np.median(bleed.voxels[core]) < 85 and np.percentile(bleed.voxels[core], 95) < 100
    # the subdural is on the patient's right: canonical x high = patient right
    sd = truth["positive_slices"]["subdural"]
    xs = np.nonzero(changed[sd])[2]
    assert np.mean(xs > bleed.shape[2] / 2) > 0.7


def test_bone_and_calcification_are_never_painted_over():
    """On the stored (native, tilted) slices: every pixel above 150 HU is bit-identical in both series."""
    for b, n in zip(sorted(demo_ct_dir().glob("*.dcm")), sorted(demo_normal_ct_dir().glob("*.dcm"))):
        pb, pn = pydicom.dcmread(b).pixel_array, pydicom.dcmread(n).pixel_array
        hu = pn * float(pydicom.dcmread(n, stop_before_pixels=True).RescaleSlope) + float(pydicom.dcmread(n, stop_before_pixels=True).RescaleIntercept)
        assert np.array_equal(pb[hu > 150], pn[hu > 150]), b.name


@pytest.mark.xfail(strict=True, reason="known miss of ich 0.7.1: on the real GE demo the inserted subdural scores 0.205 against its "
                   "series threshold 0.752 (0.7.0: 0.294 and read as epidural, 0.532 flagged; now epidural 0.010), and intraparenchymal "
                   "(0.952) is flagged next to the ventricular blood; any 0.955 and intraventricular 1.000 are flagged, subarachnoid not "
                   "(0.271), no BG side (P(hemorrhage) 0.159 below threshold), and the normal series flags nothing (any 0.006) - issue 12 closing note")
def test_both_demo_cases_score_as_their_truth(volumes):
    """Issue 12 'checked by': the bleed flagged where it was inserted, the normal series not flagged, both in distribution."""
    scorer = CTScorer(threads=2)
    bleed, normal = volumes
    for vol, key in ((bleed, "ct/real_bleed"), (normal, "ct/real_normal")):
        ich, bg = scorer.score_ich(vol), scorer.score_bg(vol)
        assert ich.ood.in_distribution, (key, ich.ood.reason)
        called = ich.flagged()
        print(key, {lab: round(p, 3) for lab, p in ich.series_probs.items()}, "BG", round(bg.p_hemorrhage, 3), bg.side)
        wrong = {lab: round(ich.series_probs[lab], 3) for lab, want in TRUTH[key]["series_labels"].items() if called[lab] != want}
        assert not wrong, (key, wrong)
        assert bg.side == "none", (key, bg.series_probs)
    # the bleed flagged where it was inserted: the most likely 'any' slice is one with blood
    ich = scorer.score_ich(bleed)
    assert int(np.argmax(ich.slice_probs[:, 0])) in TRUTH["ct/real_bleed"]["positive_slices"]["any"]
