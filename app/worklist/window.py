"""The triage worklist: received series, flagged first, then by P(any ICH), updated live from the
worklist database that `neuroreview listen` fills. A double click opens the series in the viewer
(which scores it on open and shows the findings); "Send results to PACS" writes the SR and the
Grad-CAM secondary captures of the selected series and C-STOREs them to the chosen node."""

from __future__ import annotations

import tempfile
import threading
import time

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QHeaderView, QLabel, QMainWindow, QPushButton, QTableWidget,
                               QTableWidgetItem, QToolBar, QWidget)

from core.pacs.findings import ood_text
from core.pacs.worklist import Row, Worklist

COLUMNS = ("", "P(any ICH)", "flagged labels", "BG side", "OOD", "status", "received", "patient", "name", "study date",
           "series", "images")
FLAGGED_BG = QColor(120, 30, 30)
REFRESH_MS = 1500


def _cells(r: Row) -> list[str]:
    f = r.findings_obj()
    flagged = r.flagged_labels()
    return ["!" if flagged else "", f"{r.p_any:.3f}" if r.p_any is not None else "-", ", ".join(flagged) or "-",
            f.bg_side if f else "-", ood_text(f.ood) if f else "n/a", r.status + (f": {r.error}" if r.error else ""),
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.last_received)), r.patient_id, r.patient_name.replace("^", " "),
            r.study_date, r.description or r.series_uid, str(r.instances)]


class WorklistWindow(QMainWindow):
    viewerOpened = Signal(object)  # the ViewerWindow a double click opened
    sendFinished = Signal(str, bool)  # message, ok (emitted from the worker thread, delivered on the GUI thread)

    def __init__(self, worklist: Worklist | None = None, refresh_ms: int = REFRESH_MS, viewer_factory=None) -> None:
        super().__init__()
        self.viewer_factory = viewer_factory  # builds the ViewerWindow a double click opens (default: the full viewer)
        self.setWindowTitle("NeuroReview - triage worklist (research use only, not for clinical use)")
        self.worklist = worklist or Worklist()
        self.rows: list[Row] = []
        self._signature: tuple = ()
        self.viewers: list = []
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.cellDoubleClicked.connect(lambda row, _col: self.open_row(row))
        self.setCentralWidget(self.table)
        self._toolbar()
        self.status = QLabel()
        self.statusBar().addWidget(self.status, 1)
        self.statusBar().addPermanentWidget(QLabel("research use only, not for clinical use"))
        self.sendFinished.connect(self._on_sent)
        self.timer = QTimer(self)
        self.timer.setInterval(refresh_ms)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()
        self.refresh()
        self.resize(1500, 600)

    def _toolbar(self) -> None:
        bar = QToolBar("worklist")
        bar.setMovable(False)
        self.addToolBar(bar)
        bar.addAction("Open in viewer", lambda: self.open_row(self.table.currentRow()))
        bar.addAction("Refresh", lambda: self.refresh(force=True))
        bar.addSeparator()
        self.node_box = QComboBox()
        self._fill_nodes()
        bar.addWidget(QLabel(" PACS node: "))
        bar.addWidget(self.node_box)
        self.send_button = QPushButton("Send results to PACS")
        self.send_button.clicked.connect(self.send_selected)
        bar.addWidget(self.send_button)
        bar.addWidget(QWidget())

    def _fill_nodes(self) -> None:
        from core.errors import NeuroReviewError
        from core.pacs.nodes import load_settings

        self.node_box.clear()
        try:
            self.settings = load_settings()
        except NeuroReviewError as exc:
            self.settings = None
            self.node_box.setToolTip(str(exc))
            return
        for name in sorted(self.settings.nodes):
            self.node_box.addItem(name)

    # -- live table -----------------------------------------------------------------------------------
    def refresh(self, force: bool = False) -> None:
        rows = self.worklist.rows()
        sig = tuple((r.series_uid, r.status, r.instances, r.p_any, r.flagged) for r in rows)
        if sig == self._signature and not force:
            return
        keep = self.selected_uid()
        self._signature, self.rows = sig, rows
        self.table.setRowCount(len(rows))
        bold = QFont()
        bold.setBold(True)
        for i, r in enumerate(rows):
            flagged = bool(r.flagged_labels())
            for j, text in enumerate(_cells(r)):
                item = QTableWidgetItem(text)
                if flagged:
                    item.setBackground(QBrush(FLAGGED_BG))
                    item.setForeground(QBrush(QColor("white")))
                    if j in (0, 1, 2):
                        item.setFont(bold)
                self.table.setItem(i, j, item)
            if r.series_uid == keep:
                self.table.selectRow(i)
        n_flag = sum(bool(r.flagged_labels()) for r in rows)
        waiting = sum(r.status in ("receiving", "scoring") for r in rows)
        self.status.setText(f"{len(rows)} series, {n_flag} flagged, {waiting} waiting to be scored - "
                            f"updated {time.strftime('%H:%M:%S')} - {self.worklist.path}")

    def selected_uid(self) -> str | None:
        i = self.table.currentRow()
        return self.rows[i].series_uid if 0 <= i < len(self.rows) else None

    # -- actions --------------------------------------------------------------------------------------
    def open_row(self, i: int):
        """Open the row's series in a viewer window (the viewer scores it and shows the findings)."""
        if not 0 <= i < len(self.rows):
            return None
        from app.viewer.main_window import ViewerWindow

        r = self.rows[i]
        viewer = (self.viewer_factory or ViewerWindow)()
        viewer.show()
        viewer.open_path(r.folder, r.series_uid)
        self.viewers.append(viewer)
        self.viewerOpened.emit(viewer)
        return viewer

    def send_selected(self) -> None:
        i = self.table.currentRow()
        if not 0 <= i < len(self.rows) or self.settings is None or not self.node_box.currentText():
            self.statusBar().showMessage("select a series and a PACS node (add nodes with `neuroreview pacs add`)", 8000)
            return
        r, node = self.rows[i], self.settings.node(self.node_box.currentText())
        calling = self.settings.listener.ae_title
        self.send_button.setEnabled(False)
        self.statusBar().showMessage(f"scoring and sending results of {r.description or r.series_uid} to {node.name} ...")
        threading.Thread(target=self._send, args=(r, node, calling), daemon=True).start()

    def _send(self, r: Row, node, calling: str) -> None:
        from core.errors import NeuroReviewError
        from core.pacs.client import send
        from core.pacs.results import score_and_write

        try:
            with tempfile.TemporaryDirectory() as tmp:
                written = score_and_write(r.folder, tmp, r.series_uid)
                send(node, calling, written.paths)
            self.sendFinished.emit(f"sent SR + {len(written.secondary_captures)} Grad-CAM image(s) to {node.name}", True)
        except (NeuroReviewError, OSError) as exc:
            self.sendFinished.emit(f"sending to {node.name} failed: {exc}", False)

    def _on_sent(self, message: str, ok: bool) -> None:
        self.send_button.setEnabled(True)
        self.statusBar().showMessage(message, 0 if not ok else 15000)


def run_window(worklist: Worklist) -> int:
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(["neuroreview"])
    win = WorklistWindow(worklist)
    win.show()
    return app.exec()
