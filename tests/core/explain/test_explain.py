"""Explanation maps: closed-form Grad-CAM algebra and orientation, occlusion on a real ONNX graph."""

from __future__ import annotations

import json

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from core.explain import gradcam_from_features, gradcam_to_volume, occlusion_map
from core.models import ModelRegistry, load_model, sha256_of
from core.volume import Volume, ras_affine


def test_gradcam_is_relu_of_weighted_feature_sum_in_2d_and_3d():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(3, 5)).astype(np.float32)
    for spatial in ((4, 4), (2, 3, 4)):
        f = rng.normal(size=(2, 5, *spatial)).astype(np.float32)
        got = gradcam_from_features(f, w)
        ref = np.maximum(np.tensordot(w, f, axes=([1], [1])).swapaxes(0, 1), 0)
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)


def test_gradcam_maps_back_to_canonical_orientation():
    cam = np.zeros((2, 1, 8, 8), np.float32)
    cam[1, 0, 0, 0] = 1.0  # top-left of the displayed slice: patient right-anterior
    vol = Volume(np.zeros((2, 64, 64), np.float32), ras_affine((5, 1, 1)), "CT")
    maps = gradcam_to_volume(cam, 0, vol)
    assert maps.shape == (2, 64, 64) and maps[0].max() == 0
    y, x = np.unravel_index(np.argmax(maps[1]), maps[1].shape)
    assert y > 56 and x > 56  # canonical: high y = anterior, high x = patient right


def _region_model(folder, region=(slice(16, 32), slice(40, 56))):
    mask = np.zeros((1, 3, 64, 64), np.float32)
    mask[:, :, region[0], region[1]] = 0.002  # keeps the sigmoid off saturation
    nodes = [helper.make_node("Mul", ["image", "M"], ["m"]),
             helper.make_node("ReduceSum", ["m", "axes"], ["s"], keepdims=0),
             helper.make_node("Unsqueeze", ["s", "one"], ["s2"]),
             helper.make_node("Sigmoid", ["s2"], ["probs"])]
    graph = helper.make_graph(nodes, "region", [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["n", 3, 64, 64])],
                              [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["n", 1])],
                              [numpy_helper.from_array(mask, "M"), numpy_helper.from_array(np.array([1, 2, 3], np.int64), "axes"),
                               numpy_helper.from_array(np.array([1], np.int64), "one")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, folder / "region.onnx")
    card = {"name": "region", "task": "test", "version": "0", "labels": ["x"], "input": {}, "outputs": {"probs": ""},
            "training_data": {}, "intended_use": "tests", "sha256": sha256_of(folder / "region.onnx"), "file": "region.onnx"}
    (folder / "region.json").write_text(json.dumps(card))
    return load_model("region", ModelRegistry([folder]))


def test_occlusion_finds_the_region_skips_outside_the_head_and_is_deterministic(tmp_path):
    model = _region_model(tmp_path)
    image = np.ones((3, 64, 64), np.float32)
    hu = np.full((64, 64), -1000.0, np.float32)
    yy, xx = np.mgrid[:64, :64]
    hu[(yy - 32) ** 2 + (xx - 36) ** 2 < 27 ** 2] = 40.0  # the head; corners are air
    drop, base, passes = occlusion_map(model, image, hu, patch=8, stride=8, batch=8)
    assert drop.shape == (1, 64, 64) and base.shape == (1,)
    assert passes - 1 < 64  # patches over air were skipped
    inside = drop[0, 16:32, 40:56].mean()
    outside = np.abs(drop[0, 40:64, 0:24]).mean()
    assert inside > 0.03 and outside < 1e-6
    again, _, _ = occlusion_map(model, image, hu, patch=8, stride=8, batch=8)
    np.testing.assert_array_equal(drop, again)


def test_gradcam_upsampling_equals_resize_then_flip():
    """The map is flipped before upsampling (cheaper); bilinear resizing commutes with the flip."""
    import cv2

    cam = np.random.default_rng(0).random((3, 2, 8, 8)).astype(np.float32)
    vol = Volume(np.zeros((3, 96, 80), np.float32), ras_affine((5, 1, 1)), "CT")
    maps = gradcam_to_volume(cam, 1, vol)
    ref = cam[:, 1] / cam[:, 1].max()
    for k in range(3):
        np.testing.assert_allclose(maps[k], cv2.resize(ref[k], (80, 96), interpolation=cv2.INTER_LINEAR)[::-1, ::-1], atol=1e-6)
