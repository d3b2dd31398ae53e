"""One 2-D slice view (axial, coronal or sagittal) drawn with pyqtgraph ImageItems.

It subscribes to a `ViewerState` and writes back only through it (cursor, window), so the three
views stay linked without knowing each other. The image is float HU with the window as ImageItem
levels (a W/L change re-renders without touching the data); the heat map is a second ImageItem
with a colormap LUT whose alpha is 0 at or below the threshold. Display units are millimetres, so
5 mm slices look 5 mm thick in coronal and sagittal views.

Mouse: wheel scrolls, Ctrl+wheel zooms, left/middle drag pans, right drag changes W/L,
Shift+left click/drag moves the crosshair, left drag in ruler mode measures.
"""

from __future__ import annotations

import math
import os
import sys
import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QTransform
from PySide6.QtWidgets import QLabel, QWidget

from app.viewer.planes import Plane, plane
from app.viewer.state import ViewerState
from core.imaging.windows import PRESET_TITLES
from core.volume import Window

PLANE_COLORS = {"axial": "#e35d5d", "coronal": "#5dbb63", "sagittal": "#e0c341"}  # Slicer's red/green/yellow
TEXT_STYLE = ("color: #f0f0f0; background: rgba(0, 0, 0, 110); padding: 1px 4px; "
              "font-family: 'DejaVu Sans Mono', monospace; font-size: 11px;")
PROCESS_T0 = time.perf_counter()


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
        if ev.button() == Qt.LeftButton and ev.modifiers() & Qt.ShiftModifier:
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
        elif ev.button() == Qt.LeftButton and v.measuring:
            ev.accept()
            v.drag_ruler(self.mapToView(ev.buttonDownPos()), self.mapToView(ev.pos()), ev.isFinish())
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
        self.measuring = False
        self.show_crosshair = True
        self.active = False
        self._index = -1
        self._hover: tuple[int, int, int] | None = None
        self._rulers: dict[int, list[tuple[QPointF, QPointF]]] = {}
        self._ruler_items: list = []
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
        self._rulers.clear()
        self._clear_ruler_items()
        self._index = -1
        if vol is None:
            self.plane = None
            self.image.clear()
            self.overlay.clear()
            self._update_text()
            return
        self.plane = plane(vol.affine, vol.shape, self.orientation)
        scale = QTransform.fromScale(self.plane.col_mm, self.plane.row_mm)  # pixels -> mm (setRect needs an image)
        self.image.setTransform(scale)
        self.overlay.setTransform(scale)
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
        self._update_text()

    def _redraw_slice(self) -> None:
        p, vol = self.plane, self.state.volume
        if p is None or vol is None:
            return
        self._index = self.state.cursor[p.axis]
        w = self.state.window
        self.image.setImage(p.extract(vol.voxels, self._index), autoLevels=False, levels=(w.low, w.high))
        self._draw_overlay()
        self._draw_rulers()

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
        title = self.orientation.upper()
        world = vol.index_to_world(np.asarray(self.state.cursor, dtype=float))
        ras_axis = int(np.argmax(np.abs(vol.affine[:3, 2 - p.axis])))
        coord = world[ras_axis]
        letter = ("R", "A", "S")[ras_axis] if coord >= 0 else ("L", "P", "I")[ras_axis]
        color = PLANE_COLORS[self.orientation]
        self._set("tl", f"<b style='color:{color}'>{title}</b><br>Slice {self._index} (0-{p.n_slices - 1})<br>"
                        f"{letter} {abs(coord):.1f} mm")
        w, preset = self.state.window, self.state.preset
        name = PRESET_TITLES.get(preset or "", {"dicom": "DICOM", "auto": "Auto"}.get(preset or "", "Custom"))
        self._set("tr", f"W {w.width:.0f}  L {w.level:.0f}<br>{name}")
        self._set("bl", self._hover_text())
        br = []
        ov = self.state.overlay
        if ov.data is not None:
            kind = {"gradcam": "Grad-CAM", "occlusion": "Occlusion"}.get(ov.kind or "", ov.kind or "map")
            br.append(f"{kind}: {ov.label or ''}{'' if ov.visible else ' (hidden, O)'}")
        if self.measuring:
            br.append("<b>RULER</b>: drag to measure")
        self._set("br", "<br>".join(br))
        for side in ("top", "bottom", "left", "right"):
            self._set(side, p.labels[side])
        self._place_labels()

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
        lab.setVisible(bool(text) and getattr(self, "_show_text", True))

    def set_text_visible(self, on: bool) -> None:
        self._show_text = on
        self._update_text()

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

    def resizeEvent(self, ev) -> None:  # noqa: N802
        super().resizeEvent(ev)
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

    def set_measuring(self, on: bool) -> None:
        self.measuring = on
        self._update_text()

    def drag_ruler(self, p0: QPointF, p1: QPointF, finished: bool) -> None:
        rulers = self._rulers.setdefault(self._index, [])
        if getattr(self, "_ruler_live", False):
            rulers[-1] = (p0, p1)
        else:
            rulers.append((p0, p1))
        self._ruler_live = not finished
        self._draw_rulers()

    def rulers_mm(self) -> list[float]:
        """Lengths of the rulers on the current slice, in mm (display units are mm)."""
        return [math.hypot(b.x() - a.x(), b.y() - a.y()) for a, b in self._rulers.get(self._index, [])]

    def clear_rulers(self) -> None:
        self._rulers.clear()
        self._draw_rulers()

    def _clear_ruler_items(self) -> None:
        for item in self._ruler_items:
            self.vb.removeItem(item)
        self._ruler_items = []

    def _draw_rulers(self) -> None:
        self._clear_ruler_items()
        pen = pg.mkPen(QColor("#57d9ff"), width=2)
        for a, b in self._rulers.get(self._index, []):
            line = pg.PlotCurveItem([a.x(), b.x()], [a.y(), b.y()], pen=pen)
            ends = pg.ScatterPlotItem([a.x(), b.x()], [a.y(), b.y()], size=6, brush=pg.mkBrush("#57d9ff"), pen=None)
            length = math.hypot(b.x() - a.x(), b.y() - a.y())
            text = pg.TextItem(f"{length:.1f} mm", color="#57d9ff", anchor=(0, 1), fill=pg.mkBrush(0, 0, 0, 140))
            text.setFont(QFont("DejaVu Sans", 9))
            text.setPos(b.x(), b.y())
            for item in (line, ends, text):
                item.setZValue(30)
                self.vb.addItem(item, ignoreBounds=True)
                self._ruler_items.append(item)

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
        self._set("bl", self._hover_text())
        self._place_labels()

    def hover_at(self, x_mm: float, y_mm: float) -> None:
        """What the mouse-move handler does, for scripted use (tests, screenshots)."""
        self._on_mouse_moved(self.vb.mapViewToScene(QPointF(x_mm, y_mm)))

    def widget_pos(self, zyx: tuple[int, int, int]):
        """Widget pixel (QPoint) of a voxel centre on this view (for tests and scripted clicks)."""
        if self.plane is None:
            raise ValueError("no volume")
        x, y = self.plane.to_display(zyx)
        return self.mapFromScene(self.vb.mapViewToScene(QPointF(x, y)))
