"""core.tasks.dispatch: one decision of which analyses apply, with a reason when none does."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from core.io import load
from core.paths import demo_dir
from core.tasks.dispatch import CT_BG, CT_ICH, MR_SKULLSTRIP, analyses_for
from training.synth.ct import make_ct_case


@pytest.fixture(scope="module")
def ct():
    return make_ct_case(7, n_slices=8, size=128).to_volume()


@pytest.fixture(scope="module")
def mr():
    return load(demo_dir() / "mri" / "good.nii.gz")


def test_head_ct_gets_both_ct_models(ct):
    a = analyses_for(ct)
    assert a.tasks == (CT_ICH, CT_BG) and a.kind == "ct" and a.applies and a.reason == ""


def test_mri_gets_the_skullstrip_qc_only(mr):
    a = analyses_for(mr)
    assert a.tasks == (MR_SKULLSTRIP,) and a.kind == "mr" and CT_ICH not in a


@pytest.mark.parametrize("change, words", [
    (lambda v: replace(v, voxels=v.voxels[:3]), "at least 5 slices; this one has 3"),
    (lambda v: replace(v, voxels=np.zeros_like(v.voxels) + 30.0), "do not look like CT Hounsfield units"),
    (lambda v: replace(v, modality="US"), "this volume is US"),
    (lambda v: replace(v, modality="OT"), "give --modality CT"),
])
def test_what_no_model_reads_says_why(ct, change, words):
    a = analyses_for(change(ct))
    assert a.tasks == () and a.kind is None and not a.applies
    assert a.reason.startswith("no model applies: ") and words in a.reason


def test_a_constant_or_flat_mri_gets_no_model(mr):
    assert "constant" in analyses_for(replace(mr, voxels=np.zeros((20, 20, 20), np.float32))).reason
    assert "3-D MRI" in analyses_for(replace(mr, voxels=mr.voxels[:2])).reason


def test_untyped_non_hu_volume_is_read_as_mri(mr):
    assert analyses_for(replace(mr, modality="")).kind == "mr"
