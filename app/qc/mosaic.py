"""The QC mosaic as a widget a reviewer can look through: the wheel over a tile moves that tile's slice
(axial tiles through z, coronal through y, sagittal through x), Ctrl+wheel or the +/- buttons zoom the
whole strip (it scrolls when larger than the panel). A fixed thumbnail hides a cut or a kept face that
sits a few slices away from the three chosen planes."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget

from core.qc.thumbs import GAP, TILES, default_slices, mosaic_tiles

ZOOMS = (120, 150, 200, 260, 340, 440)  # tile heights in pixels


def to_pixmap(rgb: np.ndarray) -> QPixmap:
    rgb = np.ascontiguousarray(rgb)
    h, w, _ = rgb.shape
    return QPixmap.fromImage(QImage(rgb.data, w, h, 3 * w, QImage.Format_RGB888).copy())


class _Strip(QLabel):
    wheel = Signal(int, int, bool)  # x in the image, steps, ctrl held

    def wheelEvent(self, ev) -> None:  # noqa: N802
        steps = int(np.sign(ev.angleDelta().y()))
        if steps:
            self.wheel.emit(int(ev.position().x()), steps, bool(ev.modifiers() & Qt.ControlModifier))
        ev.accept()


class MosaicView(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.volume = None
        self.slices: list[int] = []
        self.zoom = 1  # index into ZOOMS
        self._edges: list[tuple[int, int]] = []
        self.strip = _Strip()
        self.strip.setAlignment(Qt.AlignLeft | Qt.AlignTop)
        self.strip.wheel.connect(self._on_wheel)
        self.scroll = QScrollArea()
        self.scroll.setWidget(self.strip)
        self.scroll.setWidgetResizable(False)
        self.scroll.setMinimumHeight(ZOOMS[self.zoom] + 24)
        self.info = QLabel("")
        self.info.setObjectName("mosaic_info")
        zin, zout = QPushButton("+"), QPushButton("\u2212")
        for b, d, tip in ((zin, 1, "zoom in (Ctrl+wheel)"), (zout, -1, "zoom out (Ctrl+wheel)")):
            b.setFixedWidth(28)
            b.setToolTip(tip)
            b.setFocusPolicy(Qt.NoFocus)  # rating keys stay with the table
            b.clicked.connect(lambda _c=False, d=d: self.set_zoom(self.zoom + d))
        self.zoom_in, self.zoom_out = zin, zout
        bar = QHBoxLayout()
        bar.addWidget(self.info, 1)
        bar.addWidget(zout)
        bar.addWidget(zin)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(bar)
        lay.addWidget(self.scroll)

    def set_volume(self, volume) -> None:
        self.volume = volume
        self.slices = default_slices(volume)
        self.render()

    def clear(self) -> None:
        self.volume = None
        self.strip.clear()
        self.info.setText("")

    def pixmap(self) -> QPixmap | None:
        return self.strip.pixmap()

    def set_zoom(self, i: int) -> None:
        self.zoom = int(np.clip(i, 0, len(ZOOMS) - 1))
        self.scroll.setMinimumHeight(min(ZOOMS[self.zoom], 340) + 24)
        self.render()

    def step(self, tile: int, n: int) -> None:
        """Move slice tile `tile` (0-4) by `n` slices."""
        if self.volume is None or not 0 <= tile < len(self.slices):
            return
        size = self.volume.voxels.shape[0 if tile < 3 else tile - 2]
        self.slices[tile] = int(np.clip(self.slices[tile] + n, 0, size - 1))
        self.render()

    def tile_at(self, x: int) -> int | None:
        return next((i for i, (a, b) in enumerate(self._edges) if a <= x < b), None)

    def _on_wheel(self, x: int, steps: int, ctrl: bool) -> None:
        if ctrl:
            self.set_zoom(self.zoom + steps)
        elif (t := self.tile_at(x)) is not None and t < 5:
            self.step(t, steps)

    def render(self) -> None:
        if self.volume is None:
            return
        tiles = mosaic_tiles(self.volume, ZOOMS[self.zoom], self.slices)
        gap = np.zeros((tiles[0].shape[0], GAP, 3), np.uint8)
        self._edges, x, row = [], 0, []
        for t in tiles:
            self._edges.append((x, x + t.shape[1]))
            x += t.shape[1] + GAP
            row += [t, gap]
        self.strip.setPixmap(to_pixmap(np.concatenate(row[:-1], axis=1)))
        self.strip.resize(self.strip.pixmap().size())
        shape = self.volume.voxels.shape
        where = [f"{TILES[i]} {s + 1}/{shape[0 if i < 3 else i - 2]}" for i, s in enumerate(self.slices)]
        self.info.setText("wheel over a tile: next slice; Ctrl+wheel: zoom.  " + ", ".join(where))
        self.changed.emit()
