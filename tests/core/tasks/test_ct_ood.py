"""The CT out-of-distribution guard on inputs the models were never meant to score: an abdomen-like
phantom, MR slices, blank images, a head turned 90 degrees; and on what they were trained for."""

from __future__ import annotations

import numpy as np
import pytest

from core.imaging.pseudo_hu import hu_to_window8, window8_to_hu
from core.models.preprocess import MODEL_SIZE, display_slices
from core.tasks import CTScorer
from core.volume import SeriesIds, Volume, Window
from training.synth.ct import make_ct_case


@pytest.fixture(scope="module")
def scorer():
    return CTScorer(threads=2)


@pytest.fixture(scope="module")
def head():
    return make_ct_case(7, size=256, lesions=(), bg_side="none").to_volume()


def _volume(hu: np.ndarray, spacing: float = 0.9) -> Volume:
    affine = np.diag([spacing, spacing, 5.0, 1.0])
    return Volume(voxels=hu.astype(np.float32), affine=affine, modality="CT", ids=SeriesIds(series_uid="test"), window=Window(80, 40))


def abdomen_like(n: int = 24, size: int = 256) -> np.ndarray:
    """Axial abdomen: a wide body of fat and soft tissue, liver, bowel gas, a vertebra; no skull."""
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    body = ((xx - 128) / 120) ** 2 + ((yy - 135) / 85) ** 2 <= 1
    muscle = ((xx - 128) / 105) ** 2 + ((yy - 135) / 72) ** 2 <= 1
    hu = np.full((size, size), -1000, np.float32)
    hu[body] = -100
    hu[muscle] = 45
    hu[((xx - 85) / 45) ** 2 + ((yy - 120) / 40) ** 2 <= 1] = 60  # liver
    hu[((xx - 128) / 14) ** 2 + ((yy - 195) / 14) ** 2 <= 1] = 700  # vertebra
    rng = np.random.default_rng(0)
    out = np.empty((n, size, size), np.float32)
    for k in range(n):
        sl = hu.copy()
        for _ in range(6):
            cy, cx = rng.uniform(110, 170), rng.uniform(120, 200)
            sl[((xx - cx) / 9) ** 2 + ((yy - cy) / 7) ** 2 <= 1] = -900  # gas
        out[k] = sl + rng.normal(0, 8, sl.shape)
    return out


def test_the_head_phantom_is_in_distribution(scorer, head):
    res = scorer.score_ich(head)
    assert res.ood is not None and res.ood.in_distribution, res.ood.reason
    assert res.ood.score <= res.ood.threshold


def test_an_abdomen_is_outside_and_nothing_is_flagged(scorer):
    vol = _volume(abdomen_like()[:, ::-1, ::-1].copy())
    ich, bg = scorer.score_ich(vol), scorer.score_bg(vol)
    assert not ich.ood.in_distribution, ich.ood.score
    assert "outside the model's training data" in ich.ood.reason
    assert not any(ich.flagged().values())
    assert bg.side == "none" and not bg.ood.in_distribution


def test_blank_slice_images_are_outside(scorer):
    blank = np.zeros((3, MODEL_SIZE, MODEL_SIZE), np.float32)  # 8-bit zeros -> pseudo-HU 0
    res = scorer.score_slices(blank)
    assert not res.ood.slice_in_distribution.any(), res.ood.slice_scores


def test_mr_slices_are_outside(scorer):
    """A real T1 head (pydeface's mean head) exported as 8-bit axial slices, anterior up."""
    import cv2
    import nibabel as nib

    from training.synth.mri import _pydeface_data

    vol = np.asarray(nib.as_closest_canonical(nib.load(str(_pydeface_data() / "mean_reg2mean.nii.gz"))).get_fdata(dtype=np.float32))
    mid = vol.shape[2] // 2
    imgs = []
    for z in range(mid - 10, mid + 11, 4):
        s = vol[:, :, z].T[::-1, ::-1]  # rows anterior->posterior, patient left on image right
        lo, hi = np.percentile(s, [1, 99.5])
        eight = np.clip((s - lo) / (hi - lo) * 255, 0, 255).astype(np.uint8)
        side = max(eight.shape)
        pad = np.zeros((side, side), np.uint8)
        pad[:eight.shape[0], :eight.shape[1]] = eight
        imgs.append(window8_to_hu(cv2.resize(pad, (MODEL_SIZE, MODEL_SIZE))).hu)
    res = scorer.score_slices(np.stack(imgs))
    assert (~res.ood.slice_in_distribution).mean() >= 0.75, res.ood.slice_scores


@pytest.mark.parametrize("k", [1, 3])
def test_a_head_turned_90_degrees_is_outside(scorer, head, k):
    """The models read anterior up: a head turned 90 degrees either way, as slice images or as a series, is outside
    with the reason (ich_ood's orientation output; the embedding distance alone did not separate it), and the same
    head upright is in distribution."""
    hu = display_slices(head)
    turned = np.rot90(hu, k=k, axes=(1, 2)).copy()
    res = scorer.score_slices(window8_to_hu(hu_to_window8(turned)).hu)
    upright = scorer.score_slices(window8_to_hu(hu_to_window8(hu)).hu)
    assert upright.ood.in_distribution, upright.ood.reason
    assert not res.ood.in_distribution and "looks turned" in res.ood.reason, res.ood.reason
    assert not res.ood.slice_in_distribution.any()
    vol = _volume(turned)
    ich, bg = scorer.score_ich(vol), scorer.score_bg(vol)
    assert not ich.ood.in_distribution and "looks turned" in ich.ood.reason
    assert not any(ich.flagged().values()) and bg.side == "none"


def test_the_orientation_check_calls_a_turned_stack_outside():
    """core.tasks.ct.with_orientation: a stack (series, images, one image) is outside, every slice with it, when the
    median P(turned) of its slices with tissue exceeds the threshold; a single upright-looking outlier is not; low-tissue
    slices do not vote; an already-outside series keeps its reason."""
    from core.tasks.ct import ood_from_scores, with_orientation

    scores = np.array([0.5, 0.6, 0.7, 0.4])
    base = ood_from_scores(scores, 1.0, 1.0)
    tissue = np.array([0.3, 0.3, 0.3, 0.3])
    upright = with_orientation(base, np.array([0.1, 0.2, 0.95, 0.05]), 0.75, tissue)
    assert upright.in_distribution and upright.slice_in_distribution.all()
    assert upright.to_dict()["turned_prob_median"] == pytest.approx(0.15)
    turned = with_orientation(base, np.array([0.8, 0.9, 0.95, 0.3]), 0.75, tissue)
    assert not turned.in_distribution and "looks turned" in turned.reason and "0.85" in turned.reason
    assert not turned.slice_in_distribution.any()
    # the two vertex slices (little tissue) would tip the median; they do not vote
    vertex = with_orientation(base, np.array([0.1, 0.2, 0.95, 0.99]), 0.75, np.array([0.3, 0.3, 0.05, 0.1]))
    assert vertex.in_distribution
    far = with_orientation(ood_from_scores(scores + 5, 1.0, 1.0), np.array([0.9, 0.9, 0.9, 0.9]), 0.75, tissue)
    assert not far.in_distribution and "distance" in far.reason and not far.slice_in_distribution.any()
