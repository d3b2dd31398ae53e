"""The F1 cheat sheet: every key from `app.viewer.keys` (the one table), plus the mouse gestures."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QDialog, QDialogButtonBox, QHeaderView, QTableWidget, QTableWidgetItem, QVBoxLayout

from app.viewer.keys import MOUSE, SHORTCUTS


def key_text(key: str) -> str:
    """The key as the menus show it (native text, e.g. 'PgUp')."""
    return QKeySequence(key).toString(QKeySequence.NativeText) or key


class CheatSheet(QDialog):
    def __init__(self, parent=None, shortcuts=SHORTCUTS, mouse=MOUSE, title: str = "NeuroReview viewer - keys and mouse") -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        rows = [(s.group, key_text(s.key), s.description) for s in shortcuts] + [("Mouse", k, d) for k, d in mouse]
        self.table = QTableWidget(len(rows), 3)
        self.table.setHorizontalHeaderLabels(["", "key", "what it does"])
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setFocusPolicy(Qt.NoFocus)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.NoSelection)
        for i, row in enumerate(rows):
            for j, text in enumerate(row):
                self.table.setItem(i, j, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.Stretch)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.table)
        lay.addWidget(buttons)
        self.resize(640, 720)

    def keys_listed(self) -> list[str]:
        return [self.table.item(i, 1).text() for i in range(self.table.rowCount())]
