"""The oblique view (a dock, Shift+O): `app.viewer.oblique` resampled through the crosshair, in the state's
window. It renders only while visible and coalesces bursts of cursor moves into one frame after the
other views have painted, so the 2-D slice budget is not spent on it."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QRectF, QTimer
from PySide6.QtGui import QTransform
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app.viewer.slice_view import TEXT_STYLE, _PaintReadyImage
from app.viewer.state import ViewerState


class ObliqueView(QWidget):
    def __init__(self, state: ViewerState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.graphics = pg.GraphicsView(background="k")
        self.vb = pg.ViewBox(lockAspect=True, invertY=True, enableMenu=False, defaultPadding=0.0)
        self.graphics.setCentralItem(self.vb)
        self.image = _PaintReadyImage(opaque=True)
        self.vb.addItem(self.image)
        self.label = QLabel(self.graphics)
        self.label.setStyleSheet(TEXT_STYLE)
        self.label.move(4, 4)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.graphics)
        self.setMinimumSize(240, 240)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.render_now)
        self._extent = None
        for sig in (state.volumeChanged, state.cursorChanged, state.obliqueChanged):
            sig.connect(self.schedule)
        state.windowChanged.connect(self._levels)

    def schedule(self) -> None:
        if self.isVisible():
            self._timer.start()

    def showEvent(self, ev) -> None:  # noqa: N802
        super().showEvent(ev)
        self.schedule()

    def _levels(self) -> None:
        w = self.state.window
        self.image.setLevels((w.low, w.high))

    def render_now(self) -> None:
        from app.viewer.oblique import sample_oblique

        vol = self.state.volume
        if vol is None:
            self.image.clear()
            self.label.setText("")
            return
        img, px = sample_oblique(vol, self.state.cursor, self.state.oblique_deg)
        w = self.state.window
        self.image.setTransform(QTransform.fromScale(px, px))
        self.image.setImage(img, autoLevels=False, levels=(w.low, w.high))
        extent = (img.shape[1] * px, img.shape[0] * px)
        if extent != self._extent:
            self.vb.setRange(QRectF(0, 0, *extent), padding=0.0)
            self._extent = extent
        self.label.setText(f"<b style='color:#c58cff'>OBLIQUE</b> {self.state.oblique_deg:+.0f} deg "
                           f"(axial tilted about R-L; . and , tilt)")
        self.label.adjustSize()

    def image_data(self):
        return self.image.image
