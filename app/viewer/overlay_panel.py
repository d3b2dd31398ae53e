"""Overlay controls: which map (Grad-CAM or occlusion) for which label, colormap, opacity, the
threshold below which the map is transparent, a colorbar with values and units, visibility, the
legend naming kind, model, version and device, and occlusion for the current slice on demand
(computed in a worker thread with progress and cancel).

Everything is written into `ViewerState.overlay`; the views draw it. The panel follows the state
when something else (the findings panel, the CLI) changes the overlay.
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt, Slot
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QHBoxLayout, QLabel, QProgressBar, QPushButton,
                               QSlider, QStyle, QVBoxLayout, QWidget)

from app.viewer.findings import LABEL_TEXT, overlay_cache, scrolled
from app.viewer.overlays import (BG_LABELS, MR_LABELS, SliceOcclusion, apply_map, gradcam_labels, occlusion_model_name,
                                 occlusion_overlay, occlusion_passes, occlusion_slice, threshold_fraction, units_for)
from app.viewer.scoring import BackgroundRunner, Job, WatchedCTScorer, WatchedModel, shared_ct_scorer, task_for
from core.tasks.ct import ICH_LABELS

COLORMAPS = ("inferno", "magma", "plasma", "viridis", "turbo", "CET-L3")  # pyqtgraph colormap names
COLORBAR_PIXELS = 256  # ColorBarItem draws its 256-entry lookup table in pixel coordinates
KINDS = (("gradcam", "Grad-CAM"), ("occlusion", "Occlusion"))
OCCLUSION_GRIDS = (("fine: patch 32, stride 16", 32, 16), ("coarse: patch 32, stride 32", 32, 32))  # model-grid pixels (256)


class OverlayPanel(QWidget):
    """OverlayPanel(state, scorer=None, parent=None): `scorer` is the CT scorer whose open sessions
    occlusion uses (default: the process-wide one the findings panel also uses). `toggle()` flips
    visibility (bind the toggle key to it); `run_occlusion()` is the button; `shutdown()` on close."""

    def __init__(self, state: Any, scorer: WatchedCTScorer | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.scorer = scorer or shared_ct_scorer()
        self.cache = overlay_cache(state)
        self.occlusion_runner = BackgroundRunner(self)
        self.last_occlusion: SliceOcclusion | None = None
        self._syncing = False
        self._occ_request: tuple[Any, str, int] | None = None

        self.kind = QComboBox()
        for key, text in KINDS:
            self.kind.addItem(text, key)
        self.label = QComboBox()
        self.cmap = QComboBox()
        for name in COLORMAPS:
            self.cmap.addItem(name, name)
        self.opacity = QSlider(Qt.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity_value = QLabel()
        self.threshold = QSlider(Qt.Horizontal)
        self.threshold.setRange(0, 100)
        self.threshold.setToolTip("Map values at or below this are transparent (position within the colour scale)")
        self.threshold_value = QLabel()
        for w in (self.opacity_value, self.threshold_value):
            w.setMinimumWidth(w.fontMetrics().horizontalAdvance("0.0000"))
        self.visible = QCheckBox("Show overlay")
        self.legend = QLabel("No overlay")
        self.legend.setWordWrap(True)
        self.legend.setStyleSheet("font-weight: bold;")
        self.note = QLabel("")
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #9aa0a6;")

        self.colorbar_view = pg.GraphicsLayoutWidget()
        self.colorbar_view.setFixedHeight(52)
        self.colorbar = pg.ColorBarItem(values=(0.0, 1.0), colorMap=pg.colormap.get("inferno"), interactive=False,
                                        orientation="horizontal", rounding=1e-4, width=16, colorMapMenu=False)
        self.colorbar_view.addItem(self.colorbar)
        self.colorbar.getAxis("bottom").enableAutoSIPrefix(False)  # probability drops stay 0.1, not "100 m"
        self.units = QLabel("")  # what the colorbar's numbers are
        self.units.setWordWrap(True)
        self.colorbar_threshold = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#00e5ff", width=2))
        self.colorbar.addItem(self.colorbar_threshold)

        self.occlusion_button = QPushButton("Occlusion (current slice)")
        self.occlusion_button.setToolTip("Grey out patches of this slice and measure the drop in the model's probability")
        self.occlusion_grid = QComboBox()
        for text, patch, stride in OCCLUSION_GRIDS:
            self.occlusion_grid.addItem(text, (patch, stride))
        self.occlusion_cancel = QPushButton("Cancel")
        self.occlusion_cancel.setEnabled(False)
        self.occlusion_progress = QProgressBar()
        self.occlusion_progress.setRange(0, 1)
        self.occlusion_progress.setValue(0)
        self.occlusion_status = QLabel("")
        self.occlusion_status.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Map", self.kind)
        form.addRow("Label", self.label)
        form.addRow("Colormap", self.cmap)
        row = QHBoxLayout()
        row.addWidget(self.opacity, 1)
        row.addWidget(self.opacity_value)
        form.addRow("Opacity", row)
        row = QHBoxLayout()
        row.addWidget(self.threshold, 1)
        row.addWidget(self.threshold_value)
        form.addRow("Threshold", row)
        occ = QHBoxLayout()
        occ.addWidget(self.occlusion_button)
        occ.addWidget(self.occlusion_grid)
        occ.addWidget(self.occlusion_cancel)
        self._page = scrolled(self)
        layout = QVBoxLayout(self._page)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.legend)
        layout.addWidget(self.visible)
        layout.addLayout(form)
        layout.addWidget(self.colorbar_view)
        layout.addWidget(self.units)
        layout.addWidget(self.note)
        layout.addLayout(occ)
        layout.addWidget(self.occlusion_progress)
        layout.addWidget(self.occlusion_status)
        layout.addStretch(1)

        self.kind.activated.connect(self._kind_chosen)
        self.label.activated.connect(self._label_chosen)
        self.cmap.activated.connect(lambda _i: self.state.set_overlay(cmap=self.cmap.currentData()))
        self.opacity.valueChanged.connect(self._opacity_moved)
        self.threshold.valueChanged.connect(self._threshold_moved)
        self.visible.toggled.connect(self._visible_toggled)
        self.occlusion_button.clicked.connect(lambda: self.run_occlusion())
        self.occlusion_cancel.clicked.connect(self.occlusion_runner.cancel)
        r = self.occlusion_runner
        r.started.connect(self._occ_started)
        r.progress.connect(self._occ_progress)
        r.succeeded.connect(self._occ_done)
        r.failed.connect(self._occ_failed)
        r.cancelled.connect(lambda: self.occlusion_status.setText("Occlusion cancelled"))
        r.finished.connect(self._occ_finished)
        state.overlayChanged.connect(self.sync_from_state)
        state.findingsChanged.connect(self._fill_labels)
        state.volumeChanged.connect(self._volume_changed)
        state.cursorChanged.connect(self._cursor_moved)
        self._volume_changed()

    def sizeHint(self) -> QSize:  # noqa: N802 - the docks start at the size the controls need; they scroll when made smaller
        return self._page.sizeHint() + QSize(self.style().pixelMetric(QStyle.PM_ScrollBarExtent), 2)

    # -- public ---------------------------------------------------------------------------------
    @Slot()
    def toggle(self) -> None:
        """Show / hide the overlay (the viewer's toggle key calls this)."""
        self.state.set_overlay(visible=not self.state.overlay.visible)

    def shutdown(self) -> None:
        self.occlusion_runner.shutdown()

    def current_label(self) -> str | None:
        return self.label.currentData()

    def show_gradcam(self, label: str) -> bool:
        """Grad-CAM of a label from the state's results; False (with a note) when there are none yet."""
        st = self.state
        if st.volume is None or label not in gradcam_labels(st.ich, st.bg, st.qc):
            self.note.setText("Run the AI first: Grad-CAM comes with the findings.")
            return False
        apply_map(st.set_overlay, st.overlay, self.cache.gradcam(st.volume, label, st.ich, st.bg, st.qc))
        return True

    def run_occlusion(self, label: str | None = None, z: int | None = None) -> bool:
        """Occlusion for one label on slice z (default: the current label and slice), in the background.
        Uses the cached map when this slice was done already. False when nothing started."""
        st = self.state
        if st.volume is None:
            return False
        label = label or self.current_label() or "any"
        z = st.cursor[0] if z is None else int(z)
        name = occlusion_model_name(label)
        if name is None or task_for(st.volume) != "ct":
            self.occlusion_status.setText("Occlusion is available for the CT slice models only")
            return False
        cached = self.cache.occlusion(st.volume, label, z)
        if cached is not None:
            self._show_occlusion(cached, label)
            return False
        patch, stride = self.occlusion_grid.currentData()
        volume, scorer = st.volume, self.scorer

        def work(job: Job) -> SliceOcclusion:
            from core.models.preprocess import check_ct_series

            check_ct_series(volume, "occlusion")
            job.report("loading model", 0, 1)
            model = scorer.raw_model(name)
            hu = scorer.slice_inputs(volume)  # a thin slice's slab: what the scores came from
            grid = scorer.grid(volume)  # where it sat on the model grid (a centred series): the map goes back through it
            total = occlusion_passes(hu[z], patch, stride, 16)
            step = 0

            def before_run(_name: str) -> None:
                nonlocal step
                job.report(f"occlusion, slice {z}", step, total)
                step += 1

            return occlusion_slice(WatchedModel(model, before_run), hu, z, patch=patch, stride=stride, batch=16, grid=grid)

        self._occ_request = (volume, label, z)
        return self.occlusion_runner.start(work)

    # -- state -> widgets -----------------------------------------------------------------------
    def _volume_changed(self) -> None:
        self._fill_labels()
        self.occlusion_status.setText("")
        self.occlusion_progress.setRange(0, 1)
        self.occlusion_progress.setValue(0)
        self.sync_from_state()

    def _label_choices(self) -> list[str]:
        st = self.state
        if st.volume is None:
            return []
        if task_for(st.volume) == "mr":
            return list(MR_LABELS)
        labels = list(st.ich.labels) if st.ich is not None else list(ICH_LABELS)
        return labels + list(BG_LABELS)

    def _fill_labels(self) -> None:
        current = self.state.overlay.label or self.current_label()
        self._syncing = True
        try:
            self.label.clear()
            for lab in self._label_choices():
                self.label.addItem(LABEL_TEXT.get(lab, lab), lab)
            i = self.label.findData(current)
            self.label.setCurrentIndex(i if i >= 0 else (self.label.findData("subdural") if self.label.findData("subdural") >= 0 else 0))
        finally:
            self._syncing = False
        self._update_enabled()

    def _update_enabled(self) -> None:
        st = self.state
        has_volume = st.volume is not None
        is_ct = has_volume and task_for(st.volume) == "ct"
        self.occlusion_button.setEnabled(is_ct and not self.occlusion_runner.is_running())
        self.occlusion_grid.setEnabled(is_ct)
        for w in (self.kind, self.label, self.cmap, self.opacity, self.threshold, self.visible):
            w.setEnabled(has_volume)

    @Slot()
    def sync_from_state(self) -> None:
        o = self.state.overlay
        self._syncing = True
        try:
            if o.kind is not None:
                self.kind.setCurrentIndex(max(self.kind.findData(o.kind), 0))
            if o.label is not None and self.label.findData(o.label) >= 0:
                self.label.setCurrentIndex(self.label.findData(o.label))
            i = self.cmap.findData(o.cmap)
            if i < 0:
                self.cmap.addItem(o.cmap, o.cmap)
                i = self.cmap.count() - 1
            self.cmap.setCurrentIndex(i)
            self.opacity.setValue(round(o.opacity * 100))
            self.threshold.setValue(round(threshold_fraction(o) * 100))
            self.visible.setChecked(o.visible)
        finally:
            self._syncing = False
        self.opacity_value.setText(f"{o.opacity:.2f}")
        self.threshold_value.setText(f"{o.threshold:.3g}")
        has_map = o.data is not None
        self.legend.setText(o.legend if has_map and o.legend else "No overlay: choose a finding or run occlusion")
        try:
            cmap = pg.colormap.get(o.cmap)
        except Exception:  # a name pyqtgraph does not know: keep the last bar, say so
            self.note.setText(f"unknown colormap {o.cmap!r}")
        else:
            self.colorbar.setColorMap(cmap)
        self.colorbar.setLevels((o.vmin, o.vmax))
        self.units.setText(f"Colour scale: {units_for(o.kind, o.label)} ({o.vmin:.3g} to {o.vmax:.3g})" if has_map else "")
        self.colorbar_threshold.setValue(COLORBAR_PIXELS * threshold_fraction(o))  # the bar's own coordinates are its 256 pixels
        self.colorbar_threshold.setVisible(has_map)
        if has_map and o.kind == "occlusion" and o.slices:
            self.note.setText(f"Occlusion covers slice {', '.join(map(str, o.slices))} only; transparent at or below {o.threshold:.3g} "
                              f"(negative drops, where greying raised P, are not shown).")
        elif has_map:
            cells = (f" Cells of the slice CNN are ~{self._cell_mm():.0f} mm: the map says roughly where, not the lesion's outline;"
                     " shown inside the head outline only." if o.label not in MR_LABELS else "")
            self.note.setText(f"Transparent at or below {o.threshold:.3g}.{cells}")
        else:
            self.note.setText("")
        self._update_enabled()

    def _cell_mm(self) -> float:
        """Width in mm of one Grad-CAM cell of the slice CNN on this volume (the map's resolution)."""
        st = self.state
        res = st.ich if st.ich is not None else st.bg
        if st.volume is None or res is None:
            return 0.0
        return st.volume.spacing[2] * st.volume.shape[2] / res.cam.shape[-1]

    def _cursor_moved(self) -> None:
        """An occlusion map covers one slice: on another slice show that slice's map if it was computed."""
        st = self.state
        o = st.overlay
        if o.kind != "occlusion" or st.volume is None or o.label is None:
            return
        z = st.cursor[0]
        if o.slices is not None and z in o.slices:
            return
        cached = self.cache.occlusion(st.volume, o.label, z)
        if cached is not None:
            self._show_occlusion(cached, o.label)

    # -- widgets -> state -----------------------------------------------------------------------
    def _kind_chosen(self, _index: int) -> None:
        label = self.current_label()
        if label is None:
            return
        if self.kind.currentData() == "gradcam":
            if not self.show_gradcam(label):
                self.sync_from_state()
        else:
            self.run_occlusion(label)
            self.sync_from_state()  # the combo returns to what is shown until the map arrives

    def _label_chosen(self, _index: int) -> None:
        label = self.current_label()
        if label is None:
            return
        if self.kind.currentData() == "occlusion":
            cached = self.cache.occlusion(self.state.volume, label, self.state.cursor[0]) if self.state.volume is not None else None
            if cached is not None:
                self._show_occlusion(cached, label)
            else:
                self.occlusion_status.setText(f"Press 'Occlusion (current slice)' for {LABEL_TEXT.get(label, label)} on slice {self.state.cursor[0]}")
        else:
            self.show_gradcam(label)

    def _opacity_moved(self, value: int) -> None:
        self.opacity_value.setText(f"{value / 100:.2f}")
        if not self._syncing:
            self.state.set_overlay(opacity=value / 100.0)

    def _threshold_moved(self, value: int) -> None:
        if self._syncing:
            return
        o = self.state.overlay
        self.state.set_overlay(threshold=o.vmin + value / 100.0 * (o.vmax - o.vmin))

    def _visible_toggled(self, on: bool) -> None:
        if not self._syncing and on != self.state.overlay.visible:
            self.state.set_overlay(visible=on)

    # -- occlusion feedback ---------------------------------------------------------------------
    def _show_occlusion(self, occ: SliceOcclusion, label: str) -> None:
        st = self.state
        self.last_occlusion = occ
        apply_map(st.set_overlay, st.overlay, occlusion_overlay(occ, label, st.volume))
        j = occ.labels.index(label)
        self.occlusion_status.setText(f"Slice {occ.z}: P({label}) {occ.base[j]:.3f} intact; {occ.passes} model runs, "
                                      f"patch {occ.patch} / stride {occ.stride} px at 256")

    def _occ_started(self) -> None:
        self.occlusion_button.setEnabled(False)
        self.occlusion_cancel.setEnabled(True)
        self.occlusion_progress.setRange(0, 0)
        self.occlusion_status.setText("Occlusion: starting...")

    def _occ_progress(self, stage: str, done: int, total: int) -> None:
        self.occlusion_progress.setRange(0, max(total, 1))
        self.occlusion_progress.setValue(done)
        self.occlusion_status.setText(f"{stage}: {done}/{total} batches")

    def _occ_done(self, occ: SliceOcclusion) -> None:
        volume, label, _z = self._occ_request or (None, None, None)
        if volume is None:
            return
        self.cache.put_occlusion(volume, occ)
        if volume is self.state.volume:
            self._show_occlusion(occ, label)
        else:
            self.occlusion_status.setText("Occlusion discarded: another series was opened")

    def _occ_failed(self, message: str) -> None:
        self.occlusion_status.setText(f"Occlusion failed: {message}")

    def _occ_finished(self, status: str) -> None:
        self.occlusion_cancel.setEnabled(False)
        self.occlusion_progress.setRange(0, 1)
        self.occlusion_progress.setValue(1 if status == "done" else 0)
        self._update_enabled()
