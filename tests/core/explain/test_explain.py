"""Explanation maps: closed-form Grad-CAM algebra and orientation, occlusion on a real ONNX graph."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
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
    """The map is flipped before upsampling (cheaper); bilinear resizing commutes with the flip.
    (A square slice: a non-square one is padded on the model grid, see the round-trip test below.)"""
    import cv2

    cam = np.random.default_rng(0).random((3, 2, 8, 8)).astype(np.float32)
    vol = Volume(np.zeros((3, 96, 96), np.float32), ras_affine((5, 1, 1)), "CT")
    maps = gradcam_to_volume(cam, 1, vol)
    ref = cam[:, 1] / cam[:, 1].max()
    for k in range(3):
        np.testing.assert_allclose(maps[k], cv2.resize(ref[k], (96, 96), interpolation=cv2.INTER_LINEAR)[::-1, ::-1], atol=1e-6)


def _old_model_slice_to_volume(m: np.ndarray, ny: int, nx: int) -> np.ndarray:
    """The formula before ModelGrid: flip the small map, resize it straight to the slice."""
    import cv2

    return cv2.resize(np.ascontiguousarray(m[::-1, ::-1], dtype=np.float32), (nx, ny), interpolation=cv2.INTER_LINEAR)


def test_square_volumes_with_square_pixels_map_back_bit_identically_to_the_old_path():
    """Grad-CAM and occlusion overlays of ordinary scans must not move by a bit."""
    from core.explain import model_slice_to_volume

    rng = np.random.default_rng(1)
    vol = Volume(np.zeros((3, 512, 512), np.float32), ras_affine((5, 0.4882812, 0.4882812)), "CT")
    for m in (rng.random((8, 8)).astype(np.float32), rng.random((256, 256)).astype(np.float32)):
        ref = _old_model_slice_to_volume(m, 512, 512)
        np.testing.assert_array_equal(model_slice_to_volume(m, vol), ref)
        out = np.full((2, 512, 512), np.nan, np.float32)
        assert np.shares_memory(model_slice_to_volume(m, vol, out=out[1]), out)
        np.testing.assert_array_equal(out[1], ref)
    cam = rng.random((3, 2, 8, 8)).astype(np.float32)
    maps = gradcam_to_volume(cam, 1, vol)
    ref = cam[:, 1] / cam[:, 1].max()
    for k in range(3):
        np.testing.assert_array_equal(maps[k], _old_model_slice_to_volume(ref[k], 512, 512))


def _blob_centre(img: np.ndarray) -> np.ndarray:
    """Intensity-weighted centre of what exceeds half the peak (sub-pixel, robust to a blurred blob)."""
    w = np.where(img > img.max() / 2, img, 0.0)
    yy, xx = np.mgrid[:img.shape[0], :img.shape[1]]
    return np.array([(w * yy).sum(), (w * xx).sum()]) / w.sum()


@pytest.mark.parametrize("ny, nx, dy, dx", [(300, 200, 0.5, 0.5), (200, 300, 0.7, 0.7), (400, 200, 0.5, 1.0),
                                            (300, 250, 0.7, 1.0), (250, 260, 1.0, 0.6), (256, 256, 0.5, 0.5),
                                            (301, 200, 0.5, 0.5), (299, 256, 1.0, 0.5)])  # odd padding, both
def test_a_point_on_the_model_grid_maps_back_to_the_same_physical_place(ny, nx, dy, dx):
    """Forward (display_slices) then back (model_slice_to_volume): a blob lands where it started, within a pixel."""
    from core.explain import model_slice_to_volume
    from core.models.preprocess import display_slices

    y0, x0 = 0.3 * ny, 0.7 * nx  # off-centre, so a missed flip or padding offset shows
    yy, xx = np.mgrid[:ny, :nx]
    blob = np.exp(-(((yy - y0) * dy) ** 2 + ((xx - x0) * dx) ** 2) / (2 * 3.0 ** 2))  # round in mm, sigma 3 mm
    vol = Volume(np.repeat((blob * 1000 - 1000)[None], 5, axis=0).astype(np.float32), ras_affine((5, dy, dx)), "CT")
    on_grid = display_slices(vol)[0] + 1000
    p = _blob_centre(on_grid)
    gy, gx = np.mgrid[:256, :256]
    point = np.exp(-((gy - p[0]) ** 2 + (gx - p[1]) ** 2) / (2 * 1.5 ** 2)).astype(np.float32)
    back = model_slice_to_volume(point, vol)
    assert back.shape == (ny, nx)
    got = _blob_centre(back)
    assert abs(got[0] - y0) <= 1.0 and abs(got[1] - x0) <= 1.0, (got, (y0, x0))
    # radiological: the blob at low y (posterior) and high x (patient right) sits low and left on the grid
    assert p[0] > 128 and p[1] < 128


def test_maps_of_a_non_square_volume_come_back_at_its_shape_into_out():
    from core.explain import model_slice_to_volume

    vol = Volume(np.zeros((2, 300, 250), np.float32), ras_affine((5, 0.7, 1.0)), "CT")
    out = np.zeros((2, 300, 250), np.float32)
    got = model_slice_to_volume(np.ones((8, 8), np.float32), vol, out=out[0])
    assert got.shape == (300, 250) and np.shares_memory(got, out)
    np.testing.assert_allclose(out[0], 1.0)  # the padding is cropped away: a uniform map stays uniform
    maps = gradcam_to_volume(np.ones((2, 1, 8, 8), np.float32), 0, vol)
    assert maps.shape == (2, 300, 250)
