"""Generated skull strips: labels follow the masks' measurements, files are BET-BSE format and
load as canonical MR volumes, the same seed gives the same bytes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.io import load
from training.synth.__main__ import main as synth_main
from training.synth.mri import BRAIN_LOSS_THRESHOLD, FACE_KEPT_THRESHOLD, load_template, make_mri_head, strip


@pytest.fixture(scope="module")
def head():
    return make_mri_head(5, load_template())


def test_template_brain_mask_is_a_plausible_brain():
    tpl = load_template()
    brain = tpl.brain_sdf <= 0
    volume_cm3 = brain.sum() * abs(np.linalg.det(tpl.affine[:3, :3])) / 1000
    assert 1000 < volume_cm3 < 1800  # adult intracranial/brain volume range
    assert not (brain & tpl.face).any()  # the face is outside the brain


@pytest.mark.parametrize("setting,face,loss", [("good", False, False), ("loose", True, False), ("tight", False, True)])
def test_labels_are_measured_on_the_masks(head, setting, face, loss):
    s = strip(head, 77, setting)
    face_frac = (s.kept & s.face).sum() / s.face.sum()
    loss_frac = (s.brain & ~s.kept).sum() / s.brain.sum()
    assert s.face_kept_frac == pytest.approx(face_frac)
    assert s.brain_lost_frac == pytest.approx(loss_frac)
    assert s.face_label == (face_frac >= FACE_KEPT_THRESHOLD) == face
    assert s.brain_loss_label == (loss_frac >= BRAIN_LOSS_THRESHOLD) == loss
    assert (s.stripped[~s.kept] == 0).all() and (s.stripped[s.kept & s.brain] > 0).mean() > 0.95


def test_cli_writes_bet_bse_label_file_and_loadable_files(tmp_path):
    out1, out2 = tmp_path / "a", tmp_path / "b"
    for out in (out1, out2):
        assert synth_main(["mri", "--n", "3", "--out", str(out), "--seed", "4", "--settings", "good", "loose", "tight"]) == 0
    labels = pd.read_csv(out1 / "label_file.csv")
    assert list(labels.columns) == ["Filename", "Recognizable-Facial-Feature", "Brain-Feature-Loss"]
    assert set(labels.iloc[:, 1:].to_numpy().ravel()) <= {"Yes", "No"}
    meas = pd.read_csv(out1 / "qc_measurements.csv")
    for _, row in labels.merge(meas, on="Filename").iterrows():
        assert (row["Recognizable-Facial-Feature"] == "Yes") == (row["face_kept_frac"] >= FACE_KEPT_THRESHOLD)
        assert (row["Brain-Feature-Loss"] == "Yes") == (row["brain_lost_frac"] >= BRAIN_LOSS_THRESHOLD)
        vol = load(out1 / row["Filename"])
        assert vol.modality == "MR" and vol.axcodes == ("R", "A", "S")
        assert vol.voxels.max() > 100 and (vol.voxels == 0).mean() > 0.5
    good, loose, tight = (meas.iloc[i] for i in range(3))  # settings cycle good, loose, tight
    assert [good["setting"], loose["setting"], tight["setting"]] == ["good", "loose", "tight"]
    assert loose["face_kept_frac"] > good["face_kept_frac"] == 0
    assert tight["brain_lost_frac"] > BRAIN_LOSS_THRESHOLD > good["brain_lost_frac"]
    for name in labels["Filename"]:
        assert (out1 / name).read_bytes() == (out2 / name).read_bytes()
