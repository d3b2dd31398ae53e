"""`neuroreview score` and the out-of-distribution guard: outside the training data it says so and flags nothing;
the real GE head CT is in distribution with no finding flagged (issue 12, checked by)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from app.cli import main
from app.cli.score import print_text
from core.tasks.ct import OUTSIDE as OOD_TEXT
from core.io import load
from core.paths import phantom_ct_dir
from core.tasks import CTScorer
from tests.core.tasks.test_ct_ood import abdomen_like
from training.synth.ct import SynthCT
from training.synth.rsna import write_series


@pytest.fixture(scope="module")
def scorer():
    return CTScorer(threads=2)


def test_text_report_outside_the_training_data_names_no_finding(capsys, scorer):
    vol = load(phantom_ct_dir())
    ich, bg = scorer.score_ich(vol), scorer.score_bg(vol)
    ood = replace(ich.ood, in_distribution=False, reason="far from every training slice")
    print_text("x", vol, replace(ich, ood=ood), replace(bg, ood=ood))
    out = capsys.readouterr().out
    assert OOD_TEXT in out and "far from every training slice" in out
    assert "POSITIVE" not in out and "side left" not in out and "side right" not in out
    print_text("x", vol, replace(ich, ood=replace(ood, in_distribution=True)), bg)
    assert OOD_TEXT not in capsys.readouterr().out


def test_an_abdomen_is_not_scored_end_to_end(capsys, tmp_path):
    """The abdomen-like phantom of the OOD guard's tests written as a DICOM series and scored by the CLI."""
    hu = abdomen_like()[:, ::-1, ::-1]  # display -> canonical orientation
    case = SynthCT(seed=5, hu=np.ascontiguousarray(hu).astype(np.int16), affine=np.diag([0.9, 0.9, 5.0, 1.0]), masks={},
                   slice_labels={}, bg_side="none", bg_slices=np.zeros(len(hu), bool))
    write_series(case, tmp_path / "abdomen")
    rc = main(["score", str(tmp_path / "abdomen"), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and doc["in_distribution"] is False, doc["ood"]
    assert not any(doc["ich"]["flagged"].values()) and doc["bg"]["side"] == "none"
    rc = main(["score", str(tmp_path / "abdomen")])
    out = capsys.readouterr().out
    assert rc == 0 and OOD_TEXT in out and "POSITIVE" not in out and "side left" not in out and "side right" not in out


def test_the_real_ge_head_ct_is_in_distribution_and_flags_nothing(capsys, shared_data):
    rc = main(["score", str(shared_data / "ct-ge-head-tilt"), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and doc["in_distribution"] is True, doc["ood"]
    flagged = [lab for lab, on in doc["ich"]["flagged"].items() if on]
    print("GE head CT series probabilities:", {k: round(v, 3) for k, v in doc["ich"]["series_probs"].items()},
          "BG", round(doc["bg"]["p_hemorrhage"], 3), doc["bg"]["side"], "OOD", doc["ood"])
    assert flagged == [] and doc["bg"]["side"] == "none"


def test_in_distribution_the_report_shows_the_single_slice_cnn_beside_the_series_flag(capsys, scorer):
    """Each label's line carries the CNN's own slice maximum and its image, marked as no flag; --json carries the
    CNN's per-slice probabilities beside the BiLSTM's."""
    vol = load(phantom_ct_dir())
    ich, bg = scorer.score_ich(vol), scorer.score_bg(vol)
    ich = replace(ich, ood=replace(ich.ood, in_distribution=True))
    print_text("x", vol, ich, bg)
    out = capsys.readouterr().out
    assert "single-slice CNN, no series context (not a flag)" in out
    for j, lab in enumerate(ich.labels):
        top = int(ich.cnn_slice_probs[:, j].argmax())
        line = next(l for l in out.splitlines() if l.strip().startswith(lab + " "))
        assert f"max {ich.cnn_slice_probs[top, j]:.3f} on slice {top + 1}" in line
        assert ("POSITIVE" in line) == ich.flagged()[lab]
    doc = ich.to_dict()
    assert set(doc["cnn_slice_probs"]) == set(ich.labels)
    assert np.allclose(doc["cnn_slice_probs"]["subdural"], ich.cnn_slice_probs[:, ich.labels.index("subdural")], atol=1e-4)
