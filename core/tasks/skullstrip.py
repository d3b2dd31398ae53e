"""Skull-strip QC of one MRI volume: P(recognizable face kept), P(brain tissue lost), their 3-D
Grad-CAM maps from the ONNX graph, flags at the card's thresholds, and the deterministic measures
that explain a flag. Served by the shared model runtime (sha256-verified ONNX Runtime session)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from core.errors import InputError
from core.models.registry import ModelRegistry
from core.models.runtime import LoadedModel, load_model
from core.qc.measures import Measures, measure
from core.qc.preprocess import qc_input
from core.tasks.ct import ModelInfo
from core.volume import Volume

QC_LABELS = ("face", "brain_loss")
MODEL_NAME = "skullstrip_qc"


@dataclass
class SkullStripResult:
    p_face: float
    p_brain_loss: float
    flags: dict[str, bool]  # label -> at or above the card threshold
    thresholds: dict[str, float]
    cam: np.ndarray  # [2, 8, 16, 16] Grad-CAM on the model grid (z, y, x), 0..1
    measures: Measures
    model: ModelInfo
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        """'pass' | 'face kept' | 'brain cut' | 'both' (the GUI's override choices use the same words)."""
        f, b = self.flags["face"], self.flags["brain_loss"]
        return "both" if f and b else "face kept" if f else "brain cut" if b else "pass"

    def to_dict(self) -> dict:
        return {"p_face": round(self.p_face, 6), "p_brain_loss": round(self.p_brain_loss, 6), "verdict": self.verdict,
                "flags": self.flags, "measures": self.measures.to_dict(), "model": self.model.__dict__, "timings_s": self.timings}


class SkullStripScorer:
    """Keeps one ONNX Runtime session open; `threads=1` per worker process in batch runs."""

    def __init__(self, registry: ModelRegistry | None = None, threads: int | None = None) -> None:
        self.registry = registry or ModelRegistry()
        self.threads = threads
        self._model: LoadedModel | None = None

    @property
    def model(self) -> LoadedModel:
        if self._model is None:
            self._model = load_model(MODEL_NAME, self.registry, threads=self.threads)
        return self._model

    def score(self, volume: Volume) -> SkullStripResult:
        if volume.modality not in ("MR", "MRI", "OT", ""):
            raise InputError(f"skull-strip QC is for brain MRI, this volume is {volume.modality}", volume.ids.source or None)
        t = {}
        t0 = time.perf_counter()
        x = qc_input(volume.voxels, volume.ids.source or None)[None, None]
        t["preprocess"] = time.perf_counter() - t0
        m = self.model
        t0 = time.perf_counter()
        out = m.run({"image": x}, ["probs", "cam"])
        t["model"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        meas = measure(volume)
        t["measures"] = time.perf_counter() - t0
        p = out["probs"][0].astype(float)
        thr = {lab: float(m.card.thresholds.get(lab, 0.5)) for lab in QC_LABELS}
        flags = {lab: bool(p[j] >= thr[lab]) for j, lab in enumerate(QC_LABELS)}
        return SkullStripResult(float(p[0]), float(p[1]), flags, thr, out["cam"][0], meas, ModelInfo.of(m), t)


_DEFAULT: SkullStripScorer | None = None


def score_skullstrip(volume: Volume, scorer: SkullStripScorer | None = None) -> SkullStripResult:
    global _DEFAULT
    if scorer is None:
        _DEFAULT = _DEFAULT or SkullStripScorer()
        scorer = _DEFAULT
    return scorer.score(volume)
