"""Real mouse and wheel events for pyqtgraph views (QTest's mouseMove carries no buttons; pyqtgraph
rate-limits moves, so the helpers pause between them)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QImage, QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication


def _send(widget, kind, pos: QPoint, button, buttons, modifiers) -> None:
    p = QPointF(pos)
    ev = QMouseEvent(kind, p, QPointF(widget.mapToGlobal(pos)), button, buttons, modifiers)
    QApplication.sendEvent(widget, ev)


def drag(qtbot, view, start: QPoint, end: QPoint, button=Qt.LeftButton, modifiers=Qt.NoModifier, steps: int = 6) -> None:
    vp = view.viewport()
    _send(vp, QEvent.MouseButtonPress, start, button, button, modifiers)
    for i in range(1, steps + 1):
        qtbot.wait(25)
        t = i / steps
        p = QPoint(round(start.x() + (end.x() - start.x()) * t), round(start.y() + (end.y() - start.y()) * t))
        _send(vp, QEvent.MouseMove, p, Qt.NoButton, button, modifiers)
    qtbot.wait(25)
    _send(vp, QEvent.MouseButtonRelease, end, button, Qt.NoButton, modifiers)
    qtbot.wait(10)


def click(qtbot, view, pos: QPoint, button=Qt.LeftButton, modifiers=Qt.NoModifier) -> None:
    vp = view.viewport()
    _send(vp, QEvent.MouseButtonPress, pos, button, button, modifiers)
    _send(vp, QEvent.MouseButtonRelease, pos, button, Qt.NoButton, modifiers)
    qtbot.wait(10)


def wheel(view, pos: QPoint, steps: int, modifiers=Qt.NoModifier) -> None:
    vp = view.viewport()
    ev = QWheelEvent(QPointF(pos), QPointF(vp.mapToGlobal(pos)), QPoint(0, 0), QPoint(0, 120 * steps),
                     Qt.NoButton, modifiers, Qt.NoScrollPhase, False)
    QApplication.sendEvent(vp, ev)


def grab_rgb(widget) -> np.ndarray:
    """The widget as rendered, [h, w, 3] uint8."""
    img = widget.grab().toImage().convertToFormat(QImage.Format_RGB888)
    w, h = img.width(), img.height()
    buf = np.frombuffer(img.constBits(), dtype=np.uint8, count=img.bytesPerLine() * h).reshape(h, img.bytesPerLine())
    return buf[:, : w * 3].reshape(h, w, 3).copy()


def show_active(qtbot, win) -> None:
    """Show the window and give it the keyboard focus: under Xvfb (Qt's xcb platform, as CI runs) window
    shortcuts only fire in the active window; offscreen activates every shown window by itself."""
    win.show()
    qtbot.waitExposed(win)
    win.raise_()
    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win, timeout=5000)
