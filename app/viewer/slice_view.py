"""One 2-D slice view (axial, coronal or sagittal) drawn with pyqtgraph ImageItems.

It subscribes to a `ViewerState` and writes back only through it (cursor, window), so the three
views stay linked without knowing each other. The image is float HU with the window as ImageItem
levels (a W/L change re-renders without touching the data); the heat map is a second ImageItem
with a colormap LUT whose alpha is 0 at or below the threshold. Display units are millimetres, so
5 mm slices look 5 mm thick in coronal and sagittal views.

Mouse: wheel scrolls, Ctrl+wheel zooms, left/middle drag pans, right drag changes W/L,
Shift+left click/drag moves the crosshair; with a measuring tool on (state.tool) left drag draws a ruler,
an ellipse or a freehand ROI, and three clicks an angle. Measurements live in the state (the panel lists
them, the window stores them); a view draws those of its plane and slice.

Through-slice sampling follows `state.mpr`: 'linear' interpolates thick voxels (coronal/sagittal of 5 mm
axial slices) to about the in-plane pixel size, 'nearest' shows the voxels; a slab (MIP/MinIP/average over
slab_mm) replaces the single slice. Corner text comes from `app.viewer.corner_text`.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QTransform
from PySide6.QtWidgets import QLabel, QWidget

from app.viewer import measure
from app.viewer.corner_text import CornerContext, render
from app.viewer.planes import LinearUpsampler, Plane, extract_slab, plane, slab_count, upsample_factors
from app.viewer.state import ViewerState
from core.imaging.windows import PRESET_TITLES
from core.volume import Window

PLANE_COLORS = {"axial": "#e35d5d", "coronal": "#5dbb63", "sagittal": "#e0c341"}  # Slicer's red/green/yellow
TEXT_STYLE = ("color: #f0f0f0; background: rgba(0, 0, 0, 110); padding: 1px 4px; "
              "font-family: 'DejaVu Sans Mono', monospace; font-size: 11px;")
PROCESS_T0 = time.perf_counter()
COMPACT_WIDTH = 330  # px: narrower panes get the short corner-text forms


def overlay_lut(cmap: str, threshold: float, vmin: float, vmax: float, n: int = 256) -> np.ndarray:
    """RGBA uint8 [n, 4]: the colormap, alpha 255 above the threshold and 0 at or below it.
    pyqtgraph maps value v to entry floor((v - vmin) / (vmax - vmin) * n)."""
    try:
        cm = pg.colormap.get(cmap)
    except Exception:  # unknown name: a plain hot ramp, said in the legend by the panel
        cm = pg.ColorMap([0.0, 0.5, 1.0], [(0, 0, 0), (255, 80, 0), (255, 255, 0)])
    lut = np.asarray(cm.getLookupTable(0.0, 1.0, n, alpha=True), dtype=np.uint8).copy()
    span = max(float(vmax) - float(vmin), 1e-12)
    values = float(vmin) + (np.arange(n) + 1) / n * span  # the top of each entry's value range
    lut[:, 3] = np.where(values > float(threshold), 255, 0).astype(np.uint8)
    return lut


def _argb32(lut_rgba: np.ndarray) -> np.ndarray:
    """RGBA uint8 [n, 4] -> premultiplied ARGB32 words [n] (QImage's fast drawing format)."""
    lut = lut_rgba.astype(np.uint32)
    a = lut[:, 3]
    r, g, b = ((lut[:, k] * a + 127) // 255 for k in range(3))
    return ((a << 24) | (r << 16) | (g << 8) | b).astype(np.uint32)


GREY_LUT = _argb32(np.column_stack([np.arange(256)] * 3 + [np.full(256, 255)]).astype(np.uint8))


class _PaintReadyImage(pg.ImageItem):
    """ImageItem that renders a float slice straight to a premultiplied ARGB32 QImage: one
    scale-and-clip to the 256-entry LUT index, one table look-up. pyqtgraph's own path makes
    Grayscale8/Indexed8 images, which Qt converts again on every paint."""

    def __init__(self, opaque: bool) -> None:
        super().__init__(axisOrder="row-major")
        self.lut32 = GREY_LUT
        # an opaque format lets QPainter copy instead of blend (the CT image); the heat map blends
        self._fmt = QImage.Format_RGB32 if opaque else QImage.Format_ARGB32_Premultiplied
        self._buf: np.ndarray | None = None
        self._argb: np.ndarray | None = None

    def set_lut_rgba(self, lut_rgba: np.ndarray) -> None:
        self.lut32 = _argb32(lut_rgba)
        self._renderRequired = True
        self.update()

    def render(self) -> None:
        img, levels = self.image, self.levels
        if img is None or levels is None or img.ndim != 2:
            return super().render()
        lo, hi = float(levels[0]), float(levels[1])
        scale = np.float32(255.0 / max(hi - lo, 1e-12))
        if self._buf is None or self._buf.shape != img.shape:
            self._buf = np.empty(img.shape, dtype=np.float32)
        buf = self._buf
        np.multiply(img, scale, out=buf, dtype=np.float32)
        buf += np.float32(0.5 - lo * scale)  # +0.5: round to nearest, as core.imaging.windows.apply_window
        np.clip(buf, 0.0, 255.0, out=buf)
        self._argb = self.lut32.take(buf.astype(np.uint8))
        h, w = img.shape
        self.qimage = QImage(self._argb.data, w, h, w * 4, self._fmt)
        self._renderRequired = False
        self._unrenderable = False


class _SliceViewBox(pg.ViewBox):
    """ViewBox with the viewer's mouse map (see the module docstring)."""

    def __init__(self, view: "SliceView") -> None:
        super().__init__(lockAspect=True, invertY=True, enableMenu=False, defaultPadding=0.0)
        self._view = view
        self._wl_start: tuple[float, float] | None = None
        self._wheel = 0

    def wheelEvent(self, ev, axis=None):  # noqa: N802 (Qt naming)
        if ev.modifiers() & Qt.ControlModifier:
            super().wheelEvent(ev, axis)
            return
        # one slice per wheel notch (120); touchpads send small deltas, which add up to notches
        self._wheel += ev.delta()
        steps = int(self._wheel / 120)
        if steps:
            self._wheel -= steps * 120
            self._view.step(steps)
        ev.accept()

    def mouseClickEvent(self, ev):  # noqa: N802
        self._view.activate()
        if ev.button() == Qt.LeftButton and self._view.state.tool == "angle" and not ev.double():
            self._view.click_angle(self.mapToView(ev.pos()))
            ev.accept()
        elif ev.button() == Qt.LeftButton and ev.modifiers() & Qt.ShiftModifier:
            self._view.set_cursor_at(self.mapToView(ev.pos()))
            ev.accept()
        elif ev.button() == Qt.LeftButton and ev.double():
            self._view.doubleClicked.emit(self._view.orientation)
            ev.accept()
        else:
            ev.ignore()

    def mouseDragEvent(self, ev, axis=None):  # noqa: N802
        v = self._view
        if ev.isStart():
            v.activate()
        if ev.button() == Qt.RightButton:
            ev.accept()
            v.drag_window(ev)
        elif ev.button() == Qt.LeftButton and ev.modifiers() & Qt.ShiftModifier:
            ev.accept()
            v.set_cursor_at(self.mapToView(ev.pos()))
        elif ev.button() == Qt.LeftButton and v.state.tool in ("ruler", "ellipse", "freehand"):
            ev.accept()
            v.drag_tool(self.mapToView(ev.buttonDownPos()), self.mapToView(ev.pos()), ev.isStart(), ev.isFinish())
        else:
            super().mouseDragEvent(ev, axis)  # pan (left/middle)


class SliceView(pg.GraphicsView):
    """A linked 2-D view of one plane of `state.volume`."""

    activated = Signal(str)  # orientation, when the user clicks/drags/scrolls in it
    doubleClicked = Signal(str)
    firstPainted = Signal(float)  # seconds since the viewer module loaded (the process start, roughly)

    def __init__(self, state: ViewerState, orientation: str, parent: QWidget | None = None) -> None:
        super().__init__(parent, background="k")
        self.state = state
        self.orientation = orientation
        self.plane: Plane | None = None
        self.show_crosshair = True
        self.active = False
        self._index = -1
        self._hover: tuple[int, int, int] | None = None
        self._live: list[tuple[float, float]] = []  # points of the measurement being drawn
        self._ann_items: list = []
        self._upsample = LinearUpsampler()
        self._factors = (0, 0)
        self._painted_once = False
        self._lut_key: tuple | None = None
        self.setMinimumSize(160, 160)
        self.setFocusPolicy(Qt.ClickFocus)

        self.vb = _SliceViewBox(self)
        self.setCentralItem(self.vb)
        self.image = _PaintReadyImage(opaque=True)
        self.overlay = _PaintReadyImage(opaque=False)
        self.overlay.setZValue(10)
        self.vb.addItem(self.image)
        self.vb.addItem(self.overlay)
        h_color, v_color = self._line_colors()
        self.hline = pg.InfiniteLine(angle=0, movable=False, pen=pg.mkPen(h_color, width=1))
        self.vline = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(v_color, width=1))
        for line in (self.hline, self.vline):
            line.setZValue(20)
            self.vb.addItem(line, ignoreBounds=True)
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)

        self.labels: dict[str, QLabel] = {}
        for key in ("tl", "tr", "bl", "br", "top", "bottom", "left", "right"):
            lab = QLabel(self)
            lab.setAttribute(Qt.WA_TransparentForMouseEvents)
            lab.setStyleSheet(TEXT_STYLE)
            if key in ("top", "bottom", "left", "right"):
                lab.setStyleSheet(TEXT_STYLE + "font-size: 14px; font-weight: bold; color: #ffd27f;")
            lab.hide()
            self.labels[key] = lab
        self._set_border()

        state.volumeChanged.connect(self._on_volume)
        state.cursorChanged.connect(self._on_cursor)
        state.windowChanged.connect(self._on_window)
        state.overlayChanged.connect(self._on_overlay)
        state.mprChanged.connect(self._on_mpr)
        state.cornerChanged.connect(self._update_text)
        state.toolChanged.connect(self._on_tool)
        state.annotationsChanged.connect(self._draw_annotations)
        self.oblique_line = pg.PlotCurveItem(pen=pg.mkPen("#c58cff", width=1, style=Qt.DashLine))
        self.oblique_line.setZValue(21)
        self.oblique_line.setVisible(False)
        self.vb.addItem(self.oblique_line, ignoreBounds=True)
        if orientation == "sagittal":  # the oblique plane's trace: it tilts about the left-right axis
            state.obliqueChanged.connect(self._draw_oblique_trace)
        if state.volume is not None:
            self._on_volume()

    # -- state -> view --------------------------------------------------------------------------
    def _line_colors(self) -> tuple[str, str]:
        """The horizontal and vertical crosshair lines mark the other two planes (their colours)."""
        others = {"axial": ("coronal", "sagittal"), "coronal": ("axial", "sagittal"), "sagittal": ("axial", "coronal")}
        h, v = others[self.orientation]
        return PLANE_COLORS[h], PLANE_COLORS[v]

    def _on_volume(self) -> None:
        vol = self.state.volume
        self._live = []
        self._clear_ann_items()
        self._index = -1
        self._factors = (0, 0)
        if vol is None:
            self.plane = None
            self.image.clear()
            self.overlay.clear()
            self._update_text()
            return
        self.plane = plane(vol.affine, vol.shape, self.orientation)
        scale = QTransform.fromScale(self.plane.col_mm, self.plane.row_mm)  # pixels -> mm (setRect needs an image)
        self.overlay.setTransform(scale)  # the heat map stays on the voxel grid (it is coarse anyway)
        self._redraw_slice()
        self._on_window()
        self.fit()
        self._on_cursor()

    def _on_cursor(self) -> None:
        if self.plane is None:
            return
        idx = self.state.cursor[self.plane.axis]
        if idx != self._index:
            self._redraw_slice()
        x, y = self.plane.to_display(self.state.cursor)
        self.vline.setPos(x)
        self.hline.setPos(y)
        self.vline.setVisible(self.show_crosshair)
        self.hline.setVisible(self.show_crosshair)
        if self.orientation == "sagittal" and self.state.oblique_shown:
            self._draw_oblique_trace()
        self._update_text()

    def _redraw_slice(self) -> None:
        p, vol = self.plane, self.state.volume
        if p is None or vol is None:
            return
        self._index = self.state.cursor[p.axis]
        w, mpr = self.state.window, self.state.mpr
        img = extract_slab(p, vol.voxels, self._index, mpr.slab_mm, mpr.slab_mode)
        kr, kc = upsample_factors(p) if mpr.interp == "linear" else (1, 1)
        if (kr, kc) != self._factors:  # display pixels -> mm for this sampling
            self.image.setTransform(QTransform.fromScale(p.col_mm / kc, p.row_mm / kr))
            self._factors = (kr, kc)
        self.image.setImage(self._upsample(img, kr, kc), autoLevels=False, levels=(w.low, w.high))
        self._draw_overlay()
        self._draw_annotations()

    def _draw_oblique_trace(self) -> None:
        vol, p = self.state.volume, self.plane
        if vol is None or p is None or not self.state.oblique_shown:
            self.oblique_line.setVisible(False)
            return
        from app.viewer.oblique import oblique_axes

        _right, down, _n = oblique_axes(self.state.oblique_deg, vol.affine)
        c = vol.index_to_world(np.asarray(self.state.cursor, dtype=float))
        ends = vol.world_to_index(np.stack([c - 400 * down, c + 400 * down]))
        pts = [p.to_display(tuple(e)) for e in ends]
        self.oblique_line.setData([q[0] for q in pts], [q[1] for q in pts])
        self.oblique_line.setVisible(True)

    def _on_mpr(self) -> None:
        self._redraw_slice()
        self._update_text()

    def _on_tool(self) -> None:
        self._live = []
        self._draw_annotations()
        self._update_text()

    def _on_window(self) -> None:
        w = self.state.window
        self.image.setLevels((w.low, w.high))
        self._update_text()

    def _on_overlay(self) -> None:
        self._draw_overlay()
        self._update_text()

    def _draw_overlay(self) -> None:
        ov, p = self.state.overlay, self.plane
        data = ov.data
        if p is None or data is None or not ov.visible or data.shape != self.state.volume.shape:
            self.overlay.setVisible(False)
            return
        if self.orientation == "axial" and ov.slices is not None and self._index not in ov.slices:
            self.overlay.setVisible(False)  # an occlusion map of other slices: nothing here
            return
        key = (ov.cmap, float(ov.threshold), float(ov.vmin), float(ov.vmax))
        if key != self._lut_key:
            self.overlay.set_lut_rgba(overlay_lut(ov.cmap, ov.threshold, ov.vmin, ov.vmax))
            self._lut_key = key
        self.overlay.setImage(p.extract(data, self.state.cursor[p.axis]), autoLevels=False, levels=(ov.vmin, ov.vmax))
        self.overlay.setOpacity(float(ov.opacity))
        self.overlay.setVisible(True)

    # -- text -----------------------------------------------------------------------------------
    def _update_text(self) -> None:
        p, vol = self.plane, self.state.volume
        if p is None or vol is None:
            for lab in self.labels.values():
                lab.hide()
            return
        world = vol.index_to_world(np.asarray(self.state.cursor, dtype=float))
        ras_axis = int(np.argmax(np.abs(vol.affine[:3, 2 - p.axis])))
        coord = world[ras_axis]
        letter = ("R", "A", "S")[ras_axis] if coord >= 0 else ("L", "P", "I")[ras_axis]
        w, preset, mpr = self.state.window, self.state.preset, self.state.mpr
        name = PRESET_TITLES.get(preset or "", {"dicom": "DICOM", "auto": "Auto"}.get(preset or "", "Custom"))
        n_slab = slab_count(p, mpr.slab_mm)
        mpr_text = (f"{mpr.slab_mode.upper().replace('MINIP', 'MinIP').replace('AVG', 'Average')} "
                    f"{n_slab * p.slice_mm:.1f} mm ({n_slab} slices)" if n_slab > 1 else "")
        if mpr.interp == "nearest" and upsample_factors(p) != (1, 1):
            mpr_text = (mpr_text + "  " if mpr_text else "") + "nearest"
        status = []
        ov = self.state.overlay
        if ov.data is not None:
            kind = {"gradcam": "Grad-CAM", "occlusion": "Occlusion"}.get(ov.kind or "", ov.kind or "map")
            status.append(f"{kind}: {ov.label or ''}{'' if ov.visible else ' (hidden, O)'}")
        tool = self.state.tool
        if tool:
            how = "click 3 points" if tool == "angle" else "drag"
            status.append(f"<b>{'ROI ' + tool if tool in ('ellipse', 'freehand') else tool.upper()}</b>: {how}")
        ctx = CornerContext(plane_title=self.orientation.upper(), plane_color=PLANE_COLORS[self.orientation],
                            index=self._index, n_slices=p.n_slices, position=f"{letter} {abs(coord):.1f} mm",
                            window=f"W {w.width:.0f}  L {w.level:.0f}", preset=name, mpr=mpr_text,
                            hover=self._hover_text(), status=status, facts=dict(self.state.facts), compact=self._compact())
        corner = self.state.corner
        for key, text in render(ctx, corner.fields, corner.anonymised).items():
            self._set(key, text)
        for side in ("top", "bottom", "left", "right"):
            self._set(side, p.labels[side])
        self._place_labels()

    def _compact(self) -> bool:
        """Narrow panes (the reading window's coronal and sagittal at 1400 px) get the short corner forms."""
        return self.width() < COMPACT_WIDTH

    def _hover_text(self) -> str:
        vol = self.state.volume
        if self._hover is None or vol is None:
            return ""
        z, y, x = self._hover
        value = float(vol.voxels[z, y, x])
        unit = "HU" if vol.modality == "CT" else "value"
        shown = f"{value:.0f}" if vol.modality == "CT" else f"{value:.4g}"
        return f"{unit} {shown}  (z {z}, y {y}, x {x})"

    def _set(self, key: str, text: str) -> None:
        lab = self.labels[key]
        lab.setText(text)
        lab.adjustSize()
        lab.setVisible(bool(text) and self.state.corner.visible)

    def _place_labels(self) -> None:
        L = getattr(self, "labels", None)
        if not L:  # called by pyqtgraph's constructor before ours ran
            return
        w, h, m = self.width(), self.height(), 4
        L["tl"].move(m, m)
        L["tr"].move(w - L["tr"].width() - m, m)
        L["bl"].move(m, h - L["bl"].height() - m)
        L["br"].move(w - L["br"].width() - m, h - L["br"].height() - m)
        L["top"].move((w - L["top"].width()) // 2, m)
        L["bottom"].move((w - L["bottom"].width()) // 2, h - L["bottom"].height() - m)
        L["left"].move(m, (h - L["left"].height()) // 2)
        L["right"].move(w - L["right"].width() - m, (h - L["right"].height()) // 2)
        # a right corner that would run into its left neighbour (narrow pane, long status) stacks beside it, towards the image
        for left, right, down in (("tl", "tr", True), ("bl", "br", False)):
            a, b = L[left], L[right]
            if a.isVisible() and b.isVisible() and a.geometry().intersects(b.geometry()):
                b.move(b.x(), a.geometry().bottom() + 2 if down else a.geometry().top() - b.height() - 2)
        # an orientation letter that would sit on corner text moves just clear of it, towards the image
        for side, corners, down in (("top", ("tl", "tr"), True), ("bottom", ("bl", "br"), False)):
            lab = L[side]
            for _ in range(len(corners)):  # a stacked corner may sit where the first move put the letter
                hit = [L[c].geometry() for c in corners if L[c].isVisible() and L[c].geometry().intersects(lab.geometry())]
                if not hit:
                    break
                y = max(r.bottom() for r in hit) + 2 if down else min(r.top() for r in hit) - lab.height() - 2
                lab.move(lab.x(), y)

    def resizeEvent(self, ev) -> None:  # noqa: N802
        super().resizeEvent(ev)
        if getattr(self, "labels", None) and ev.oldSize().width() >= 0 and \
                (ev.oldSize().width() < COMPACT_WIDTH) != (ev.size().width() < COMPACT_WIDTH):
            self._update_text()  # crossed the compact width: re-render the corner text
        self._place_labels()

    def paintEvent(self, ev) -> None:  # noqa: N802
        super().paintEvent(ev)
        if not self._painted_once and self.image.image is not None:
            self._painted_once = True
            dt = time.perf_counter() - PROCESS_T0
            if os.environ.get("NEUROREVIEW_REPORT_FIRST_PAINT"):
                print(f"first-paint {self.orientation} {dt:.3f}s since import, process cpu {time.process_time():.3f}s",
                      flush=True, file=sys.stdout)
            self.firstPainted.emit(dt)

    # -- active frame ---------------------------------------------------------------------------
    def activate(self) -> None:
        self.activated.emit(self.orientation)

    def set_active(self, on: bool) -> None:
        self.active = on
        self._set_border()

    def _set_border(self) -> None:
        color = PLANE_COLORS[self.orientation] if self.active else "#333"
        self.setStyleSheet(f"SliceView {{ border: 2px solid {color}; }}")

    # -- user actions ---------------------------------------------------------------------------
    def step(self, n: int, wrap: bool = False) -> None:
        """Move the slice by n (positive: towards the top index, i.e. superior/anterior/right)."""
        if self.plane is None:
            return
        self.activate()
        idx = self.state.cursor[self.plane.axis] + n
        if wrap:
            idx %= self.plane.n_slices
        self.go_to(idx)

    def go_to(self, index: int) -> None:
        if self.plane is None:
            return
        cur = list(self.state.cursor)
        cur[self.plane.axis] = int(np.clip(index, 0, self.plane.n_slices - 1))
        self.state.set_cursor(*cur)

    def set_cursor_at(self, point: QPointF) -> None:
        if self.plane is None:
            return
        vox = self.plane.voxel_at(self.state.cursor, point.x(), point.y())
        if vox is not None:
            self.state.set_cursor(*vox)

    def drag_window(self, ev) -> None:
        """Right drag: horizontal changes the width, vertical the level (down = higher level)."""
        if ev.isStart():
            self._wl_start = (self.state.window.width, self.state.window.level)
        if self._wl_start is None:
            return
        d = ev.screenPos() - ev.buttonDownScreenPos(Qt.RightButton)
        w0, l0 = self._wl_start
        rate = max(w0, 20.0) / 200.0  # HU per pixel, proportional to the window (fine for brain, quick for bone)
        self.state.set_window(Window(width=max(1.0, w0 + d.x() * rate), level=l0 + d.y() * rate), preset=None)
        if ev.isFinish():
            self._wl_start = None

    @property
    def measuring(self) -> bool:
        return self.state.tool is not None

    def drag_tool(self, p0: QPointF, p1: QPointF, started: bool, finished: bool) -> None:
        """Left drag with a tool: the ruler and ellipse span p0-p1, the freehand ROI collects the path."""
        tool = self.state.tool
        if started or not self._live:
            self._live = [(p0.x(), p0.y())]
        if tool == "freehand":
            if (p1.x(), p1.y()) != self._live[-1]:
                self._live.append((p1.x(), p1.y()))
        else:
            self._live = [self._live[0], (p1.x(), p1.y())]
        if finished:
            pts, self._live = self._live, []
            if (len(pts) >= 3) if tool == "freehand" else (len(pts) == 2 and pts[0] != pts[1]):
                self.add_measurement(tool, pts)
                return
        self._draw_annotations()

    def click_angle(self, point: QPointF) -> None:
        self._live.append((point.x(), point.y()))
        if len(self._live) == 3:
            pts, self._live = self._live, []
            self.add_measurement("angle", pts)
        else:
            self._draw_annotations()

    def add_measurement(self, kind: str, points) -> None:
        """Measure on this plane and slice and put the result in the state (the window stores it)."""
        vol = self.state.volume
        if self.plane is None or vol is None:
            return
        self.state.add_annotation(measure.make(kind, self.plane, vol.voxels, self._index, points, self.state.annotations))

    def annotations_here(self) -> list:
        return [a for a in self.state.annotations if a.plane == self.orientation and a.index == self._index]

    def rulers_mm(self) -> list[float]:
        """Lengths of the rulers on the current slice, in mm (display units are mm)."""
        return [a.stats["length_mm"] for a in self.annotations_here() if a.kind == "ruler"]

    def _clear_ann_items(self) -> None:
        for item in self._ann_items:
            self.vb.removeItem(item)
        self._ann_items = []

    def _add_item(self, item) -> None:
        item.setZValue(30)
        self.vb.addItem(item, ignoreBounds=True)
        self._ann_items.append(item)

    def _draw_shape(self, kind: str, pts: list, color: str, text: str) -> None:
        pen = pg.mkPen(QColor(color), width=2)
        if kind == "ellipse" and len(pts) >= 2:
            line = measure.ellipse_outline(pts[0], pts[-1])
        elif kind == "freehand":
            line = list(pts) + [pts[0]] if len(pts) > 2 else list(pts)
        else:
            line = list(pts)
        self._add_item(pg.PlotCurveItem([q[0] for q in line], [q[1] for q in line], pen=pen))
        if kind in ("ruler", "angle"):
            self._add_item(pg.ScatterPlotItem([q[0] for q in pts], [q[1] for q in pts], size=6,
                                              brush=pg.mkBrush(color), pen=None))
        if text:
            label = pg.TextItem(text, color=color, anchor=(0, 1), fill=pg.mkBrush(0, 0, 0, 150))
            label.setFont(QFont("DejaVu Sans", 9))
            x, y = (min(q[0] for q in pts), min(q[1] for q in pts)) if kind in ("ellipse", "freehand") else pts[-1]
            label.setPos(x, y)
            self._add_item(label)

    def _draw_annotations(self) -> None:
        self._clear_ann_items()
        if self.plane is None:
            return
        unit = "HU" if self.state.volume is not None and self.state.volume.modality == "CT" else ""
        for a in self.annotations_here():
            color = "#57d9ff" if a.kind in ("ruler", "angle") else "#7dff7a"
            self._draw_shape(a.kind, list(a.points), color, f"{a.label}  {a.summary(unit)}".replace(", min", "\nmin"))
        if self._live and self.state.tool:
            self._draw_shape(self.state.tool, self._live, "#ffd27f", "")

    def fit(self) -> None:
        if self.plane is not None:
            self.vb.setRange(QRectF(0, 0, self.plane.width_mm, self.plane.height_mm), padding=0.0)

    def zoom(self, factor: float) -> None:
        self.vb.scaleBy((1.0 / factor, 1.0 / factor))

    def set_crosshair_visible(self, on: bool) -> None:
        self.show_crosshair = on
        self._on_cursor()

    def _on_mouse_moved(self, scene_pos) -> None:
        if self.plane is None:
            return
        pt = self.vb.mapSceneToView(scene_pos)
        self._hover = self.plane.voxel_at(self.state.cursor, pt.x(), pt.y())
        self._update_text()

    def hover_at(self, x_mm: float, y_mm: float) -> None:
        """What the mouse-move handler does, for scripted use (tests, screenshots)."""
        self._on_mouse_moved(self.vb.mapViewToScene(QPointF(x_mm, y_mm)))

    def widget_pos(self, zyx: tuple[int, int, int]):
        """Widget pixel (QPoint) of a voxel centre on this view (for tests and scripted clicks)."""
        if self.plane is None:
            raise ValueError("no volume")
        x, y = self.plane.to_display(zyx)
        return self.mapFromScene(self.vb.mapViewToScene(QPointF(x, y)))
