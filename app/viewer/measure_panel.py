"""Measurements dock: every ruler, angle and ROI of the series (all planes and slices) with its values;
double click goes to its slice, Delete removes it, Export writes CSV. Reads and writes only the state."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractItemView, QFileDialog, QHBoxLayout, QPushButton, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from app.viewer import measure
from app.viewer.state import ViewerState



class MeasurePanel(QWidget):
    HEADERS = ["label", "plane", "image", "value"]

    def __init__(self, state: ViewerState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.table = QTableWidget(0, len(self.HEADERS), self)
        self.table.setHorizontalHeaderLabels(self.HEADERS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.doubleClicked.connect(lambda idx: self.go_to(idx.row()))
        delete = QPushButton("Delete")
        delete.clicked.connect(self.delete_selected)
        export = QPushButton("Export CSV...")
        export.clicked.connect(self.export_dialog)
        buttons = QHBoxLayout()
        buttons.addWidget(delete)
        buttons.addWidget(export)
        buttons.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.table)
        lay.addLayout(buttons)
        state.annotationsChanged.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        anns = self.state.annotations
        unit = "HU" if self.state.volume is not None and self.state.volume.modality == "CT" else ""
        self.table.setRowCount(len(anns))
        for i, a in enumerate(anns):
            for j, text in enumerate((a.label, a.plane, str(a.index + 1), a.summary(unit))):
                item = QTableWidgetItem(text)
                item.setData(Qt.UserRole, a.id)
                self.table.setItem(i, j, item)
        self.table.resizeColumnsToContents()

    def go_to(self, row: int) -> None:
        a = self.state.annotations[row]
        vol = self.state.volume
        if vol is None:
            return
        from app.viewer.planes import plane

        axis = plane(vol.affine, vol.shape, a.plane).axis
        cur = list(self.state.cursor)
        cur[axis] = a.index
        self.state.set_cursor(*cur)

    def delete_selected(self) -> None:
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        for ann_id in [self.state.annotations[r].id for r in rows]:
            self.state.remove_annotation(ann_id)

    def export_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export measurements", "measurements.csv", "CSV (*.csv)")
        if path:
            measure.write_csv(self.state.annotations, path)
