"""Heat maps for the viewer built from core results, as plain arrays on the volume's grid.

No widgets here: panels call these and write the outcome into `ViewerState.overlay`. Grad-CAM maps
come from the results already computed (closed form, no model run); occlusion runs the slice model
on one slice (`occlusion_slice`, called from a worker thread). Model-grid maps are in radiological
display orientation at 256x256; `model_to_volume_slice` undoes the resize, the air padding and the flip.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from core.explain import gradcam_to_volume, in_head_boxes, model_slice_to_volume, occlusion_map
from core.explain.gradcam import normalise
from core.explain.intracranial import intracranial_masks
from core.models.preprocess import ModelGrid, bg_input, head_mask_2d, ich_input
from core.tasks.ct import ModelInfo
from core.volume import Volume

BG_LABELS = {"bg_left": "left", "bg_right": "right"}  # overlay label -> BG class
MR_LABELS = {"face": 0, "brain_loss": 1}  # overlay label -> skull-strip QC map index
ICH_MODEL = "ich_cnn"
BG_MODEL = "bg_laterality"


@dataclass(frozen=True)
class OverlayMap:
    """One map ready for `state.set_overlay(**m.settings())`."""

    kind: str
    label: str
    data: np.ndarray  # [z, y, x] float32 on the volume grid
    vmin: float
    vmax: float
    legend: str
    units: str  # what the colorbar's numbers mean
    slices: tuple[int, ...] | None = None

    def settings(self) -> dict[str, Any]:
        return dict(kind=self.kind, label=self.label, data=self.data, vmin=self.vmin, vmax=self.vmax,
                    legend=self.legend, slices=self.slices)


def units_for(kind: str | None, label: str | None) -> str:
    if kind == "occlusion":
        return f"drop in P({label}) when a patch is greyed out, 0 to the largest drop"
    if kind == "gradcam":
        return "Grad-CAM relative to the series peak"
    return ""


def model_legend(kind_title: str, model: ModelInfo) -> str:
    return f"{kind_title} - {model.name} {model.version} ({model.device})"


# -- what can be shown ---------------------------------------------------------------------------
def gradcam_labels(ich: Any = None, bg: Any = None, qc: Any = None) -> list[str]:
    """Overlay labels the current results can explain, in display order."""
    out: list[str] = []
    if ich is not None:
        out += list(ich.labels)
    if bg is not None:
        out += list(BG_LABELS)
    if qc is not None:
        out += list(MR_LABELS)
    return out


def occlusion_model_name(label: str) -> str | None:
    """Which slice model occlusion runs for a label (None: not available, e.g. the 3-D MRI model)."""
    if label in BG_LABELS:
        return BG_MODEL
    if label in MR_LABELS:
        return None
    return ICH_MODEL


# -- Grad-CAM ------------------------------------------------------------------------------------
def head_masks(volume: Volume) -> np.ndarray:
    """bool [z, y, x]: inside the skin outline of each CT slice (core's head_mask_2d, the occlusion's mask)."""
    return np.stack([head_mask_2d(sl) for sl in volume.voxels])


def gradcam_overlay(volume: Volume, label: str, ich: Any = None, bg: Any = None, qc: Any = None,
                    head: np.ndarray | None = None) -> OverlayMap:
    """The Grad-CAM of one label mapped to the volume grid, with its legend. KeyError when no result has it.

    CT maps are cut to the intracranial space (`head`, core.explain.intracranial_masks, computed when not
    given): an 8x8 map upsampled to 512x512 otherwise paints the scalp, the skull base and the air beside
    the skull, which reads as a finding outside the brain."""
    if ich is not None and label in ich.labels:
        data = gradcam_to_volume(ich.cam, ich.labels.index(label), volume, ich.grid)
        model = ich.models[0]  # the slice CNN makes the map (the BiLSTM has none)
    elif bg is not None and label in BG_LABELS:
        data = gradcam_to_volume(bg.cam, bg.classes.index(BG_LABELS[label]), volume, bg.grid)
        model = bg.model
    elif qc is not None and label in MR_LABELS:
        data = normalise(qc.cam_on_volume(MR_LABELS[label], volume))  # the model grid is 256 mm around the tissue
        model = qc.model
    else:
        raise KeyError(f"no result explains {label!r}")
    if label not in MR_LABELS:
        data *= head if head is not None else intracranial_masks(volume)
    return OverlayMap("gradcam", label, data, 0.0, 1.0, model_legend(f"Grad-CAM {label}", model), units_for("gradcam", label))


# -- occlusion -----------------------------------------------------------------------------------
def model_to_volume_slice(m: np.ndarray, volume: Volume, grid: ModelGrid | None = None) -> np.ndarray:
    """[H, W] model-grid map (radiological, 256x256) -> [y, x] on the volume grid (canonical): the inverse of where the
    models read the slice (`grid`, CTScorer.grid: display_slices plus any centring shift)."""
    return model_slice_to_volume(m, volume, grid=grid)


def occlusion_passes(hu_slice: np.ndarray, patch: int, stride: int, batch: int) -> int:
    """How many model runs `occlusion_map` will make for this slice (1 base + patch batches): for progress."""
    return 1 + (len(in_head_boxes(hu_slice, patch, stride)) + batch - 1) // batch


@dataclass
class SliceOcclusion:
    """Occlusion for every output of one model on one slice (so switching label needs no rerun)."""

    z: int
    model_name: str
    labels: tuple[str, ...]  # overlay labels, one per output class
    drop: np.ndarray  # [C, H, W] model grid, radiological
    base: np.ndarray  # [C] probabilities on the intact slice
    passes: int
    model: ModelInfo
    patch: int
    stride: int
    grid: ModelGrid | None = None  # where the occluded slice sat on the model grid (CTScorer.grid)


def occlusion_slice(model: Any, hu_slices: np.ndarray, z: int, patch: int = 32, stride: int = 16,
                    batch: int = 16, grid: ModelGrid | None = None) -> SliceOcclusion:
    """Run core.explain.occlusion_map on slice z of the model-grid HU stack (`CTScorer.slice_inputs`, read on
    `CTScorer.grid`: pass it, or a centred series' map lands shifted)."""
    name = model.card.name
    hu = hu_slices[z:z + 1]
    if name == BG_MODEL:
        image, labels = bg_input(hu)[0], ("bg_none", *BG_LABELS)
    else:
        image, labels = ich_input(hu)[0], tuple(model.card.labels)
    drop, base, passes = occlusion_map(model, image, hu[0], patch=patch, stride=stride, batch=batch)
    return SliceOcclusion(z, name, labels, drop, base, passes, ModelInfo.of(model), patch, stride, grid)


def occlusion_overlay(occ: SliceOcclusion, label: str, volume: Volume) -> OverlayMap:
    """One label's drop on slice occ.z as a [z, y, x] map that is zero except that slice."""
    j = occ.labels.index(label)
    data = np.zeros(volume.shape, np.float32)
    data[occ.z] = model_to_volume_slice(occ.drop[j], volume, occ.grid)
    vmax = float(max(data[occ.z].max(), 1e-3))
    title = f"Occlusion {label}, slice {occ.z}"
    return OverlayMap("occlusion", label, data, 0.0, vmax, model_legend(title, occ.model), units_for("occlusion", label), (occ.z,))


# -- cache ---------------------------------------------------------------------------------------
class OverlayCache:
    """Built maps per label. Grad-CAM maps are valid while the volume and results are the same objects;
    occlusion (all labels of one model on one slice) while the volume is the same."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self._volume: Any = None
        self._results: tuple[Any, ...] = (None, None, None)
        self._gradcam: dict[str, OverlayMap] = {}
        self._occlusion: dict[tuple[str, int], SliceOcclusion] = {}  # (model, z) -> all labels
        self._head: np.ndarray | None = None

    def _sync(self, volume: Any, results: tuple[Any, ...] | None = None) -> None:
        if volume is not self._volume:
            self._volume, self._gradcam, self._occlusion, self._head = volume, {}, {}, None
        if results is not None and any(a is not b for a, b in zip(results, self._results)):
            self._results, self._gradcam = results, {}

    def gradcam(self, volume: Volume, label: str, ich: Any = None, bg: Any = None, qc: Any = None) -> OverlayMap:
        self._sync(volume, (ich, bg, qc))
        if label not in self._gradcam:
            if self._head is None and label not in MR_LABELS:
                self._head = intracranial_masks(volume)
            self._gradcam[label] = gradcam_overlay(volume, label, ich, bg, qc, head=self._head)
        return self._gradcam[label]

    def occlusion(self, volume: Volume, label: str, z: int) -> SliceOcclusion | None:
        self._sync(volume)
        name = occlusion_model_name(label)
        return self._occlusion.get((name, z)) if name else None

    def put_occlusion(self, volume: Volume, occ: SliceOcclusion) -> None:
        self._sync(volume)
        self._occlusion[(occ.model_name, occ.z)] = occ


def threshold_fraction(overlay: Any) -> float:
    """Where the threshold sits in the current map's range (kept when switching maps of other units)."""
    span = float(overlay.vmax) - float(overlay.vmin)
    if span <= 0:
        return 0.2
    return float(np.clip((float(overlay.threshold) - float(overlay.vmin)) / span, 0.0, 1.0))


def apply_map(set_overlay: Callable[..., None], current: Any, m: OverlayMap) -> None:
    """Write a map into the state keeping the user's colormap, opacity and threshold position."""
    frac = threshold_fraction(current)
    set_overlay(**m.settings(), threshold=m.vmin + frac * (m.vmax - m.vmin), visible=True)
