"""Head centring in the scoring path (core.models.centring via CTScorer): off unless the series model's card asks for
it (the bundled 0.7.1 does not); on, a head shifted in the field of view gives the models the same input and the same scores, and the Grad-CAM
comes back onto the volume where the head is. Real ONNX Runtime sessions on the bundled real normal demo (GE, BSD-2)."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest

from core.explain import gradcam_to_volume
from core.imaging.pseudo_hu import as_model_window_hu
from core.io import load
from core.models.centring import SERIES_CENTRING, shift_stack
from core.models.registry import ModelRegistry
from core.paths import models_dir, demo_normal_ct_dir
from core.tasks import CTScorer

SHIFT_VOXELS = 24  # canonical x; 12 model-grid pixels at 512 -> 256


def copy_of_bundled_models(folder, centring: bool = True):
    """The bundled models copied into `folder`, the series model's card asking for head centring or not (weights
    unchanged); without the key a series is read as it comes."""
    folder.mkdir(parents=True, exist_ok=True)
    for f in models_dir().glob("*"):
        shutil.copy2(f, folder / f.name)
    card = json.loads((folder / "ich_bilstm.json").read_text())
    card.pop("input_centring", None)
    if centring:
        card["input_centring"] = SERIES_CENTRING  # cards keep their extra keys at the top level (ModelCard.to_json)
    (folder / "ich_bilstm.json").write_text(json.dumps(card))
    return folder


@pytest.fixture(scope="module")
def centring_models(tmp_path_factory):
    return copy_of_bundled_models(tmp_path_factory.mktemp("centring-models"))


@pytest.fixture(scope="module")
def plain_models(tmp_path_factory):
    return copy_of_bundled_models(tmp_path_factory.mktemp("plain-models"), centring=False)


@pytest.fixture(scope="module")
def volumes():
    vol = load(demo_normal_ct_dir())
    air = float(vol.voxels.min())
    moved = replace(vol, voxels=shift_stack(vol.voxels, SHIFT_VOXELS, 0, air))
    return vol, moved


def test_the_bundled_series_model_does_not_ask_for_centring(volumes, plain_models):
    vol, _ = volumes
    bundled = CTScorer(threads=2)
    assert not bundled.centres_series and bundled.grid(vol).shift == (0, 0)  # ich_bilstm 0.7.1 read uncentred series
    plain = CTScorer(ModelRegistry([plain_models]), threads=2)
    assert not plain.centres_series and plain.grid(vol).shift == (0, 0)


def test_a_centring_series_model_gives_a_shifted_head_the_same_input_scores_and_maps(centring_models, volumes):
    vol, moved = volumes
    a, b = CTScorer(ModelRegistry([centring_models]), threads=2), CTScorer(ModelRegistry([centring_models]), threads=2)
    assert a.centres_series
    ga, gb = a.grid(vol), b.grid(moved)
    # canonical x + 24 voxels is radiological (flipped) x - 12 model pixels: the centring takes 12 more to the right
    assert gb.shift[0] - ga.shift[0] == SHIFT_VOXELS // 2 and gb.shift[1] == ga.shift[1]
    ha, hb = a.model_slices(vol)[0], b.model_slices(moved)[0]
    # the same pixels reach the CNN (its brain-window export: the shift cut off only values outside that window)
    assert np.array_equal(as_model_window_hu(ha), as_model_window_hu(hb))
    ra, rb = a.score_ich(vol), b.score_ich(moved)
    assert rb.grid == gb and ra.to_dict()["input_shift_px"] == list(ga.shift)
    for lab in ra.labels:
        assert abs(ra.series_probs[lab] - rb.series_probs[lab]) < 1e-5, lab
    j = ra.labels.index("any")
    ma, mb = gradcam_to_volume(ra.cam, j, vol, ra.grid), gradcam_to_volume(rb.cam, j, moved, rb.grid)
    assert np.allclose(mb[:, :, SHIFT_VOXELS:], ma[:, :, :-SHIFT_VOXELS], atol=1e-4)  # the map moved with the head


def test_without_centring_the_same_shift_changes_what_the_cnn_reads(volumes, plain_models):
    vol, moved = volumes
    a, b = CTScorer(ModelRegistry([plain_models]), threads=2), CTScorer(ModelRegistry([plain_models]), threads=2)
    assert not np.array_equal(as_model_window_hu(a.model_slices(vol)[0]), as_model_window_hu(b.model_slices(moved)[0]))
