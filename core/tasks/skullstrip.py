"""Skull-strip QC of one MRI volume: P(recognizable face kept), P(brain tissue lost), P(not
skull-stripped), their 3-D Grad-CAM maps from the ONNX graph, flags at the card's thresholds, the
deterministic measures that explain a flag and, when the card has a `stack`, enter the scores with the
CNN's logits (core.qc.stack), and the out-of-distribution guard (core.qc.ood): a CT,
a blank or non-head volume gets the verdict "not scorable" with its reason, never a pass.
Served by the shared model runtime (sha256-verified ONNX Runtime session)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from core.models.registry import ModelRegistry
from core.models.runtime import LoadedModel, load_model
from core.qc.measures import INTRINSIC, Measures, add_intrinsic, measure
from core.qc.ood import feature_distance, input_reasons
from core.qc.preprocess import MODEL_SHAPE, cam_to_volume, prepared, qc_input_and_centre
from core.qc.stack import stacked_probs
from core.tasks.ct import ModelInfo
from core.volume import Volume

QC_LABELS = ("face", "brain_loss", "not_stripped")
NOT_SCORABLE = "not scorable"
NOT_STRIPPED = "not skull-stripped"
MODEL_NAME = "skullstrip_qc"


@dataclass
class SkullStripResult:
    p_face: float  # nan when not scorable before the model ran
    p_brain_loss: float
    p_not_stripped: float
    flags: dict[str, bool]  # label -> at or above the card threshold (all False when not scorable)
    thresholds: dict[str, float]
    cam: np.ndarray  # [3, d, h, w] Grad-CAM on the model grid (z, y, x), 0..1 (zeros when not scorable)
    measures: Measures
    model: ModelInfo
    timings: dict[str, float] = field(default_factory=dict)
    ood_reasons: list[str] = field(default_factory=list)  # why the volume is not scorable
    grid_centre: tuple[float, float, float] = (0.0, 0.0, 0.0)  # model grid centre, (z, y, x) voxel index
    cnn_probs: tuple[float, float, float] | None = None  # the CNN alone, before the card's stack (core.qc.stack) combined it with the measures

    def cam_on_volume(self, index: int, volume: Volume) -> np.ndarray:
        """Grad-CAM map `index` (0 face, 1 brain loss, 2 not stripped) on the volume's grid, 0..1."""
        return cam_to_volume(self.cam[index], volume.voxels.shape, volume.spacing, self.grid_centre)

    @property
    def scorable(self) -> bool:
        return not self.ood_reasons

    @property
    def verdict(self) -> str:
        """'not scorable' | 'not skull-stripped' | 'pass' | 'face kept' | 'brain cut' | 'both'.
        A volume that was never stripped is its own finding, whatever P(face) says (shown beside it)."""
        if not self.scorable:
            return NOT_SCORABLE
        if self.flags["not_stripped"]:
            return NOT_STRIPPED
        f, b = self.flags["face"], self.flags["brain_loss"]
        return "both" if f and b else "face kept" if f else "brain cut" if b else "pass"

    def explanation(self) -> str:
        """One line for the CLI, the report and the review window: the verdict's supporting measures."""
        if not self.scorable:
            return "not scorable: " + "; ".join(self.ood_reasons)
        return self.measures.explain(self.flags)

    def to_dict(self) -> dict:
        return {"p_face": round(self.p_face, 6), "p_brain_loss": round(self.p_brain_loss, 6),
                "p_not_stripped": round(self.p_not_stripped, 6), "verdict": self.verdict, "flags": self.flags,
                "explanation": self.explanation(), "ood_reasons": self.ood_reasons,
                "measures": self.measures.to_dict(), "model": self.model.__dict__, "timings_s": self.timings,
                "cnn_probs": None if self.cnn_probs is None else [round(v, 6) for v in self.cnn_probs]}


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

    def score(self, volume: Volume, intrinsic: bool | None = None) -> SkullStripResult:
        """`intrinsic`: the brain-intrinsic measures (core.qc.measures, ~55 ms of CPU a volume). None: computed
        only when the card's stack uses them or a flag is raised (they explain a flag; a passing file's
        row leaves them empty); True: always (the review window); False: never unless the stack needs them."""
        m = self.model
        thr = {lab: float(m.card.thresholds.get(lab, 0.5)) for lab in QC_LABELS}
        t = {}
        t0 = time.perf_counter()
        reasons = input_reasons(volume)
        if reasons:  # never fed to the network: a CT, blank or non-head volume
            t["guard"] = time.perf_counter() - t0
            cam = np.zeros((len(QC_LABELS), *(s // 8 for s in MODEL_SHAPE)), np.float32)
            nan = float("nan")
            return SkullStripResult(nan, nan, nan, {lab: False for lab in QC_LABELS}, thr, cam, Measures.empty(),
                                    ModelInfo.of(m), t, reasons)
        grid = prepared(volume.voxels, volume.spacing)  # one pass over the full volume, shared with the measures
        x, centre = qc_input_and_centre(volume.voxels, volume.spacing, volume.ids.source or None, grid=grid)
        x = x[None, None]
        t["preprocess"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        out = m.run({"image": x}, ["probs", "cam", "features"])
        t["model"] = time.perf_counter() - t0
        stack = m.card.extra.get("stack")
        need = bool(intrinsic) or stack_uses_intrinsic(stack)
        t0 = time.perf_counter()
        meas = measure(volume, grid, intrinsic=need)
        t["measures"] = time.perf_counter() - t0
        stats = m.card.extra.get("ood")
        if stats:
            d = feature_distance(out["features"][0], stats)
            if d > float(stats["distance_threshold"]):
                reasons = [f"unlike the training volumes (feature distance {d:.2f} > {float(stats['distance_threshold']):.2f})"]
        cnn = out["probs"][0].astype(float)
        p = stacked_probs(cnn, meas, stack) if stack else cnn  # the card's stack: CNN logits + measures
        flags = {lab: bool(p[j] >= thr[lab]) and not reasons for j, lab in enumerate(QC_LABELS)}
        if intrinsic is None and any(flags.values()) and not meas.has_intrinsic:  # lazily: they explain the flag
            t0 = time.perf_counter()
            meas = add_intrinsic(meas, volume, grid)
            t["measures_intrinsic"] = time.perf_counter() - t0
        return SkullStripResult(float(p[0]), float(p[1]), float(p[2]), flags, thr, out["cam"][0], meas, ModelInfo.of(m), t,
                                reasons, centre, tuple(float(v) for v in cnn))


def stack_uses_intrinsic(stack: dict | None) -> bool:
    """Whether the card's stack takes a brain-intrinsic measure as an input (then it is always computed)."""
    return bool(stack) and any(f in INTRINSIC for o in stack["outputs"].values() for f in o["features"])


_DEFAULT: SkullStripScorer | None = None


def score_skullstrip(volume: Volume, scorer: SkullStripScorer | None = None) -> SkullStripResult:
    global _DEFAULT
    if scorer is None:
        _DEFAULT = _DEFAULT or SkullStripScorer()
        scorer = _DEFAULT
    return scorer.score(volume)
