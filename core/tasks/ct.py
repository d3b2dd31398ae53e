"""Head CT scoring: intracranial hemorrhage (6 labels, per slice and series) and basal-ganglia
hemorrhage laterality (none/left/right, patient sides).

One `CTScorer` keeps its ONNX Runtime sessions open (the GUI and the CLI reuse it); the slices are
preprocessed once and shared by both models.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from core.models.preprocess import bg_input, check_ct_series, display_slices, ich_input
from core.models.registry import ModelRegistry
from core.models.runtime import LoadedModel, load_model
from core.volume import Volume

ICH_LABELS = ("any", "epidural", "intraparenchymal", "intraventricular", "subarachnoid", "subdural")
BG_CLASSES = ("none", "left", "right")
BATCH = 16


@dataclass
class ModelInfo:
    name: str
    version: str
    provider: str
    device: str
    sha256: str

    @classmethod
    def of(cls, m: LoadedModel) -> "ModelInfo":
        return cls(m.card.name, m.card.version, m.provider, m.device, m.card.sha256)


@dataclass
class ICHResult:
    labels: tuple[str, ...]
    slice_probs: np.ndarray  # [z, 6] after the BiLSTM
    cnn_slice_probs: np.ndarray  # [z, 6] CNN alone
    series_probs: dict[str, float]
    cam: np.ndarray  # [z, 6, h, w] closed-form Grad-CAM (model grid, radiological orientation)
    models: list[ModelInfo]
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"series_probs": self.series_probs, "slice_probs": {lab: self.slice_probs[:, j].round(4).tolist() for j, lab in enumerate(self.labels)},
                "models": [m.__dict__ for m in self.models], "timings_s": self.timings}


@dataclass
class BGResult:
    classes: tuple[str, ...]
    slice_probs: np.ndarray  # [z, 3]
    p_hemorrhage: float
    side: str  # 'none' | 'left' | 'right' (patient side) | 'unverified' (volume.geometry_verified is False)
    series_probs: dict[str, float]
    cam: np.ndarray  # [z, 3, h, w]
    model: ModelInfo
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"p_hemorrhage": self.p_hemorrhage, "side": self.side, "series_probs": self.series_probs,
                "slice_probs": {c: self.slice_probs[:, j].round(4).tolist() for j, c in enumerate(self.classes)},
                "model": self.model.__dict__, "timings_s": self.timings}


def _run_batched(model: LoadedModel, x: np.ndarray, outputs: list[str]) -> dict[str, np.ndarray]:
    parts: dict[str, list[np.ndarray]] = {o: [] for o in outputs}
    for i in range(0, len(x), BATCH):
        res = model.run({"image": x[i:i + BATCH]}, outputs)
        for o in outputs:
            parts[o].append(res[o])
    return {o: np.concatenate(v) for o, v in parts.items()}


class CTScorer:
    """Loads the bundled CT models on first use (sha256 verified) and scores volumes."""

    def __init__(self, registry: ModelRegistry | None = None, threads: int | None = None) -> None:
        self.registry = registry or ModelRegistry()
        self.threads = threads
        self._models: dict[str, LoadedModel] = {}
        self._cache: tuple[int, np.ndarray] | None = None

    def model(self, name: str) -> LoadedModel:
        if name not in self._models:
            self._models[name] = load_model(name, self.registry, threads=self.threads)
        return self._models[name]

    def slices(self, volume: Volume) -> np.ndarray:
        """HU at the model grid, computed once per volume and shared by both models."""
        if self._cache is None or self._cache[0] != id(volume.voxels):
            self._cache = (id(volume.voxels), display_slices(volume))
        return self._cache[1]

    def score_ich(self, volume: Volume) -> ICHResult:
        check_ct_series(volume, "intracranial hemorrhage scoring")
        t = {}
        t0 = time.perf_counter()
        hu = self.slices(volume)
        x = ich_input(hu)
        t["preprocess"] = time.perf_counter() - t0
        cnn, lstm = self.model("ich_cnn"), self.model("ich_bilstm")
        t0 = time.perf_counter()
        out = _run_batched(cnn, x, ["probs", "embedding", "cam"])
        t["cnn"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        res = lstm.run({"embedding": out["embedding"][None].astype(np.float32), "cnn_probs": out["probs"][None].astype(np.float32)})
        t["bilstm"] = time.perf_counter() - t0
        series = res["series_probs"][0]
        return ICHResult(ICH_LABELS, res["slice_probs"][0], out["probs"], {lab: float(series[j]) for j, lab in enumerate(ICH_LABELS)},
                         out["cam"], [ModelInfo.of(cnn), ModelInfo.of(lstm)], t)

    def score_bg(self, volume: Volume) -> BGResult:
        check_ct_series(volume, "basal-ganglia hemorrhage scoring")
        t = {}
        t0 = time.perf_counter()
        x = bg_input(self.slices(volume))
        t["preprocess"] = time.perf_counter() - t0
        m = self.model("bg_laterality")
        t0 = time.perf_counter()
        out = _run_batched(m, x, ["probs", "cam"])
        t["cnn"] = time.perf_counter() - t0
        p = out["probs"]
        p_hem = float((1 - p[:, 0]).max())
        left, right = float(p[:, 1].max()), float(p[:, 2].max())
        thr = float(m.card.thresholds.get("hemorrhage", 0.5))
        side = "none" if p_hem < thr else ("left" if left >= right else "right")
        if side != "none" and not volume.geometry_verified:  # issue 17: no side from geometry the loader could not verify
            side = "unverified"
        return BGResult(BG_CLASSES, p, p_hem, side, {"none": 1 - p_hem, "left": left, "right": right}, out["cam"], ModelInfo.of(m), t)


_DEFAULT: CTScorer | None = None


def _default() -> CTScorer:
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = CTScorer()
    return _DEFAULT


def score_ich(volume: Volume, scorer: CTScorer | None = None) -> ICHResult:
    return (scorer or _default()).score_ich(volume)


def score_bg(volume: Volume, scorer: CTScorer | None = None) -> BGResult:
    return (scorer or _default()).score_bg(volume)
