"""score_skullstrip through the real runtime on the bundled demo strips (known truth)."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InputError
from core.io import load
from core.paths import demo_dir
from core.tasks.skullstrip import SkullStripScorer, score_skullstrip
from core.volume import Volume


@pytest.fixture(scope="module")
def scorer():
    return SkullStripScorer(threads=1)


@pytest.mark.parametrize("name,verdict", [("good", "pass"), ("face_kept", "face kept"), ("brain_cut", "brain cut")])
def test_demo_strips_get_their_known_verdict(scorer, name, verdict):
    vol = load(str(demo_dir() / "mri" / f"{name}.nii.gz"))
    res = scorer.score(vol)
    assert res.verdict == verdict, res.to_dict()
    assert res.cam.shape == (2, 8, 16, 16) and 0 <= res.cam.min() and res.cam.max() <= 1.0 + 1e-6
    assert res.model.name == "skullstrip_qc" and res.model.provider.endswith("ExecutionProvider")
    again = score_skullstrip(vol)
    assert (again.p_face, again.p_brain_loss) == pytest.approx((res.p_face, res.p_brain_loss), abs=1e-6)


def test_ct_volume_is_refused(scorer):
    ct = Volume(voxels=np.full((30, 64, 64), 40, np.float32), affine=np.eye(4), modality="CT")
    with pytest.raises(InputError, match="MRI"):
        scorer.score(ct)
