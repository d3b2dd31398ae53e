"""Head CT scoring: intracranial hemorrhage (6 labels, per slice and series) and basal-ganglia
hemorrhage laterality (none/left/right, patient sides).

One `CTScorer` keeps its ONNX Runtime sessions open (the GUI and the CLI reuse it); the slices are
preprocessed once and shared by both models.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from core.imaging.pseudo_hu import as_model_window_hu
from core.models.centring import SERIES_CENTRING, shift_stack
from core.models.preprocess import (AIR_HU, BG_WINDOWS, ICH_WINDOWS, MODEL_SIZE, ModelGrid, bg_input, centring_offset, check_ct_series,
                                    display_slices, ich_input)
from core.models.registry import ModelRegistry
from core.models.runtime import LoadedModel, load_model, load_shared_trunk
from core.tasks.slabs import SlabPlan, slab_average, slab_plan, to_slices
from core.volume import Volume

ICH_LABELS = ("any", "epidural", "intraparenchymal", "intraventricular", "subarachnoid", "subdural")
BG_CLASSES = ("none", "left", "right")
BATCH = 16
#: the ICH CNN and the BG model as one session (their shared trunk run once: core.models.shared_trunk)
CT_CNN = "ich_cnn+bg_laterality"
BG_PREFIX = "bg_"


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

    @classmethod
    def of_second(cls, m: LoadedModel) -> "ModelInfo":
        """The second model of a merged session (its own card, the session's provider)."""
        return cls(m.second_card.name, m.second_card.version, m.provider, m.device, m.second_card.sha256)


@dataclass
class OODResult:
    """Whether the input looks like what the CT models were trained on (distance of the CNN embedding
    to the training embeddings, scaled so that 1.0 is the 99th percentile of real validation slices)."""

    in_distribution: bool
    score: float  # series: median slice score; > threshold means outside
    threshold: float
    reason: str
    slice_scores: np.ndarray  # [z]
    slice_in_distribution: np.ndarray  # bool [z]
    turned_probs: np.ndarray | None = None  # [z] P(turned by 90/180/270 degrees), when the model has that output
    turned_median: float | None = None  # what the orientation verdict compared: the median over slices with tissue
    turned_threshold: float | None = None  # the card's threshold for that median

    def to_dict(self) -> dict:
        out = {"in_distribution": self.in_distribution, "score": round(self.score, 4), "threshold": self.threshold, "reason": self.reason,
               "slices_outside": int((~self.slice_in_distribution).sum()), "slices": int(len(self.slice_scores))}
        if self.turned_median is not None:
            out["turned_prob_median"] = round(self.turned_median, 4)
            if self.turned_threshold is not None:
                out["turned_threshold"] = self.turned_threshold
                out["turned"] = bool(self.turned_median > self.turned_threshold)
        return out


OUTSIDE = "outside the model's training data: not scored"
#: a head CT shows skull bone on nearly every slice (real CT-ICH and PHE-SICH series: 0.83 or more of the checked
#: slices); an abdomen or a blank volume does not
MIN_SKULL_SLICE_FRACTION = 0.5
SKULL_CHECK_SLICES = 12  # evenly spaced slices are enough for a series verdict (the mask costs ~25 ms per slice at 128)
MIN_TISSUE_FRACTION = 0.03  # of a slice image: less is no head
EMPTY_SLICE_SCORE = 10.0


def skull_fraction(hu: np.ndarray) -> float:
    """Share of (up to SKULL_CHECK_SLICES evenly spaced) slices in which core.explain.intracranial finds skull bone:
    the embedding distance alone let an abdomen-like volume through with the 0.4 trunk."""
    from core.explain.intracranial import NOMINAL_MODEL_PX_MM, intracranial_mask

    idx = np.unique(np.linspace(0, len(hu) - 1, min(len(hu), SKULL_CHECK_SLICES)).round().astype(int))
    small = hu[idx, ::2, ::2]
    return float(np.mean([intracranial_mask(h, 2 * NOMINAL_MODEL_PX_MM).kind != "head outline" for h in small]))


#: slices with less tissue (skull base, vertex) look much the same either way up: the orientation verdict uses the others
ORIENTATION_MIN_TISSUE = 0.2


def with_orientation(base: OODResult, turned: np.ndarray, threshold: float, tissue: np.ndarray | None = None) -> OODResult:
    """Add the orientation check to a series (or a stack of slice images, or one image): it is outside when the
    median P(turned) of its slices with at least ORIENTATION_MIN_TISSUE tissue exceeds `threshold`.

    Why: the models read anterior up; a head turned 90 degrees is as close to the training embeddings as an
    upright one, so the distance alone lets it through with confident, meaningless scores. The verdict is per
    stack, not per slice: single upright slices reach P(turned) 0.9 now and then (2% of real validation slices
    above 0.73), whole upright series stayed at or below 0.54 and turned ones at or above 0.90."""
    use = tissue >= ORIENTATION_MIN_TISSUE if tissue is not None else np.ones(len(turned), bool)
    med = float(np.median(turned[use] if use.any() else turned)) if len(turned) else 0.0
    if base.in_distribution and med > threshold:
        reason = (f"{OUTSIDE} (the head looks turned: median P(turned) {med:.2f} > {threshold:.2f}; the models read anterior "
                  f"up - rotate the images, e.g. score-slices --rotate 90)")
        return replace(base, in_distribution=False, reason=reason, slice_in_distribution=np.zeros(len(turned), bool), turned_probs=turned,
                       turned_median=med, turned_threshold=threshold)
    return replace(base, turned_probs=turned, turned_median=med, turned_threshold=threshold)


def ood_from_scores(scores: np.ndarray, slice_threshold: float, series_threshold: float) -> OODResult:
    med = float(np.median(scores)) if len(scores) else float("inf")
    inside = bool(np.isfinite(med) and med <= series_threshold)
    reason = ("in distribution" if inside else
              f"{OUTSIDE} (distance {med:.2f} > {series_threshold:.2f}: not a head CT like the training data - wrong body part, "
              f"modality, orientation or a blank image?)")
    return OODResult(inside, med, series_threshold, reason, scores, scores <= slice_threshold)


@dataclass
class SliceScores:
    """The CNN's scores of single slice images (no series context)."""

    labels: tuple[str, ...]
    probs: np.ndarray  # [n, 6] calibrated, CNN alone
    cam: np.ndarray  # [n, 6, h, w]
    embedding: np.ndarray
    ood: OODResult
    thresholds: dict[str, float]
    models: list[ModelInfo]


@dataclass
class ICHResult:
    labels: tuple[str, ...]
    slice_probs: np.ndarray  # [z, 6] after the BiLSTM
    cnn_slice_probs: np.ndarray  # [z, 6] CNN alone
    series_probs: dict[str, float]
    cam: np.ndarray  # [z, 6, h, w] closed-form Grad-CAM (model grid, radiological orientation)
    models: list[ModelInfo]
    timings: dict[str, float] = field(default_factory=dict)
    ood: OODResult | None = None
    thresholds: dict[str, float] = field(default_factory=dict)
    slabs: SlabPlan | None = None  # thin slices were scored as thick slabs (core.tasks.slabs)
    grid: ModelGrid | None = None  # where the CNN's input (and so `cam`) sat: maps go back through it (head centring)

    def flagged(self) -> dict[str, bool]:
        """Labels at or above the card's series threshold; nothing is flagged outside the training distribution."""
        if self.ood is not None and not self.ood.in_distribution:
            return {lab: False for lab in self.labels}
        return {lab: self.series_probs[lab] >= self.thresholds.get(lab, 0.5) for lab in self.labels}

    def most_likely_slice(self, label: str, single_slice: bool = False) -> int:
        """0-based slice where `label` peaks: in the series model's per-slice output, or the CNN's own (single_slice)."""
        probs = self.cnn_slice_probs if single_slice else self.slice_probs
        return int(probs[:, self.labels.index(label)].argmax())

    def to_dict(self) -> dict:
        return {"series_probs": self.series_probs, "slice_probs": {lab: self.slice_probs[:, j].round(4).tolist() for j, lab in enumerate(self.labels)},
                "cnn_slice_probs": {lab: self.cnn_slice_probs[:, j].round(4).tolist() for j, lab in enumerate(self.labels)},
                "thresholds": self.thresholds, "flagged": self.flagged(), "ood": None if self.ood is None else self.ood.to_dict(),
                "models": [m.__dict__ for m in self.models], "timings_s": self.timings,
                "slabs": None if self.slabs is None else self.slabs.to_dict(),
                "input_shift_px": None if self.grid is None else list(self.grid.shift)}


def ood_to_slices(ood: OODResult, plan: SlabPlan) -> OODResult:
    """A verdict computed on slabs, with its per-slab arrays given back to every slice."""
    if not plan.thin:
        return ood
    return replace(ood, slice_scores=to_slices(ood.slice_scores, plan), slice_in_distribution=to_slices(ood.slice_in_distribution, plan),
                   turned_probs=None if ood.turned_probs is None else to_slices(ood.turned_probs, plan))


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
    ood: OODResult | None = None
    threshold: float = 0.5
    note: str = ""  # why a score above the threshold is not called (out of distribution, no hemorrhage per the ICH model)
    grid: ModelGrid | None = None  # where the input (and so `cam`) sat on the model grid

    def most_likely_slice(self, side: str) -> int:
        """0-based slice where the class `side` ('left', 'right', 'none') peaks."""
        return int(self.slice_probs[:, self.classes.index(side)].argmax())

    def to_dict(self) -> dict:
        return {"p_hemorrhage": self.p_hemorrhage, "side": self.side, "series_probs": self.series_probs, "threshold": self.threshold, "note": self.note,
                "ood": None if self.ood is None else self.ood.to_dict(),
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
        # caches hold the voxel array itself and compare by identity: an id() alone can be reused by a new
        # array after the old one is freed, which would hand a new series the old series' scores
        self._cache: tuple[np.ndarray, np.ndarray] | None = None
        self._slabs: tuple[np.ndarray, np.ndarray, SlabPlan, tuple[int, int]] | None = None
        self._per_slice: tuple[np.ndarray, np.ndarray] | None = None  # slice_inputs of a thin series
        self._raw: tuple[np.ndarray, dict, OODResult, SlabPlan] | None = None

    def model(self, name: str) -> LoadedModel:
        """A model's session; CT_CNN is the ICH CNN with the BG model on the same trunk, one session (the plain
        ich_cnn when the two files share no computation: the BG model then runs on its own)."""
        if name not in self._models:
            both = None
            if name == CT_CNN and BG_WINDOWS == ICH_WINDOWS:  # one input feeds both heads: only when they read the same
                both = load_shared_trunk("ich_cnn", "bg_laterality", self.registry, threads=self.threads, prefix=BG_PREFIX)
            # CTScorer.model, not self.model: a subclass may hold a non-reentrant lock around this call
            self._models[name] = both if both is not None else (CTScorer.model(self, "ich_cnn") if name == CT_CNN else
                                                                load_model(name, self.registry, threads=self.threads))
        return self._models[name]

    def slices(self, volume: Volume) -> np.ndarray:
        """HU at the model grid, computed once per volume and shared by both models."""
        if self._cache is None or self._cache[0] is not volume.voxels:
            self._cache = (volume.voxels, display_slices(volume))
        return self._cache[1]

    @property
    def centres_series(self) -> bool:
        """Whether the series model was fitted on head-centred readings (its card's input_centring): then the CNN reads
        every series with the head moved to the grid's middle (core.models.centring), as it did in that fit."""
        card = self.registry.cards.get("ich_bilstm")  # a folder without a series model: nothing asks for centring
        return card is not None and card.extra.get("input_centring") == SERIES_CENTRING

    def model_slices(self, volume: Volume) -> tuple[np.ndarray, SlabPlan]:
        """What the models read: the display slices, averaged into ~5 mm slabs when the series is thin, and moved so
        the head sits in the grid's middle when the series model asks for it (one offset for the series)."""
        if self._slabs is None or self._slabs[0] is not volume.voxels:
            plan = slab_plan(volume.shape[0], volume.spacing[0])
            hu, shift = slab_average(self.slices(volume), plan), (0, 0)
            if self.centres_series:
                shift = centring_offset(hu)
                if shift != (0, 0):
                    hu = shift_stack(hu, *shift, AIR_HU)
            self._slabs = (volume.voxels, hu, plan, shift)
        return self._slabs[1], self._slabs[2]

    def grid(self, volume: Volume) -> ModelGrid:
        """Where a slice of `volume` sits on the model grid as the models read it (with the centring shift): model-grid
        maps (Grad-CAM, occlusion) go back to the volume through it."""
        self.model_slices(volume)
        return replace(ModelGrid.of(volume), shift=self._slabs[3])

    def slice_inputs(self, volume: Volume) -> np.ndarray:
        """[z, 256, 256]: what the models read for each slice (its slab in a thin series): occlusion maps occlude that.
        The display slices themselves unless the series is thin; then the slabs spread back once and kept."""
        hu, plan = self.model_slices(volume)
        if not plan.thin:
            return hu
        if self._per_slice is None or self._per_slice[0] is not volume.voxels:
            self._per_slice = (volume.voxels, to_slices(hu, plan))
        return self._per_slice[1]

    def ood(self, embedding: np.ndarray, hu: np.ndarray | None = None) -> OODResult:
        """Distance of slice embeddings to the training data (the ich_ood model); series verdict on the median.

        A slice with (almost) no tissue in the brain window is outside whatever its embedding says: series
        have near-empty end slices, so an empty image sits close to the training data in embedding space."""
        m = self.model("ich_ood")
        out = m.run({"embedding": embedding.astype(np.float32)})
        scores = out["ood_score"].astype(np.float64)
        tissue = None
        if hu is not None:
            tissue = (as_model_window_hu(hu) > 2.0).mean(axis=(1, 2))
            scores = np.where(tissue < MIN_TISSUE_FRACTION, np.maximum(scores, EMPTY_SLICE_SCORE), scores)
        th = m.card.thresholds
        res = ood_from_scores(scores, float(th.get("slice", 1.0)), float(th.get("series_median", 1.0)))
        if "turned_prob" in out:  # models from 0.5 on: the orientation check
            res = with_orientation(res, out["turned_prob"].astype(np.float64), float(th["turned"]), tissue)
        return res

    def _cnn(self, hu: np.ndarray) -> tuple[dict[str, np.ndarray], LoadedModel]:
        """ICH CNN outputs, and the BG model's as bg_probs/bg_cam when it shares the session (BG reads the same input)."""
        cnn = self.model(CT_CNN)
        both = cnn.second_outputs is not None
        outputs = ["probs", "embedding", "cam"] + ([cnn.second_outputs["probs"], cnn.second_outputs["cam"]] if both else [])
        return _run_batched(cnn, ich_input(hu), outputs), cnn

    def score_slices(self, hu: np.ndarray) -> SliceScores:
        """Single slice images at the model grid ([n, 256, 256] HU or pseudo-HU), each scored on its own."""
        if hu.ndim != 3 or hu.shape[1:] != (MODEL_SIZE, MODEL_SIZE):
            raise ValueError(f"expected [n, {MODEL_SIZE}, {MODEL_SIZE}] slices, got {hu.shape}")
        out, cnn = self._cnn(hu.astype(np.float32))
        ood = self.ood(out["embedding"], hu)
        ood = replace(ood, in_distribution=bool(ood.slice_in_distribution.all()), score=float(ood.slice_scores.max())) if len(hu) == 1 else ood
        return SliceScores(ICH_LABELS, out["probs"], out["cam"], out["embedding"], ood,
                           {k: float(v) for k, v in cnn.card.thresholds.items()}, [ModelInfo.of(cnn), ModelInfo.of(self.model("ich_ood"))])

    def ood_of(self, volume: Volume) -> OODResult:
        """The OOD verdict of a volume, per slice (cached with its CNN outputs: ICH and BG share it)."""
        _, _, ood, plan = self._ich_raw(volume)
        return ood_to_slices(ood, plan)

    def _ich_raw(self, volume: Volume):
        """CNN outputs and the OOD verdict per model slice (slab when the series is thin)."""
        key = volume.voxels
        if self._raw is None or self._raw[0] is not key:
            hu, plan = self.model_slices(volume)
            out, cnn = self._cnn(hu)
            ood = self.ood(out["embedding"], hu)
            skull = skull_fraction(hu) if ood.in_distribution else 1.0  # already outside: no need to look for a skull
            if skull < MIN_SKULL_SLICE_FRACTION:
                ood = replace(ood, in_distribution=False, reason=f"{OUTSIDE} (skull bone on {skull:.0%} of the slices checked: not a head CT?)")
            self._raw = (key, out, ood, plan)
        return self._raw

    def score_ich(self, volume: Volume) -> ICHResult:
        check_ct_series(volume, "intracranial hemorrhage scoring")
        t = {}
        t0 = time.perf_counter()
        self.model_slices(volume)
        t["preprocess"] = time.perf_counter() - t0
        cnn, lstm = self.model(CT_CNN), self.model("ich_bilstm")
        t0 = time.perf_counter()
        _, out, ood, plan = self._ich_raw(volume)
        t["cnn"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        # the BiLSTM reads the slab sequence: thin slices would give it series four times the length it learned
        res = lstm.run({"embedding": out["embedding"][None].astype(np.float32), "cnn_probs": out["probs"][None].astype(np.float32)})
        t["bilstm"] = time.perf_counter() - t0
        series = res["series_probs"][0]
        return ICHResult(ICH_LABELS, to_slices(res["slice_probs"][0], plan), to_slices(out["probs"], plan),
                         {lab: float(series[j]) for j, lab in enumerate(ICH_LABELS)}, to_slices(out["cam"], plan),
                         [ModelInfo.of(cnn), ModelInfo.of(lstm), ModelInfo.of(self.model("ich_ood"))], t, ood_to_slices(ood, plan),
                         {k: float(v) for k, v in lstm.card.thresholds.items()}, plan if plan.thin else None, self.grid(volume))

    def score_bg(self, volume: Volume) -> BGResult:
        check_ct_series(volume, "basal-ganglia hemorrhage scoring")
        t = {}
        shared = self.model(CT_CNN)
        if shared.second_outputs is not None:  # the BG head ran in the ICH CNN's pass (timed there)
            t0 = time.perf_counter()
            _, raw, _, plan = self._ich_raw(volume)
            t["in_ich_cnn_pass"] = time.perf_counter() - t0
            info, thr = ModelInfo.of_second(shared), float(shared.second_card.thresholds.get("hemorrhage", 0.5))
            out = {k: to_slices(raw[shared.second_outputs[k]], plan) for k in ("probs", "cam")}
        else:
            t0 = time.perf_counter()
            hu, plan = self.model_slices(volume)
            x = bg_input(hu)
            t["preprocess"] = time.perf_counter() - t0
            m = self.model("bg_laterality")
            t0 = time.perf_counter()
            out = _run_batched(m, x, ["probs", "cam"])
            t["cnn"] = time.perf_counter() - t0
            info, thr = ModelInfo.of(m), float(m.card.thresholds.get("hemorrhage", 0.5))
            out = {k: to_slices(v, plan) for k, v in out.items()}
        p = out["probs"]
        p_hem = float((1 - p[:, 0]).max())
        left, right = float(p[:, 1].max()), float(p[:, 2].max())
        ood = self.ood_of(volume)
        # a side is called when that side's own probability reaches the threshold: the same rule as the panel's
        # laterality rows (P(hemorrhage) 0.87 split 0.27 left / 0.65 right called 'right' while no row was flagged)
        side = "none" if (max(left, right) < thr or not ood.in_distribution) else ("left" if left >= right else "right")
        note = "" if ood.in_distribution else OUTSIDE
        if side != "none":
            # A basal-ganglia hemorrhage is an intraparenchymal hemorrhage: its side is called only when the ICH model,
            # validated on real scans, flags one (the side head is trained on generated data only). A subdural or
            # intraventricular bleed alone is not a basal-ganglia hematoma (the real demo's SDH + IVH drew a false side).
            ich = self.score_ich(volume)
            if not ich.flagged().get("intraparenchymal"):
                side, note = "none", "not called: the ICH model flags no intraparenchymal hemorrhage in this series"
        if side != "none" and not volume.geometry_verified:  # issue 17: no side from geometry the loader could not verify
            side = "unverified"
        return BGResult(BG_CLASSES, p, p_hem, side, {"none": 1 - p_hem, "left": left, "right": right}, out["cam"], info, t, ood, thr, note,
                        self.grid(volume))


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
