"""Overlay maps built from real results of the bundled models on the demo CTs: Grad-CAM lands where
the demo's blood is (patient side, through the radiological flip), occlusion for one slice is
deterministic, on the blood, zero far outside the head and on other slices; the cache and the
threshold's position across maps of different units."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from scipy import ndimage

from app.viewer.overlays import (OverlayCache, apply_map, gradcam_labels, model_to_volume_slice, occlusion_model_name,
                                 occlusion_overlay, occlusion_passes, occlusion_slice, threshold_fraction)
from app.viewer.state import OverlaySettings
from core.io import load
from core.models.centring import shift_stack
from core.models.preprocess import ModelGrid, head_mask_2d
from core.paths import demo_dir
from core.tasks import CTScorer
from core.volume import Volume, ras_affine


@pytest.fixture(scope="module")
def scorer():
    return CTScorer(threads=2)


@pytest.fixture(scope="module")
def hemorrhage(scorer):
    vol = load(demo_dir() / "ct" / "hemorrhage")
    return vol, scorer.score_ich(vol), scorer.score_bg(vol)


def extra_axial_blood(sl: np.ndarray) -> np.ndarray:
    """Acute blood (50-90 HU) inside the skull within ~18 mm of it: where the demo's subdural is
    (matches the generator's mask to >99% of its voxels; the ventricular blood is central)."""
    bone = sl > 300
    inside = ndimage.binary_erosion(ndimage.binary_fill_holes(bone) & ~bone, iterations=2)
    near_skull = ndimage.distance_transform_edt(inside) < 40
    return ndimage.binary_opening(inside & near_skull & (sl >= 50) & (sl <= 90), iterations=2)


@pytest.fixture(scope="module")
def subdural_mask(hemorrhage):
    """The demo's subdural blood on the slices labels.json calls positive (empty elsewhere)."""
    vol = hemorrhage[0]
    positive = json.loads((demo_dir() / "labels.json").read_text())["ct/hemorrhage"]["positive_slices"]["subdural"]
    mask = np.zeros(vol.shape, bool)
    for k in positive:
        mask[k] = extra_axial_blood(vol.voxels[k])
    assert mask.sum() > 20000
    return mask


def test_model_grid_map_goes_back_through_the_resize_and_the_flip():
    vol = Volume(np.zeros((3, 300, 400), np.float32), ras_affine((5, 0.5, 0.5)), "CT")
    m = np.zeros((256, 256), np.float32)
    m[:32, :32] = 1.0  # top-left as displayed: patient right, anterior
    out = model_to_volume_slice(m, vol)
    assert out.shape == (300, 400)
    y, x = np.unravel_index(np.argmax(out), out.shape)
    assert y > 300 - 40 and x > 400 - 52  # canonical: high y anterior, high x patient right
    assert out[:150, :200].max() == 0


def test_subdural_gradcam_peaks_on_the_side_of_the_demo_subdural_blood(hemorrhage, subdural_mask):
    vol, ich, bg = hemorrhage
    cache = OverlayCache()
    m = cache.gradcam(vol, "subdural", ich, bg)
    assert m.kind == "gradcam" and m.data.shape == vol.shape and (m.vmin, m.vmax) == (0.0, 1.0)
    assert m.legend == f"Grad-CAM subdural - ich_cnn {ich.models[0].version} (CPU)"
    assert cache.gradcam(vol, "subdural", ich, bg) is m  # cached per label
    nx = vol.shape[2]
    blood_x = np.nonzero(subdural_mask)[2].mean()
    blood_right = blood_x > nx / 2  # canonical x: high = patient right
    positive = [k for k in range(vol.shape[0]) if subdural_mask[k].sum() > 500]
    assert len(positive) >= 10
    same_side = 0
    for k in positive:
        y, x = np.unravel_index(np.argmax(m.data[k]), m.data[k].shape)
        same_side += (x > nx / 2) == blood_right
        near = ndimage.binary_dilation(subdural_mask[k], iterations=40)
        assert m.data[k][near].mean() > m.data[k][~near].mean(), k
        assert m.data[k][~head_mask_2d(vol.voxels[k])].max() == 0  # nothing painted on the air beside the head
    assert same_side >= 0.9 * len(positive), (same_side, len(positive))


def test_bg_gradcam_points_to_the_patients_left_on_the_bg_left_demo(scorer):
    vol = load(demo_dir() / "ct" / "bg_left")
    bg = scorer.score_bg(vol)
    assert bg.side == "left"
    assert "bg_left" in gradcam_labels(bg=bg) and "any" not in gradcam_labels(bg=bg)
    m = OverlayCache().gradcam(vol, "bg_left", bg=bg)
    assert m.legend.startswith("Grad-CAM bg_left - bg_laterality ")
    k = int(np.argmax(bg.slice_probs[:, 1]))  # the slice the model is surest of
    y, x = np.unravel_index(np.argmax(m.data[k]), m.data[k].shape)
    assert x < vol.shape[2] / 2  # canonical x low = patient left (radiological display: image right)


def test_occlusion_for_one_slice_is_deterministic_on_the_blood_and_zero_outside_the_head(scorer, hemorrhage, subdural_mask):
    vol, _, _ = hemorrhage
    z = int(np.argmax(subdural_mask.reshape(subdural_mask.shape[0], -1).sum(axis=1)))
    model, hu = scorer.model("ich_cnn"), scorer.slices(vol)
    occ = occlusion_slice(model, hu, z, patch=32, stride=32)
    again = occlusion_slice(model, hu, z, patch=32, stride=32)
    np.testing.assert_array_equal(occ.drop, again.drop)
    assert occ.passes == again.passes and occ.passes - 1 < 64  # patches over air skipped
    assert occlusion_passes(hu[z], 32, 32, 16) == 1 + -(-(occ.passes - 1) // 16)  # progress total = model runs
    assert occ.labels == ("any", "epidural", "intraparenchymal", "intraventricular", "subarachnoid", "subdural")
    m = occlusion_overlay(occ, "subdural", vol)
    assert m.kind == "occlusion" and m.slices == (z,) and m.data.shape == vol.shape
    others = np.delete(m.data, z, axis=0)
    assert not others.any()  # only the occluded slice has values
    sl = m.data[z]
    head = head_mask_2d(vol.voxels[z])
    far_out = ndimage.distance_transform_edt(~head) > 64 * np.sqrt(2) + 2  # beyond a patch's diagonal (64 px at 512) from the skin
    assert far_out.any() and np.abs(sl[far_out]).max() == 0
    assert np.abs(sl[head]).max() > 0.05
    assert m.vmin == 0 and m.vmax == pytest.approx(float(sl.max()))
    # the largest drop is on the blood's side, close to it (flip and resize undone)
    y, x = np.unravel_index(np.argmax(sl), sl.shape)
    near = ndimage.binary_dilation(subdural_mask[z], iterations=70)
    assert near[y, x]
    assert m.legend.startswith(f"Occlusion subdural, slice {z} - ich_cnn ")
    # read head-centred (CTScorer.grid shifted), the same drop drawn 20 px right on the grid comes back to the same place
    moved = replace(occ, drop=shift_stack(occ.drop, 20, 0, 0.0), grid=replace(ModelGrid.of(vol), shift=(20, 0)))
    back = occlusion_overlay(moved, "subdural", vol).data[z]
    assert np.allclose(back, sl, atol=1e-4)


def test_occlusion_model_per_label_and_cache_lifetime(hemorrhage, scorer):
    vol, ich, bg = hemorrhage
    assert occlusion_model_name("subdural") == "ich_cnn" and occlusion_model_name("bg_right") == "bg_laterality"
    assert occlusion_model_name("face") is None  # the 3-D MRI model has no slice occlusion
    cache = OverlayCache()
    a = cache.gradcam(vol, "any", ich, bg)
    ich2 = replace(ich)  # new results for the same volume: maps rebuilt
    assert cache.gradcam(vol, "any", ich2, bg) is not a
    hu = scorer.slices(vol)
    occ = occlusion_slice(scorer.model("bg_laterality"), hu, 12, stride=32)
    assert occ.labels == ("bg_none", "bg_left", "bg_right")
    cache.put_occlusion(vol, occ)
    assert cache.occlusion(vol, "bg_left", 12) is occ and cache.occlusion(vol, "subdural", 12) is None
    other = replace(vol, voxels=vol.voxels.copy())
    assert cache.occlusion(other, "bg_left", 12) is None  # another volume: everything dropped
    assert cache.occlusion(vol, "bg_left", 12) is None


def test_threshold_keeps_its_position_when_the_map_changes_units():
    calls = {}
    cur = OverlaySettings(threshold=0.3, vmin=0.0, vmax=1.0)
    assert threshold_fraction(cur) == pytest.approx(0.3)

    class M:  # an occlusion-like map with a 0..0.4 range
        vmin, vmax = 0.0, 0.4

        def settings(self):
            return dict(vmin=self.vmin, vmax=self.vmax)

    apply_map(lambda **kw: calls.update(kw), cur, M())
    assert calls["threshold"] == pytest.approx(0.12) and calls["visible"] is True
