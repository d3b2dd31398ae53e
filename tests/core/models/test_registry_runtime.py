"""Model registry and runtime on a real (tiny) ONNX graph: cards, sha256 refusal, provider report."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from core.errors import ModelError
from core.models import ModelRegistry, load_model, sha256_of

W = np.array([[0.5, -1.0], [2.0, 0.25], [-0.5, 0.75], [1.0, 1.0]], dtype=np.float32)
B = np.array([0.1, -0.2], dtype=np.float32)


def write_model(folder, name="tiny", task="test"):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4])
    y = helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["n", 2])
    nodes = [helper.make_node("MatMul", ["x", "W"], ["xw"]), helper.make_node("Add", ["xw", "B"], ["logits"]),
             helper.make_node("Sigmoid", ["logits"], ["probs"])]
    graph = helper.make_graph(nodes, name, [x], [y], [numpy_helper.from_array(W, "W"), numpy_helper.from_array(B, "B")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = folder / f"{name}.onnx"
    onnx.save(model, path)
    card = {"name": name, "task": task, "version": "0.0.1", "labels": ["a", "b"], "input": {"shape": ["n", 4], "dtype": "float32"},
            "outputs": {"probs": "sigmoid per label"}, "training_data": {"what": "none: a test graph", "n": 0, "generated": True},
            "intended_use": "tests only; not for clinical use", "sha256": sha256_of(path), "file": path.name}
    (folder / f"{name}.json").write_text(json.dumps(card))
    return path


def test_registry_lists_and_runtime_runs_on_cpu(tmp_path):
    write_model(tmp_path)
    reg = ModelRegistry([tmp_path])
    assert reg.names() == ["tiny"] and not reg.problems
    m = load_model("tiny", reg)
    assert m.provider == "CPUExecutionProvider" and m.device == "CPU"
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    out = m.run({"x": x})["probs"]
    np.testing.assert_allclose(out, 1 / (1 + np.exp(-(x @ W + B))), rtol=1e-5)
    assert reg.by_task("test").name == "tiny"


def test_changed_model_file_is_refused(tmp_path):
    path = write_model(tmp_path)
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="sha256") as err:
        load_model("tiny", ModelRegistry([tmp_path]))
    assert err.value.path == str(path)


def test_bad_card_and_unknown_model_are_clear(tmp_path):
    write_model(tmp_path)
    (tmp_path / "broken.json").write_text('{"name": "broken"}')
    reg = ModelRegistry([tmp_path])
    assert reg.names() == ["tiny"]
    assert any("broken.json" in str(p) and "lacks" in str(p) for p in reg.problems)
    with pytest.raises(ModelError, match="no model named 'nope'; known: tiny"):
        reg.card("nope")
    (tmp_path / "tiny.onnx").unlink()
    with pytest.raises(ModelError, match="missing"):
        load_model("tiny", reg)


def test_wrong_input_shape_is_a_model_error_not_a_crash(tmp_path):
    write_model(tmp_path)
    m = load_model("tiny", ModelRegistry([tmp_path]))
    with pytest.raises(ModelError, match="failed to run"):
        m.run({"x": np.zeros((2, 3), np.float32)})
