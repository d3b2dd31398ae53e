"""ONNX Runtime sessions: CUDA when a GPU provider really loads, CPU otherwise, and say which."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np

from core.errors import ModelError
from core.models.card import ModelCard
from core.models.registry import ModelRegistry

GPU_PROVIDERS = ("CUDAExecutionProvider",)


@dataclass
class LoadedModel:
    card: ModelCard
    session: object  # onnxruntime.InferenceSession
    provider: str  # the provider the session actually runs on
    load_seconds: float
    # set when the session is this model merged with a second one on a shared trunk (load_shared_trunk)
    second_card: ModelCard | None = None
    second_outputs: dict[str, str] | None = None  # the second model's output name -> its name in this session

    @property
    def device(self) -> str:
        return "GPU" if self.provider in GPU_PROVIDERS else "CPU"

    @property
    def input_names(self) -> list[str]:
        return [i.name for i in self.session.get_inputs()]

    @property
    def output_names(self) -> list[str]:
        return [o.name for o in self.session.get_outputs()]

    def run(self, feeds: dict[str, np.ndarray], outputs: list[str] | None = None) -> dict[str, np.ndarray]:
        try:
            values = self.session.run(outputs, feeds)
        except Exception as exc:  # ORT raises its own exception types for shape/dtype errors
            raise ModelError(f"{self.card.name} failed to run: {exc}") from exc
        return dict(zip(outputs or self.output_names, values))


def session_options(threads: int | None = None):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    n = threads or int(os.environ.get("NEUROREVIEW_THREADS", "0")) or (os.cpu_count() or 1)
    opts.intra_op_num_threads = n
    opts.inter_op_num_threads = 1
    return opts


def _providers(prefer_gpu: bool) -> list[str]:
    import onnxruntime as ort

    available = ort.get_available_providers()
    return [p for p in GPU_PROVIDERS if prefer_gpu and p in available] + ["CPUExecutionProvider"]


def load_model(name_or_card: str | ModelCard, registry: ModelRegistry | None = None, threads: int | None = None,
               prefer_gpu: bool = True) -> LoadedModel:
    """Verify the file's sha256 against its card, then open an ONNX Runtime session."""
    import onnxruntime as ort

    reg = registry or ModelRegistry()
    card = reg.verify(name_or_card if isinstance(name_or_card, str) else name_or_card.name)
    providers = _providers(prefer_gpu)
    t0 = time.perf_counter()
    try:
        session = ort.InferenceSession(str(card.onnx_path), sess_options=session_options(threads), providers=providers)
    except Exception as exc:
        raise ModelError(f"ONNX Runtime cannot open {card.file}: {exc}", str(card.onnx_path)) from exc
    # onnxruntime-gpu lists CUDA even where CUDA cannot load: trust only what the session got
    got = session.get_providers()[0]
    return LoadedModel(card=card, session=session, provider=got, load_seconds=time.perf_counter() - t0)


def load_shared_trunk(first: str, second: str, registry: ModelRegistry | None = None, threads: int | None = None,
                      prefer_gpu: bool = True, prefix: str = "second_") -> LoadedModel | None:
    """One session computing both models' outputs, the common trunk once (core.models.shared_trunk); the
    second model's outputs are named `prefix + name`. None when the two files share no computation (a user
    model with its own trunk): the caller runs them apart. Both files are sha256-verified first."""
    import onnxruntime as ort

    from core.models.shared_trunk import merge_shared_trunk

    reg = registry or ModelRegistry()
    card, card2 = reg.verify(first), reg.verify(second)
    t0 = time.perf_counter()
    try:
        merged = merge_shared_trunk(card.onnx_path, card2.onnx_path, prefix)
    except Exception as exc:
        raise ModelError(f"cannot run {card.file} and {card2.file} as one graph: {exc}", str(card2.onnx_path)) from exc
    if merged is None:
        return None
    try:
        session = ort.InferenceSession(merged.model.SerializeToString(), sess_options=session_options(threads), providers=_providers(prefer_gpu))
    except Exception as exc:
        raise ModelError(f"ONNX Runtime cannot open {card.file} merged with {card2.file}: {exc}", str(card.onnx_path)) from exc
    return LoadedModel(card=card, session=session, provider=session.get_providers()[0], load_seconds=time.perf_counter() - t0,
                       second_card=card2, second_outputs=merged.outputs)
