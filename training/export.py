"""ONNX export with Grad-CAM outputs, and the model card written beside the file."""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

import onnx
import torch

from core.models.card import ModelCard
from core.models.registry import sha256_of

NOT_CLINICAL = "Research use only; not for clinical use: trained on generated (synthetic) data."


def export_cnn(export_module: torch.nn.Module, path: Path, size: int, in_channels: int = 3) -> None:
    """Outputs: probs [N, C], embedding [N, F], cam [N, C, h, w], features [N, F, h, w]."""
    export_module.eval()
    dummy = torch.zeros(1, in_channels, size, size)
    torch.onnx.export(export_module, (dummy,), str(path), input_names=["image"],
                      output_names=["probs", "embedding", "cam", "features"],
                      dynamic_axes={"image": {0: "n"}, "probs": {0: "n"}, "embedding": {0: "n"}, "cam": {0: "n"}, "features": {0: "n"}},
                      opset_version=17, dynamo=False)


def export_series(export_module: torch.nn.Module, path: Path, emb_dim: int, n_labels: int = 6) -> None:
    export_module.eval()
    args = (torch.zeros(1, 7, emb_dim), torch.zeros(1, 7, n_labels))
    torch.onnx.export(export_module, args, str(path), input_names=["embedding", "cnn_probs"],
                      output_names=["slice_probs", "series_probs"],
                      dynamic_axes={"embedding": {1: "s"}, "cnn_probs": {1: "s"}, "slice_probs": {1: "s"}},
                      opset_version=17, dynamo=False)


def write_card(onnx_path: Path, **fields) -> ModelCard:
    """Card JSON beside the .onnx, and the same keys in the ONNX metadata_props."""
    fields.setdefault("date", _dt.date.today().isoformat())
    fields.setdefault("intended_use", NOT_CLINICAL)
    model = onnx.load(str(onnx_path))
    del model.metadata_props[:]
    for k in ("name", "task", "version", "date", "intended_use"):
        model.metadata_props.add(key=k, value=str(fields[k]))
    model.metadata_props.add(key="labels", value=json.dumps(fields["labels"]))
    model.metadata_props.add(key="training_data", value=json.dumps(fields["training_data"]))
    onnx.save(model, str(onnx_path))
    card = ModelCard(sha256=sha256_of(onnx_path), file=onnx_path.name, **fields)
    onnx_path.with_suffix(".json").write_text(card.to_json() + "\n")
    return card
