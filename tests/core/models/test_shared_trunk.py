"""core.models.shared_trunk: two graphs on one trunk run as one graph, computing exactly what each computes.

Why: the bundled ICH and BG CT models share their trunk; merged, a series runs it once (benchmarks/ct_scoring.py
measures the time). The merge must never change a score, and must refuse what cannot be one graph."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from core.models.registry import ModelRegistry
from core.models.runtime import load_model, load_shared_trunk
from core.models.shared_trunk import merge_shared_trunk


def _graph(path, w_trunk: np.ndarray, w_head: np.ndarray, input_name: str = "x", opset: int = 17) -> None:
    """x [n, 4] -> relu(x @ W_trunk) -> @ W_head -> y: a 'trunk' and a 'head', as the CT models are built."""
    nodes = [helper.make_node("MatMul", [input_name, "w_trunk"], ["t0"], name="trunk_mm"),
             helper.make_node("Relu", ["t0"], ["feat"], name="trunk_relu"),
             helper.make_node("MatMul", ["feat", "w_head"], ["y"], name="head_mm")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["n", 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", w_head.shape[1]]),
                           helper.make_tensor_value_info("feat", TensorProto.FLOAT, ["n", 8])],
                          [numpy_helper.from_array(w_trunk.astype(np.float32), "w_trunk"),
                           numpy_helper.from_array(w_head.astype(np.float32), "w_head")])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)]), str(path))


def _run(model_or_path, x: np.ndarray) -> dict[str, np.ndarray]:
    src = model_or_path.SerializeToString() if hasattr(model_or_path, "SerializeToString") else str(model_or_path)
    s = ort.InferenceSession(src, providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in s.get_outputs()], s.run(None, {s.get_inputs()[0].name: x})))


def test_a_shared_trunk_is_computed_once_and_both_heads_are_exact(tmp_path):
    rng = np.random.default_rng(0)
    trunk = rng.normal(size=(4, 8))
    _graph(tmp_path / "a.onnx", trunk, rng.normal(size=(8, 6)))
    _graph(tmp_path / "b.onnx", trunk, rng.normal(size=(8, 3)))
    merged = merge_shared_trunk(tmp_path / "a.onnx", tmp_path / "b.onnx", "b_")
    assert merged is not None and merged.shared_nodes == 2 and merged.added_nodes == 1  # MatMul+Relu once, b's head
    assert merged.outputs == {"y": "b_y", "feat": "b_feat"}
    assert sum(n.op_type == "MatMul" for n in merged.model.graph.node) == 3  # trunk, a's head, b's head
    x = rng.normal(size=(5, 4)).astype(np.float32)
    got, a, b = _run(merged.model, x), _run(tmp_path / "a.onnx", x), _run(tmp_path / "b.onnx", x)
    assert np.array_equal(got["y"], a["y"]) and np.array_equal(got["b_y"], b["y"]) and np.array_equal(got["b_feat"], b["feat"])


def test_graphs_without_common_computation_are_not_merged(tmp_path):
    rng = np.random.default_rng(1)
    _graph(tmp_path / "a.onnx", rng.normal(size=(4, 8)), rng.normal(size=(8, 6)))
    _graph(tmp_path / "b.onnx", rng.normal(size=(4, 8)), rng.normal(size=(8, 3)))  # another trunk: nothing in common
    assert merge_shared_trunk(tmp_path / "a.onnx", tmp_path / "b.onnx", "b_") is None


def test_graphs_that_cannot_be_one_are_refused(tmp_path):
    rng = np.random.default_rng(2)
    trunk = rng.normal(size=(4, 8))
    _graph(tmp_path / "a.onnx", trunk, rng.normal(size=(8, 6)))
    _graph(tmp_path / "b.onnx", trunk, rng.normal(size=(8, 3)), input_name="image")
    with pytest.raises(ValueError, match="different inputs"):
        merge_shared_trunk(tmp_path / "a.onnx", tmp_path / "b.onnx", "b_")
    _graph(tmp_path / "c.onnx", trunk, rng.normal(size=(8, 3)), opset=16)
    with pytest.raises(ValueError, match="operator sets"):
        merge_shared_trunk(tmp_path / "a.onnx", tmp_path / "c.onnx", "b_")


def test_the_bundled_ct_models_merge_into_one_session_with_identical_outputs():
    reg = ModelRegistry()
    both = load_shared_trunk("ich_cnn", "bg_laterality", reg, threads=2, prefix="bg_")
    assert both is not None and both.card.name == "ich_cnn" and both.second_card.name == "bg_laterality"
    assert both.second_outputs == {o: f"bg_{o}" for o in ("probs", "embedding", "cam", "features")}
    x = np.random.default_rng(3).random((3, 3, 256, 256), dtype=np.float32)
    got = both.run({"image": x}, ["probs", "embedding", "cam", "bg_probs", "bg_cam"])
    ich = load_model("ich_cnn", reg, threads=2).run({"image": x}, ["probs", "embedding", "cam"])
    bg = load_model("bg_laterality", reg, threads=2).run({"image": x}, ["probs", "cam"])
    for k in ("probs", "embedding", "cam"):
        assert np.abs(got[k] - ich[k]).max() <= 1e-6, k
    for k in ("probs", "cam"):
        assert np.abs(got[f"bg_{k}"] - bg[k]).max() <= 1e-6, k
    merged = merge_shared_trunk(reg.card("ich_cnn").onnx_path, reg.card("bg_laterality").onnx_path, "bg_")
    bg_nodes = len(onnx.load(str(reg.card("bg_laterality").onnx_path)).graph.node)
    assert merged.shared_nodes > bg_nodes / 2  # the trunk (its convolutions) is computed once


def test_a_changed_model_file_is_refused_before_any_merge(tmp_path):
    import shutil

    reg0 = ModelRegistry()
    for name in ("ich_cnn", "bg_laterality"):
        card = reg0.card(name)
        shutil.copy2(card.onnx_path, tmp_path / card.file)
        shutil.copy2(card.onnx_path.with_suffix(".json"), tmp_path / f"{name}.json")
    with open(tmp_path / "bg_laterality.onnx", "ab") as fh:
        fh.write(b"\0")
    from core.errors import ModelError

    with pytest.raises(ModelError, match="sha256") as err:
        load_shared_trunk("ich_cnn", "bg_laterality", ModelRegistry([tmp_path]), threads=1)
    assert "bg_laterality.onnx" in str(err.value)
