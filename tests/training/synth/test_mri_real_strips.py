"""Strips of a (small, generated) head by the real-tool recipes: labels are measured on the masks,
files load as canonical MR volumes whatever orientation they were stored in, the randomisation
keeps the labels, and BET (brainextractor) runs on a head."""

from __future__ import annotations

import numpy as np
import pytest

from core.io import load
from training.synth.mri_heads import BASE_MM, Head
from training.synth.mri_strips import BRAIN_LOSS, FACE_KEPT, SIZE_ML, Strip, _sdf, labels_of, make_strips, measure_labels, render, write_nifti


@pytest.fixture(scope="module")
def head() -> Head:
    """An ellipsoid brain in a 12 mm scalp/skull shell with a face block in front of and below it."""
    shape = (64, 84, 64)
    z, y, x = np.meshgrid(*[(np.arange(n) - n / 2) * BASE_MM for n in shape], indexing="ij")
    r_brain = np.sqrt((x / 38) ** 2 + (y / 48) ** 2 + ((z - 8) / 34) ** 2)
    r_head = np.sqrt((x / 50) ** 2 + (y / 60) ** 2 + ((z - 4) / 46) ** 2)
    brain = r_brain <= 1
    face = (y > 30) & (z < -5) & (z > -40) & (np.abs(x) < 35) & (r_head > 0.8) & (y < 62)
    headm = (r_head <= 1) | face
    image = np.where(brain, 0.7, np.where(headm, 0.35, 0.0)).astype(np.float32)
    image[headm & ~brain & (r_head > 0.92)] = 1.0  # bright scalp fat
    return Head("ball", "ball", image, brain, face & ~brain, headm, brain_only=False)


def test_measured_labels_follow_the_masks(head):
    sdf = _sdf(head)
    good = measure_labels(head, sdf <= 1.0)
    assert labels_of(good) == (False, False, False)
    eroded = measure_labels(head, sdf <= -6.0)
    assert eroded["brain_lost"] >= BRAIN_LOSS and labels_of(eroded)[1]
    face_kept = measure_labels(head, (sdf <= 3.0) | head.face)
    assert face_kept["face_kept"] >= FACE_KEPT and labels_of(face_kept) == (True, False, False)
    whole = measure_labels(head, np.ones_like(head.brain))
    assert labels_of(whole) == (True, False, True)  # unstripped: face kept AND not stripped


def test_recipes_render_to_loadable_files_with_their_labels(head, tmp_path):
    sdf = _sdf(head)
    cases = [Strip("good", "ref", sdf <= 1.0, True), Strip("cut", "top", (sdf <= 1) & (np.indices(sdf.shape)[0] < 40), True),
             Strip("unstripped", "whole head", np.ones_like(head.brain), False)]
    for k, s in enumerate(cases):
        plain = render(head, s, np.random.default_rng(k))
        assert "size x" not in plain.recipe  # off by default: the draws of the shipped model's data
        r = render(head, s, np.random.default_rng(k), random_size=True)
        path = tmp_path / f"s{k}.nii.gz"
        write_nifti(r, path)
        vol = load(str(path))
        assert vol.voxels.ndim == 3 and vol.voxels.max() > 0
        lab = labels_of(r.fractions)
        if s.kind == "good":
            assert lab == (False, False, False), r.recipe
            assert (vol.voxels == 0).mean() > 0.3  # tools write 0 outside the mask
        if s.kind == "cut":
            assert lab[1], r.recipe
        if s.kind == "unstripped":
            assert lab[2] and lab[0], r.recipe
        # voxel 0.7-2 mm, scaled so that the brain is written at SIZE_ML (size randomisation)
        size = float(r.recipe.split("size x")[1].split(",")[0])
        assert 0.6 * size < min(vol.spacing) and max(vol.spacing) < 2.3 * size
        if s.kind == "good":  # the written brain's physical volume is the drawn one (the strip keeps 1 mm more)
            ref_ml = head.brain.sum() * BASE_MM ** 3 / 1000 * size ** 3
            assert SIZE_ML[0] * 0.99 <= ref_ml <= SIZE_ML[1] * 1.01, (ref_ml, r.recipe)
            kept_ml = (vol.voxels > 0).sum() * np.prod(vol.spacing) / 1000
            assert ref_ml < kept_ml < 1.6 * ref_ml, (kept_ml, ref_ml)


def test_recipe_list_without_bet_covers_every_failure(head, monkeypatch):
    import training.synth.mri_strips as ms

    monkeypatch.setattr(ms, "bet_mask", lambda h, bt, shift, rad: _sdf(h) <= 10 * (0.6 - bt))  # BET's own test is below
    kinds = {s.kind for s in make_strips(head, np.random.default_rng(1))}
    assert kinds == {"good", "deepbet", "cut", "bet", "loose_face", "unstripped", "defaced"}


def test_kinds_without_bet_never_run_bet(head, monkeypatch):
    """`mri-real --kinds good cut ...` skips the slow tool; the other strips are drawn as before."""
    import training.synth.mri_strips as ms

    def no_bet(*a, **k):
        raise AssertionError("BET ran although it was not asked for")

    monkeypatch.setattr(ms, "bet_mask", no_bet)
    got = make_strips(head, np.random.default_rng(1), kinds=("good", "cut"))
    assert "bet" not in {s.kind for s in got}
    monkeypatch.setattr(ms, "bet_mask", lambda h, bt, shift, rad: _sdf(h) <= 10 * (0.6 - bt))
    full = [s for s in make_strips(head, np.random.default_rng(1)) if s.kind != "bet"]
    assert [s.detail for s in got] == [s.detail for s in full]


@pytest.mark.slow
def test_bet_strips_the_generated_head(head, monkeypatch, tmp_path):
    """brainextractor (FSL BET in Python; 300 of its 1000 steps) on the generated head keeps the brain and drops
    most of the scalp."""
    monkeypatch.setenv("NEUROREVIEW_CACHE", str(tmp_path))
    from training.synth.mri_strips import bet_mask

    m = bet_mask(head, 0.5, 0.0, 1.0, iterations=300)
    fr = measure_labels(head, m)
    assert fr["brain_lost"] < 0.2 and fr["scalp_kept"] < 0.6, fr


def test_defaced_head_has_no_face_in_the_file(head):
    """A defaced, unstripped head keeps its background but not its face: the tool's keep-mask is applied
    to the image (before 2.1 it only entered the labels, so 'defaced' files still showed the face)."""
    face_off = ~head.face
    whole = render(head, Strip("unstripped", "whole head", np.ones_like(head.brain), False), np.random.default_rng(3))
    defaced = render(head, Strip("defaced", "face mask", face_off, False), np.random.default_rng(3))
    assert labels_of(defaced.fractions)[:1] == (False,) and labels_of(whole.fractions)[0]
    # the same draws: the two files differ exactly where the face was zeroed
    diff = whole.data.astype(np.float32) - defaced.data.astype(np.float32)
    assert (defaced.data <= whole.data).all() and diff.sum() > 0
    assert (whole.data > 0).sum() - (defaced.data > 0).sum() > 0.5 * head.face.sum() * (BASE_MM ** 3) / np.prod(np.abs(np.diag(whole.affine)[:3]))


def test_the_bet_cache_is_named_by_the_head_image_the_settings_and_the_code(head):
    """A head whose image changed (a loader edit, another real file) must not be served the old head's BET masks."""
    from dataclasses import replace

    from training.synth.mri_strips import bet_cache_key

    key = bet_cache_key(head, 0.5, 0.0, 1.0, 1000)
    assert key == bet_cache_key(head, 0.5, 0.0, 1.0, 1000) and len(key) == 12
    changed = replace(head, image=head.image * np.float32(1.01))
    assert bet_cache_key(changed, 0.5, 0.0, 1.0, 1000) != key
    assert len({key, bet_cache_key(head, 0.3, 0.0, 1.0, 1000), bet_cache_key(head, 0.5, 20.0, 1.0, 1000),
                bet_cache_key(head, 0.5, 0.0, 1.2, 1000), bet_cache_key(head, 0.5, 0.0, 1.0, 300)}) == 5
