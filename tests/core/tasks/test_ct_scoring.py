"""The bundled CT models on the bundled demo cases: real ONNX Runtime sessions, typed results,
findings where the demo's truth has them, Grad-CAM near the lesion, deterministic scores."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.explain import gradcam_to_volume
from core.io import load
from core.paths import demo_dir
from core.tasks import CTScorer
from training.synth.ct import make_ct_case
from training.synth.demo import CT_DEMOS

TRUTH = json.loads((demo_dir() / "labels.json").read_text())


@pytest.fixture(scope="module")
def scorer():
    return CTScorer(threads=2)


@pytest.fixture(scope="module")
def hemorrhage(scorer):
    vol = load(demo_dir() / "ct" / "hemorrhage")
    return vol, scorer.score_ich(vol)


def test_result_shapes_models_and_provider(hemorrhage):
    vol, res = hemorrhage
    nz = vol.shape[0]
    assert res.slice_probs.shape == (nz, 6) and res.cnn_slice_probs.shape == (nz, 6)
    assert res.cam.shape[:2] == (nz, 6)
    assert [m.name for m in res.models] == ["ich_cnn", "ich_bilstm", "ich_ood"]
    assert all(m.provider == "CPUExecutionProvider" and m.device == "CPU" for m in res.models)
    assert set(res.timings) >= {"preprocess", "cnn", "bilstm"}
    assert ((0 <= res.slice_probs) & (res.slice_probs <= 1)).all()


@pytest.mark.xfail(strict=True, reason="known miss of ich 0.7.1 on the phantom demo (trained for real scans; model card, issue 12 note): "
                   "intraparenchymal 0.795 though there is none, beside the ventricular blood (0.7.0 called the subdural epidural, 0.783; "
                   "now epidural 0.014); any (0.996), subdural (0.999) and intraventricular (1.000) are found")
def test_demo_hemorrhage_findings_match_truth(hemorrhage):
    _, res = hemorrhage
    truth = TRUTH["ct/hemorrhage"]["series_labels"]
    for label, present in truth.items():
        assert (res.series_probs[label] >= 0.5) == present, (label, res.series_probs[label])


@pytest.mark.parametrize("case", ["normal", "bg_left"])
def test_other_demo_cases(scorer, case):
    vol = load(demo_dir() / "ct" / case)
    ich, bg = scorer.score_ich(vol), scorer.score_bg(vol)
    truth = TRUTH[f"ct/{case}"]
    assert (ich.series_probs["any"] >= 0.5) == truth["series_labels"]["any"]
    assert bg.side == truth["bg_side"], (bg.side, bg.series_probs)


def test_gradcam_for_subdural_points_at_the_subdural_blood(hemorrhage):
    """A strict xfail from 0.3 to 0.7.0 (the localisation loss trains only the 'any' map); 0.7.1's refitted subdural row passes it."""
    vol, res = hemorrhage
    kw = dict(CT_DEMOS["hemorrhage"])
    case = make_ct_case(kw.pop("seed"), **kw)  # the demo's masks, regenerated from its seed
    mask = case.masks["subdural"]
    k = int(np.argmax(mask.reshape(mask.shape[0], -1).sum(axis=1)))
    cam = gradcam_to_volume(res.cam, res.labels.index("subdural"), vol)[k]
    from scipy import ndimage

    near = ndimage.binary_dilation(mask[k], iterations=40)  # Grad-CAM cells are ~29 mm: allow ~18 mm
    assert near[np.unravel_index(np.argmax(cam), cam.shape)]
    assert cam[near].mean() > 2 * cam[~near].mean()


def test_scores_are_deterministic(scorer, hemorrhage):
    vol, res = hemorrhage
    scorer._cache = None
    scorer._raw = None
    again = scorer.score_ich(vol)
    np.testing.assert_array_equal(res.slice_probs, again.slice_probs)
    np.testing.assert_array_equal(res.cam, again.cam)


@pytest.mark.parametrize("case", ["real_bleed", "bg_left", "hemorrhage"])
def test_bg_side_follows_the_rows_rule(scorer, case):
    """A side is called exactly when the ICH model flags an intraparenchymal bleed, the series is in distribution and
    that side's own probability reaches the threshold: the CLI, the SR and the panel's rows then say the same."""
    vol = load(demo_dir() / "ct" / case)
    bg, ich = scorer.score_bg(vol), scorer.score_ich(vol)
    left, right = bg.series_probs["left"], bg.series_probs["right"]
    callable_ = ich.flagged()["intraparenchymal"] and bg.ood.in_distribution and max(left, right) >= bg.threshold
    want = ("left" if left >= right else "right") if callable_ else "none"
    assert bg.side == want, (case, bg.side, left, right, bg.threshold, bg.note)
    if bg.side == "none" and bg.p_hemorrhage >= bg.threshold:
        assert max(left, right) < bg.threshold or bg.note  # above the threshold overall but no side: the reason is known


def test_one_session_for_both_heads_scores_exactly_as_two(monkeypatch, hemorrhage):
    """The ICH CNN and the BG model merged on their shared trunk (core.models.shared_trunk) give the scores the two
    sessions give apart; the BG result says its CNN ran in the ICH pass."""
    import core.tasks.ct as ct

    vol, res = hemorrhage
    shared = CTScorer(threads=2)
    bg = shared.score_bg(vol)
    assert shared.model(ct.CT_CNN).second_card.name == "bg_laterality"
    assert "in_ich_cnn_pass" in bg.timings and bg.model.name == "bg_laterality"
    monkeypatch.setattr(ct, "load_shared_trunk", lambda *a, **k: None)  # the two files as if they shared nothing
    apart = CTScorer(threads=2)
    bg2, ich2 = apart.score_bg(vol), apart.score_ich(vol)
    assert apart.model(ct.CT_CNN).second_outputs is None and "cnn" in bg2.timings
    assert np.abs(bg.slice_probs - bg2.slice_probs).max() <= 1e-6 and np.abs(bg.cam - bg2.cam).max() <= 1e-5
    assert bg.side == bg2.side and bg.model.sha256 == bg2.model.sha256
    assert np.abs(res.slice_probs - ich2.slice_probs).max() <= 1e-6
    assert res.series_probs == pytest.approx(ich2.series_probs, abs=1e-6)
