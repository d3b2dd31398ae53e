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


def load_model(name_or_card: str | ModelCard, registry: ModelRegistry | None = None, threads: int | None = None,
               prefer_gpu: bool = True) -> LoadedModel:
    """Verify the file's sha256 against its card, then open an ONNX Runtime session."""
    import onnxruntime as ort

    reg = registry or ModelRegistry()
    card = reg.verify(name_or_card if isinstance(name_or_card, str) else name_or_card.name)
    available = ort.get_available_providers()
    providers = [p for p in GPU_PROVIDERS if prefer_gpu and p in available] + ["CPUExecutionProvider"]
    t0 = time.perf_counter()
    try:
        session = ort.InferenceSession(str(card.onnx_path), sess_options=session_options(threads), providers=providers)
    except Exception as exc:
        raise ModelError(f"ONNX Runtime cannot open {card.file}: {exc}", str(card.onnx_path)) from exc
    # onnxruntime-gpu lists CUDA even where CUDA cannot load: trust only what the session got
    got = session.get_providers()[0]
    return LoadedModel(card=card, session=session, provider=got, load_seconds=time.perf_counter() - t0)
