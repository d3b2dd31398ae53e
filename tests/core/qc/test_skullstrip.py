"""score_skullstrip through the real runtime on the bundled demo strips (known truth), the three
verdicts, the explanation, and the out-of-distribution guard (CT, blank, non-head: not scorable)."""

from __future__ import annotations

import numpy as np
import pytest

from core.io import load
from core.paths import demo_dir
from core.qc.preprocess import MODEL_SHAPE
from core.tasks.skullstrip import NOT_SCORABLE, SkullStripScorer, score_skullstrip
from core.volume import Volume


@pytest.fixture(scope="module")
def scorer():
    return SkullStripScorer(threads=1)


GOOD_MISS = pytest.mark.xfail(strict=True, reason=(
    "known miss of skullstrip_qc 2.2.0 (issue 13 closing note): the demo's generated good strip gets P(brain loss) 0.574 "
    "(2.1.0: 0.470); its brain is 1394 ml and the model reads a small brain as loss (held-out, bleed-free strips of the "
    "small ROBEX and T1_head_ext2 brains were flagged 42 % and 30 % of the time at 0.5)"))


@pytest.mark.parametrize("name,verdict", [pytest.param("good", "pass", marks=GOOD_MISS), ("face_kept", "face kept"), ("brain_cut", "brain cut")])
def test_demo_strips_get_their_known_verdict(scorer, name, verdict):
    vol = load(str(demo_dir() / "mri" / f"{name}.nii.gz"))
    res = scorer.score(vol)
    if name == "face_kept":  # grown 10-25 mm, it keeps skull and scalp too: "not skull-stripped" is also right
        assert res.flags["face"] and res.verdict in ("face kept", "not skull-stripped"), res.to_dict()
    else:
        assert res.verdict == verdict, res.to_dict()
    assert res.cam.shape == (3, *(n // 8 for n in MODEL_SHAPE)) and 0 <= res.cam.min() and res.cam.max() <= 1.0 + 1e-6
    assert res.scorable and res.explanation()
    assert res.model.name == "skullstrip_qc" and res.model.provider.endswith("ExecutionProvider")
    again = score_skullstrip(vol)
    assert (again.p_face, again.p_brain_loss) == pytest.approx((res.p_face, res.p_brain_loss), abs=1e-6)


def _not_scorable(res, reason: str) -> None:
    assert res.verdict == NOT_SCORABLE and not any(res.flags.values()), res.to_dict()
    assert reason in res.explanation(), res.explanation()


def test_ct_blank_and_non_head_volumes_are_not_scorable(scorer):
    rng = np.random.default_rng(0)
    head_ct = np.where(rng.random((30, 64, 64)) < 0.5, 40.0, -1000.0).astype(np.float32)
    _not_scorable(scorer.score(Volume(voxels=head_ct, affine=np.eye(4), modality="CT")), "CT")
    # a CT in NIfTI carries no modality: its Hounsfield units give it away
    _not_scorable(scorer.score(Volume(voxels=head_ct, affine=np.eye(4), modality="")), "Hounsfield")
    _not_scorable(scorer.score(Volume(voxels=np.zeros((40, 40, 40), np.float32), affine=np.eye(4), modality="MR")), "blank")
    small = np.zeros((40, 40, 40), np.float32)
    small[15:25, 15:25, 15:25] = 100  # a 1 ml cube: not a head nor a brain
    _not_scorable(scorer.score(Volume(voxels=small, affine=np.eye(4), modality="MR")), "ml of tissue")


def test_face_kept_strip_explains_its_flag(scorer):
    res = scorer.score(load(str(demo_dir() / "mri" / "face_kept.nii.gz")))
    assert res.flags["face"] and "face:" in res.explanation() and "ml of tissue in front of and below" in res.explanation()


def test_unstripped_head_is_its_own_verdict(scorer):
    """pydeface's mean head (a real T1 head with its face, shipped on PyPI) was never stripped."""
    pydeface = pytest.importorskip("pydeface")
    from pathlib import Path

    vol = load(str(Path(pydeface.__file__).parent / "data" / "mean_reg2mean.nii.gz"))
    res = scorer.score(vol)
    assert res.verdict == "not skull-stripped" and res.p_face > 0.5, res.to_dict()
    assert "not stripped:" in res.explanation()
