"""The viewer's model (napari's split): one `ViewerState` holds what is shown, views and panels
subscribe to its signals and never talk to each other. No widgets here, no business logic in widgets.

Coordinates: the cursor is a voxel index (z, y, x) on the loaded `Volume`'s canonical grid (R, A, S);
views derive their radiological display flips from the volume's affine.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from core.imaging.windows import PRESETS, auto_window
from core.volume import Volume, Window

OVERLAY_KINDS = ("gradcam", "occlusion")
SLAB_MODES = ("mip", "minip", "avg")
TOOLS = ("ruler", "ellipse", "freehand", "angle")


@dataclass(frozen=True)
class MprSettings:
    """How the 2-D planes sample the volume: `interp` 'linear' (between slices, across thick slices) or
    'nearest'; a slab of `slab_mm` (0: a single slice) reduced by `slab_mode` (mip, minip, avg)."""

    interp: str = "linear"
    slab_mm: float = 0.0
    slab_mode: str = "mip"


@dataclass(frozen=True)
class CornerSettings:
    """Corner text: shown or not, anonymised (no patient lines), and the fields of each corner
    (names from `app.viewer.corner_text.FIELDS`)."""

    visible: bool = True
    anonymised: bool = False
    fields: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (corner, field names); () = the defaults


@dataclass(frozen=True)
class OverlaySettings:
    """How a heat map is drawn. `data` is [z, y, x] on the volume's grid (None: nothing to draw);
    values at or below `threshold` (in the map's own units) are transparent."""

    kind: str | None = None  # 'gradcam' | 'occlusion' | None
    label: str | None = None  # e.g. 'subdural'
    data: np.ndarray | None = None
    cmap: str = "inferno"
    opacity: float = 0.5
    threshold: float = 0.2
    vmin: float = 0.0
    vmax: float = 1.0
    visible: bool = True
    legend: str = ""  # e.g. "Grad-CAM subdural - ich_cnn 0.1.0 (CPU)"
    slices: tuple[int, ...] | None = None  # occlusion: the slices the map covers (None: all)


class ViewerState(QObject):
    volumeChanged = Signal()
    cursorChanged = Signal()
    windowChanged = Signal()
    overlayChanged = Signal()
    findingsChanged = Signal()
    mprChanged = Signal()
    cornerChanged = Signal()
    annotationsChanged = Signal()
    toolChanged = Signal()
    obliqueChanged = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.volume: Volume | None = None
        self.cursor: tuple[int, int, int] = (0, 0, 0)
        self.window: Window = PRESETS["brain"]
        self.preset: str | None = "brain"  # a PRESETS key, 'dicom', 'auto', or None after a manual drag
        self.overlay = OverlaySettings()
        self.ich: Any = None  # core.tasks.ICHResult
        self.bg: Any = None  # core.tasks.BGResult
        self.qc: Any = None  # core.tasks.skullstrip.SkullStripResult
        self.mpr = MprSettings()
        self.corner = CornerSettings()
        self.tool: str | None = None  # one of TOOLS while a measuring tool is on
        self.annotations: list = []  # app.viewer.measure.Annotation of this series (all planes and slices)
        self.oblique_deg = 0.0  # tilt of the oblique plane about the left-right axis (app.viewer.oblique)
        self.oblique_shown = False  # the oblique view is on screen (the sagittal view draws its trace)
        self.facts: dict[str, str] = {}  # study facts for the corner text (app.viewer.header_facts.series_facts)

    # -- volume ---------------------------------------------------------------------------------
    def set_volume(self, volume: Volume | None) -> None:
        self.volume = volume
        self.ich = self.bg = self.qc = None
        self.overlay = OverlaySettings()
        self.annotations = []
        self.facts = {}
        if volume is not None:
            nz, ny, nx = volume.shape
            self.cursor = (nz // 2, ny // 2, nx // 2)
            if volume.modality == "CT":
                self.window, self.preset = PRESETS["brain"], "brain"
            else:
                self.window, self.preset = auto_window(volume.voxels), "auto"
        self.volumeChanged.emit()
        self.windowChanged.emit()
        self.overlayChanged.emit()
        self.findingsChanged.emit()
        self.annotationsChanged.emit()
        self.cursorChanged.emit()

    # -- cursor ---------------------------------------------------------------------------------
    def set_cursor(self, z: int | None = None, y: int | None = None, x: int | None = None) -> None:
        if self.volume is None:
            return
        nz, ny, nx = self.volume.shape
        cz, cy, cx = self.cursor
        new = (int(np.clip(cz if z is None else z, 0, nz - 1)), int(np.clip(cy if y is None else y, 0, ny - 1)),
               int(np.clip(cx if x is None else x, 0, nx - 1)))
        if new != self.cursor:
            self.cursor = new
            self.cursorChanged.emit()

    # -- window ---------------------------------------------------------------------------------
    def set_window(self, window: Window, preset: str | None = None) -> None:
        self.window, self.preset = Window(width=max(float(window.width), 1.0), level=float(window.level)), preset
        self.windowChanged.emit()

    def set_preset(self, name: str) -> None:
        """A PRESETS key, 'dicom' (the file's own window, when it has one) or 'auto'."""
        if name in PRESETS:
            self.set_window(PRESETS[name], name)
        elif name == "dicom" and self.volume is not None and self.volume.window is not None:
            self.set_window(self.volume.window, "dicom")
        elif name in ("auto", "dicom") and self.volume is not None:
            self.set_window(auto_window(self.volume.voxels), "auto")

    # -- overlay --------------------------------------------------------------------------------
    def set_overlay(self, **changes: Any) -> None:
        self.overlay = replace(self.overlay, **changes)
        self.overlayChanged.emit()

    # -- findings -------------------------------------------------------------------------------
    def set_findings(self, **results: Any) -> None:
        """ich=, bg=, qc= results from core.tasks (None clears)."""
        for key, value in results.items():
            if key not in ("ich", "bg", "qc"):
                raise KeyError(key)
            setattr(self, key, value)
        self.findingsChanged.emit()

    # -- MPR, corner text, tools, annotations -------------------------------------------------------
    def set_mpr(self, **changes: Any) -> None:
        new = replace(self.mpr, **changes)
        if new.interp not in ("linear", "nearest") or new.slab_mode not in SLAB_MODES or new.slab_mm < 0:
            raise ValueError(f"bad MPR settings {new}")
        self.mpr = new
        self.mprChanged.emit()

    def set_corner(self, **changes: Any) -> None:
        self.corner = replace(self.corner, **changes)
        self.cornerChanged.emit()

    def set_oblique(self, deg: float | None = None, shown: bool | None = None) -> None:
        if deg is not None:
            self.oblique_deg = float(np.clip(deg, -90.0, 90.0))
        if shown is not None:
            self.oblique_shown = bool(shown)
        self.obliqueChanged.emit()

    def set_facts(self, facts: dict[str, str]) -> None:
        self.facts = dict(facts)
        self.cornerChanged.emit()

    def set_tool(self, tool: str | None) -> None:
        if tool is not None and tool not in TOOLS:
            raise ValueError(f"unknown tool {tool!r}; one of {TOOLS}")
        self.tool = tool
        self.toolChanged.emit()

    def set_annotations(self, annotations: list) -> None:
        self.annotations = list(annotations)
        self.annotationsChanged.emit()

    def add_annotation(self, annotation) -> None:
        self.annotations = self.annotations + [annotation]
        self.annotationsChanged.emit()

    def remove_annotation(self, ann_id: str) -> None:
        self.annotations = [a for a in self.annotations if a.id != ann_id]
        self.annotationsChanged.emit()
