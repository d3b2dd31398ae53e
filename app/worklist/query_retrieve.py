"""File > Query/Retrieve...: C-FIND studies on a configured PACS node by patient ID, date and modality,
list the chosen study's series, and C-GET one into the local store with progress and cancel; the
retrieved folder is handed to the viewer (`retrieved` signal)."""

from __future__ import annotations

import threading

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QDialog, QFormLayout, QHBoxLayout, QHeaderView, QLabel,
                               QLineEdit, QProgressBar, QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout)

from core.errors import NeuroReviewError

STUDY_COLS = ("PatientID", "PatientName", "StudyDate", "ModalitiesInStudy", "StudyDescription", "NumberOfStudyRelatedInstances")
SERIES_COLS = ("SeriesNumber", "Modality", "SeriesDescription", "NumberOfSeriesRelatedInstances")


def _table(cols) -> QTableWidget:
    t = QTableWidget(0, len(cols))
    t.setHorizontalHeaderLabels([c.replace("NumberOf", "#").replace("Related", " ") for c in cols])
    t.setEditTriggers(QAbstractItemView.NoEditTriggers)
    t.setSelectionBehavior(QAbstractItemView.SelectRows)
    t.setSelectionMode(QAbstractItemView.SingleSelection)
    t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
    t.horizontalHeader().setStretchLastSection(True)
    t.verticalHeader().setVisible(False)
    return t


class QueryRetrieveDialog(QDialog):
    retrieved = Signal(str, str)  # folder, SeriesInstanceUID
    progressed = Signal(int, int)  # from the worker thread
    finished_get = Signal(object, str)  # RetrieveResult or None, error message

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Query/Retrieve - NeuroReview")
        from core.pacs.nodes import load_settings

        self.settings = load_settings()
        self.node_box = QComboBox()
        self.node_box.addItems(sorted(self.settings.nodes))
        self.patient = QLineEdit()
        self.date = QLineEdit()
        self.date.setPlaceholderText("YYYYMMDD or YYYYMMDD-YYYYMMDD")
        self.modality = QLineEdit("CT")
        form = QFormLayout()
        form.addRow("PACS node", self.node_box)
        form.addRow("Patient ID", self.patient)
        form.addRow("Study date", self.date)
        form.addRow("Modality", self.modality)
        self.search_button = QPushButton("Search")
        self.search_button.clicked.connect(self.search)
        self.studies, self.series = _table(STUDY_COLS), _table(SERIES_COLS)
        self.studies.itemSelectionChanged.connect(self.list_series)
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m instances")
        self.retrieve_button = QPushButton("Retrieve")
        self.retrieve_button.clicked.connect(self.retrieve)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.message = QLabel("no nodes configured: `neuroreview pacs add NAME AET HOST PORT`" if not self.settings.nodes else "")
        buttons = QHBoxLayout()
        for w in (self.progress, self.retrieve_button, self.cancel_button):
            buttons.addWidget(w)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.search_button, alignment=Qt.AlignLeft)
        lay.addWidget(QLabel("Studies"))
        lay.addWidget(self.studies, 2)
        lay.addWidget(QLabel("Series"))
        lay.addWidget(self.series, 1)
        lay.addLayout(buttons)
        lay.addWidget(self.message)
        self.study_rows: list[dict] = []
        self.series_rows: list[dict] = []
        self._cancel: threading.Event | None = None
        self.progressed.connect(self._on_progress)
        self.finished_get.connect(self._on_finished)
        self.resize(900, 600)

    def node(self):
        return self.settings.node(self.node_box.currentText())

    def _fill(self, table: QTableWidget, rows: list[dict], cols) -> None:
        table.setRowCount(len(rows))
        for i, r in enumerate(rows):
            for j, c in enumerate(cols):
                table.setItem(i, j, QTableWidgetItem(r.get(c, "")))

    def search(self) -> None:
        from core.pacs.client import find

        try:
            self.study_rows = find(self.node(), self.settings.listener.ae_title, "STUDY", self.patient.text().strip(),
                                   self.date.text().strip(), self.modality.text().strip())
        except NeuroReviewError as exc:
            self.message.setText(str(exc))
            return
        self._fill(self.studies, self.study_rows, STUDY_COLS)
        self.message.setText(f"{len(self.study_rows)} stud{'y' if len(self.study_rows) == 1 else 'ies'} found")
        if self.study_rows:
            self.studies.selectRow(0)

    def list_series(self) -> None:
        from core.pacs.client import find

        i = self.studies.currentRow()
        if not 0 <= i < len(self.study_rows):
            return
        try:
            self.series_rows = find(self.node(), self.settings.listener.ae_title, "SERIES",
                                    study_uid=self.study_rows[i]["StudyInstanceUID"])
        except NeuroReviewError as exc:
            self.message.setText(str(exc))
            return
        self._fill(self.series, self.series_rows, SERIES_COLS)
        if self.series_rows:
            self.series.selectRow(0)

    def retrieve(self) -> None:
        i = self.series.currentRow()
        if not 0 <= i < len(self.series_rows):
            self.message.setText("choose a series to retrieve")
            return
        study = self.study_rows[self.studies.currentRow()]["StudyInstanceUID"]
        series = self.series_rows[i]["SeriesInstanceUID"]
        self._cancel = threading.Event()
        self.retrieve_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setValue(0)
        self._series_uid = series
        threading.Thread(target=self._get, args=(self.node(), study, series, self._cancel), daemon=True).start()

    def _get(self, node, study: str, series: str, cancel: threading.Event) -> None:
        from core.pacs.client import get
        from core.pacs.store import LocalStore
        from core.pacs.worklist import Worklist

        try:
            lis = self.settings.listener
            store = LocalStore(self.settings.store_dir(), int(lis.max_instance_mb * 2**20), int(lis.max_store_gb * 2**30))
            wl = Worklist()
            res = get(node, lis.ae_title, store, study, series, progress=self.progressed.emit, cancel=cancel,
                      on_stored=lambda filed, info: wl.note_instance(info, str(filed.path.parent)))
            self.finished_get.emit(res, "")
        except (NeuroReviewError, OSError) as exc:
            self.finished_get.emit(None, str(exc))

    def cancel(self) -> None:
        if self._cancel is not None:
            self._cancel.set()
            self.message.setText("cancelling ...")

    def _on_progress(self, done: int, total: int) -> None:
        self.progress.setMaximum(max(total, 1))
        self.progress.setValue(done)

    def _on_finished(self, res, error: str) -> None:
        self.retrieve_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        if res is None:
            self.message.setText(f"retrieve failed: {error}")
        elif res.cancelled:
            self.message.setText(f"cancelled after {res.completed} instance(s); those kept are complete")
        else:
            self.message.setText(f"retrieved {res.completed} instance(s), {res.failed} failed")
            for folder in sorted(res.folders):
                self.retrieved.emit(str(folder), self._series_uid)
