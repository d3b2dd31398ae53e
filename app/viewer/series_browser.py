"""Series browser dock: the study's series as thumbnails (middle slice in the current window) with their
description, image count, modality and a warnings badge. Click (or Enter) opens a series, Ctrl+Up/Down
steps through them, and a thumbnail can be dragged into a view.

Thumbnails are decoded in a worker thread from the scan's headers (one slice per series); the GUI thread
only turns the finished arrays into icons.
"""

from __future__ import annotations

import threading

import numpy as np
from PySide6.QtCore import QEvent, QMimeData, QObject, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

MIME = "application/x-neuroreview-series"
THUMB = 112


def middle_slice(scan_result, summary) -> np.ndarray:
    """The middle image of a series in real-world values, shown radiologically (no Qt)."""
    if summary.kind == "nifti":
        import nibabel as nib

        img = nib.as_closest_canonical(nib.load(summary.path))
        nz = img.shape[2]
        arr = np.asarray(img.dataobj[:, :, nz // 2], dtype=np.float32)  # [x, y]
        return arr.T[::-1, ::-1]  # [y, x] -> anterior up, patient left on the right
    from core.io import geometry
    from core.io.pixels import read_slice

    stack = scan_result._stacks[summary.series_uid]  # noqa: SLF001 (the scan keeps its stacks for loading)
    hs = stack.headers
    first = hs[0]
    if first.orientation is not None and all(h.position is not None for h in hs):
        normal = np.cross(first.orientation[:3], first.orientation[3:])
        hs = sorted(hs, key=lambda h: float(h.position @ normal))
        flip_rows, flip_cols = geometry.inplane_flips(first.orientation[:3], first.orientation[3:])
    else:
        hs = sorted(hs, key=lambda h: h.instance)
        flip_rows = flip_cols = False
    values, _, _ = read_slice(hs[len(hs) // 2].path, first.modality, flip_rows, flip_cols)
    return values[::-1, ::-1]


def thumbnail_rgb(values: np.ndarray, window, size: int = THUMB) -> np.ndarray:
    """Windowed grey uint8 [h, w] no larger than size x size (block-averaged, aspect kept)."""
    from core.imaging.windows import apply_window

    step = max(1, int(np.ceil(max(values.shape) / size)))
    h, w = (values.shape[0] // step) * step, (values.shape[1] // step) * step
    small = values[:h, :w].reshape(h // step, step, w // step, step).mean(axis=(1, 3))
    return np.ascontiguousarray(apply_window(small, window))


class _Worker(QObject):
    done = Signal(int, int, object)  # generation, row, uint8 array or an error string


class SeriesBrowser(QWidget):
    openRequested = Signal(str, str)  # path, series uid ('' for a NIfTI file)

    def __init__(self, state, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.scan = None
        self.path = ""
        self._gen = 0
        self._values: dict[int, np.ndarray] = {}
        self.list = _DragList(self)
        self.list.setIconSize(QSize(THUMB, THUMB))
        self.list.setSelectionMode(QAbstractItemView.SingleSelection)
        self.list.setDragEnabled(True)
        self.list.setWordWrap(True)
        self.list.itemClicked.connect(lambda _it: self.open_row(self.list.currentRow()))
        self.list.itemActivated.connect(lambda _it: self.open_row(self.list.currentRow()))
        # Up/Down in the focused list move through the series and open the one you stop on
        self._arrow_open = QTimer(self)
        self._arrow_open.setSingleShot(True)
        self._arrow_open.setInterval(250)
        self._arrow_open.timeout.connect(lambda: self.open_row(self.list.currentRow()))
        self.list.arrowMoved.connect(self._arrow_open.start)
        self.header = QLabel("No study open.")
        self.header.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.header)
        lay.addWidget(self.list)
        self._worker = _Worker()
        self._worker.done.connect(self._thumb_ready)
        state.windowChanged.connect(self._rewindow)
        state.volumeChanged.connect(self._mark_current)

    def set_scan(self, path: str, scan_result) -> None:
        """Show the series of a scanned folder and start their thumbnails in the background."""
        from app.viewer.open_dialog import series_warnings

        self.scan, self.path = scan_result, path
        self._gen += 1
        self._values = {}
        self.list.clear()
        self.header.setText(f"{len(scan_result.series)} series in {scan_result.root or path}")
        for s in scan_result.series:
            warns = series_warnings(scan_result, s)
            n = f"{s.n_files} image(s)" if s.kind == "dicom" else "NIfTI volume"
            badge = f"\n\u26a0 {len(warns)} warning(s)" if warns else ""
            item = QListWidgetItem(f"{s.description or '(no description)'}\n{s.modality}, {n}{badge}")
            item.setToolTip("\n".join(str(w) for w in warns) or "no warnings")
            item.setData(Qt.UserRole, (path if s.kind == "dicom" else s.path, s.series_uid if s.kind == "dicom" else ""))
            blank = QPixmap(THUMB, THUMB)
            blank.fill(Qt.black)
            item.setIcon(QIcon(blank))
            self.list.addItem(item)
        self._mark_current()
        gen, series = self._gen, list(scan_result.series)

        def work() -> None:
            for row, s in enumerate(series):
                if gen != self._gen:
                    return
                try:
                    result = middle_slice(scan_result, s)
                except Exception as exc:  # a broken slice: the badge says so, the others still get thumbnails
                    result = f"{type(exc).__name__}: {exc}"
                self._worker.done.emit(gen, row, result)

        threading.Thread(target=work, name="neuroreview-thumbs", daemon=True).start()

    def _thumb_ready(self, gen: int, row: int, values) -> None:
        if gen != self._gen or row >= self.list.count():
            return
        item = self.list.item(row)
        if isinstance(values, str):
            item.setToolTip(item.toolTip() + f"\nthumbnail: {values}")
            return
        self._values[row] = values
        self._set_icon(row)

    def _set_icon(self, row: int) -> None:
        grey = thumbnail_rgb(self._values[row], self.state.window)
        h, w = grey.shape
        img = QImage(grey.data, w, h, w, QImage.Format_Grayscale8).copy()
        self.list.item(row).setIcon(QIcon(QPixmap.fromImage(img)))

    def _rewindow(self) -> None:
        for row in self._values:
            self._set_icon(row)

    def thumbnails_ready(self) -> int:
        return len(self._values)

    def _mark_current(self) -> None:
        vol = self.state.volume
        for row in range(self.list.count()):
            item = self.list.item(row)
            path, uid = item.data(Qt.UserRole)
            current = vol is not None and ((uid and uid == vol.ids.series_uid) or (not uid and path == vol.ids.source))
            font = item.font()
            font.setBold(bool(current))
            item.setFont(font)
            if current:
                self.list.setCurrentRow(row)

    def open_row(self, row: int) -> None:
        if 0 <= row < self.list.count():
            path, uid = self.list.item(row).data(Qt.UserRole)
            self.openRequested.emit(path, uid)

    def step(self, n: int) -> None:
        """Open the next (n=1) or previous (n=-1) series."""
        if self.list.count():
            row = int(np.clip(self.list.currentRow() + n, 0, self.list.count() - 1))
            self.list.setCurrentRow(row)
            self.open_row(row)


class _DragList(QListWidget):
    """Drags carry the series (path and UID) to the viewer, which opens it on drop. With the focus, Up and
    Down belong to the list (not the window's slice keys)."""

    arrowMoved = Signal()

    def event(self, ev):  # noqa: D102
        if ev.type() == QEvent.ShortcutOverride and ev.key() in (Qt.Key_Up, Qt.Key_Down):
            ev.accept()
            return True
        return super().event(ev)

    def keyPressEvent(self, ev):  # noqa: N802
        row = self.currentRow()
        super().keyPressEvent(ev)
        if ev.key() in (Qt.Key_Up, Qt.Key_Down) and self.currentRow() != row:
            self.arrowMoved.emit()

    def mimeData(self, items):  # noqa: N802
        md = QMimeData()
        if items:
            path, uid = items[0].data(Qt.UserRole)
            md.setData(MIME, f"{path}\n{uid}".encode())
        return md

    def mimeTypes(self):  # noqa: N802
        return [MIME]
