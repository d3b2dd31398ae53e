"""Opening data: a background loader (scan, then load, off the GUI thread so nothing freezes) and the
series picker shown when a folder holds several series, with the loader's warnings and skipped files."""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)


class BackgroundLoader(QObject):
    """Runs core.io's scan/load in a daemon thread; results come back as queued signals.

    A newer request supersedes an older one (its results are dropped), so opening a second case while
    the first is still loading is safe.
    """

    scanned = Signal(str, object)  # path, ScanResult
    loaded = Signal(str, object)  # path, Volume
    failed = Signal(str, str)  # path, message naming the file
    busy = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._generation = 0

    def _run(self, path: str, job) -> None:
        self._generation += 1
        gen = self._generation
        self.busy.emit(True)

        def work() -> None:
            from core.errors import NeuroReviewError

            try:
                kind, result = job()
            except NeuroReviewError as exc:
                kind, result = "failed", str(exc)
            except Exception as exc:  # a loader bug: still a message, never a dead window
                kind, result = "failed", f"unexpected {type(exc).__name__}: {exc} [{path}]"
            if gen != self._generation:
                return
            self.busy.emit(False)
            getattr(self, kind).emit(path, result)

        threading.Thread(target=work, name="neuroreview-load", daemon=True).start()

    def scan(self, path: str) -> None:
        def job():
            from core.io import scan

            return "scanned", scan(path)

        self._run(path, job)

    def adopt(self, prefetch) -> None:
        """Take over an `app.viewer.prefetch.Prefetch` started at launch: its volume, its error, or, when
        the folder holds several series, a scan here for the picker."""
        def job():
            kind, value = prefetch.wait()
            if kind == "volume":
                return "loaded", value
            if kind == "error":
                return "failed", value
            from core.io import scan

            return "scanned", scan(prefetch.path)

        self._run(prefetch.path, job)

    def load(self, path: str, series_uid: str | None = None, scanned=None) -> None:
        def job():
            from core.io import load

            return "loaded", load(path, series_uid=series_uid, scanned=scanned)

        self._run(path, job)


def _series_row(s) -> list[str]:
    shape = f"{s.shape[0]} x {s.shape[1]} x {s.shape[2]}" if s.kind == "dicom" else "NIfTI"
    spacing = f"{s.pixel_spacing[0]:.3g} x {s.pixel_spacing[1]:.3g} mm" if s.pixel_spacing else ""
    warns = "; ".join(str(w.code.value) for w in s.warnings)
    return [s.modality, s.description or "(no description)", str(s.n_files), shape, spacing, warns, s.path]


class SeriesPicker(QDialog):
    """Choose one series of a folder; lists each series' warnings and the files the loader skipped."""

    HEADERS = ["modality", "description", "files", "slices x rows x cols", "pixel spacing", "warnings", "where"]

    def __init__(self, scan_result, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Choose a series")
        self.result = scan_result
        self.table = QTableWidget(len(scan_result.series), len(self.HEADERS))
        self.table.setHorizontalHeaderLabels(self.HEADERS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        for i, s in enumerate(scan_result.series):
            for j, text in enumerate(_series_row(s)):
                item = QTableWidgetItem(text)
                if self.HEADERS[j] == "warnings" and s.warnings:
                    item.setToolTip("\n".join(str(w) for w in s.warnings))
                self.table.setItem(i, j, item)
        self.table.resizeColumnsToContents()
        self.table.selectRow(0)
        self.table.doubleClicked.connect(self.accept)
        notes = [str(w) for s in scan_result.series for w in s.warnings] + [f"skipped: {w}" for w in scan_result.problems]
        self.notes = QPlainTextEdit("\n".join(notes) or "No warnings.")
        self.notes.setReadOnly(True)
        self.notes.setMaximumHeight(120)
        buttons = QDialogButtonBox(QDialogButtonBox.Open | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel(f"{len(scan_result.series)} series in {scan_result.root}:"))
        lay.addWidget(self.table)
        lay.addWidget(QLabel("Warnings and skipped files:"))
        lay.addWidget(self.notes)
        lay.addWidget(buttons)
        self.resize(760, 380)
        self.setAttribute(Qt.WA_DeleteOnClose, False)

    def chosen(self):
        rows = self.table.selectionModel().selectedRows()
        return self.result.series[rows[0].row()] if rows else None
