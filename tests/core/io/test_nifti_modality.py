"""NIfTI CT recognition (issue 12 item 7): a head CT in HU is CT from its values or header words, an MR
intensity scale stays MR, and `--modality` overrides either way in `info` and `score`."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest

from app.cli import main as cli_main
from core.io import load
from core.io.modality import looks_like_hu, modality_from_text
from core.volume import WarningCode
from tests.core.io.dicom_factory import phantom_hu


def _save(path, data, descrip: str = ""):
    img = nib.Nifti1Image(data, np.diag([0.8, 0.8, 5.0, 1.0]))
    if descrip:
        img.header["descrip"] = descrip.encode()
    nib.save(img, path)
    return path


def _ct_xyz(nz: int = 12) -> np.ndarray:
    return phantom_hu(nz, 96, 96).transpose(2, 1, 0)


def _mr_xyz(seed: int = 0) -> np.ndarray:
    """An MR-like intensity scale: background ~0, brain 300-900, no negative values."""
    rng = np.random.default_rng(seed)
    hu = phantom_hu(12, 96, 96).transpose(2, 1, 0).astype(np.float32)
    mr = np.where(hu > -500, 600 + rng.normal(0, 80, hu.shape), rng.random(hu.shape) * 10)
    return mr.astype(np.float32)


@pytest.mark.parametrize("dtype", [np.int16, np.float32])
def test_hu_volume_is_ct(tmp_path, dtype):
    vol = load(_save(tmp_path / "head.nii.gz", _ct_xyz().astype(dtype)))
    assert vol.modality == "CT"
    inferred = [w for w in vol.warnings if w.code == WarningCode.MODALITY_INFERRED]
    assert inferred and "Hounsfield" in inferred[0].message


def test_mr_intensities_stay_mr(tmp_path):
    vol = load(_save(tmp_path / "t1.nii.gz", _mr_xyz()))
    assert vol.modality == "MR"


def test_header_words_decide_before_values(tmp_path):
    assert load(_save(tmp_path / "a.nii.gz", _mr_xyz(), descrip="NCCT head")).modality == "CT"
    assert load(_save(tmp_path / "b.nii.gz", _ct_xyz(), descrip="T1 MPRAGE")).modality == "MR"
    assert modality_from_text("TE=2.5;TIME=1 T1W") == "MR" and modality_from_text("CT BRAIN 5MM") == "CT"
    assert modality_from_text("ACT 2019") is None  # words, not substrings


def test_value_rule_needs_air_and_bone():
    ct = _ct_xyz().astype(np.float32)
    assert looks_like_hu(ct)[0]
    assert not looks_like_hu(ct + 1024)[0]  # unsigned storage without its intercept: not HU (use --modality)
    assert not looks_like_hu(np.clip(ct, -1000, 100))[0]  # no bone: not a head CT
    assert not looks_like_hu(_mr_xyz())[0]


def test_modality_override(tmp_path, capsys):
    mr_path = _save(tmp_path / "t1.nii.gz", _mr_xyz())
    assert load(mr_path, modality="CT").modality == "CT"
    assert load(_save(tmp_path / "ct.nii.gz", _ct_xyz()), modality="mr").modality == "MR"
    assert cli_main(["info", str(mr_path), "--json", "--modality", "CT"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["series"][0]["modality"] == "CT"


def test_score_runs_on_a_nifti_ct_and_refuses_it_as_mr(tmp_path, capsys):
    path = _save(tmp_path / "ct.nii.gz", _ct_xyz())
    assert cli_main(["score", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["ich"]["series_probs"]) >= {"any", "subdural"} and report["slices"] == 12
    assert cli_main(["score", str(path), "--modality", "MR"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "CT" in err[0]


def test_a_ct_stored_as_hu_plus_1024_is_named_and_read_as_hu_when_the_user_says_ct(tmp_path):
    """A NIfTI CT stored unsigned without its intercept (HU + 1024): recognised as such but left MR unless the user
    says CT (it has no negative values, like an MR); with --modality CT it is read as HU, with a warning. An MR
    and a CT clipped at 0 HU (brain at 30) are never shifted."""
    from core.io.modality import unsigned_hu_offset

    ct = _ct_xyz().astype(np.float32)
    path = _save(tmp_path / "unsigned.nii.gz", (ct + 1024).astype(np.uint16))
    vol = load(path)
    assert vol.modality == "MR"
    inferred = [w.message for w in vol.warnings if w.code == WarningCode.MODALITY_INFERRED]
    assert inferred and "HU + 1024" in inferred[0] and "--modality CT" in inferred[0]
    as_ct = load(path, modality="CT")
    assert as_ct.modality == "CT" and any(w.code == WarningCode.MISSING_RESCALE for w in as_ct.warnings)
    np.testing.assert_allclose(np.sort(as_ct.voxels.ravel()), np.sort(ct.ravel()), atol=0.5)
    assert unsigned_hu_offset(ct + 1024) == 1024
    assert unsigned_hu_offset(ct) == 0 and unsigned_hu_offset(_mr_xyz()) == 0
    assert unsigned_hu_offset(np.clip(ct, 0, None)) == 0  # a CT clipped at 0 HU is HU already
    mr_as_ct = load(_save(tmp_path / "t1.nii.gz", _mr_xyz()), modality="CT")
    assert not any(w.code == WarningCode.MISSING_RESCALE for w in mr_as_ct.warnings)
