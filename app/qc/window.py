"""QC review window: the batch results table (sortable, filterable), and for the selected file its
mosaics with the kept-mask outline, a VTK surface seen from the front, and the Grad-CAM of the
flagged output. One key rates the file (P pass, F face kept, B brain cut, 2 both, U unsure); the
rating is saved to SQLite at once and the next row is selected."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent, QObject, QSortFilterProxyModel, Qt
from PySide6.QtGui import QImage, QPixmap, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (QComboBox, QFileDialog, QHBoxLayout, QLabel, QLineEdit, QMainWindow, QPushButton, QSplitter,
                               QTableView, QVBoxLayout, QWidget)

from app.qc.store import VERDICTS, RatingStore

COLS = [("file", "path"), ("AI verdict", "verdict"), ("P(face)", "p_face"), ("P(brain loss)", "p_brain_loss"),
        ("kept ml", "kept_ml"), ("review", None), ("outside normal range", "outside_normal")]
KEYS = {"P": "pass", "F": "face kept", "B": "brain cut", "2": "both", "U": "unsure"}
SORT_ROLE = Qt.UserRole + 1


def to_pixmap(rgb: np.ndarray) -> QPixmap:
    rgb = np.ascontiguousarray(rgb)
    h, w, _ = rgb.shape
    return QPixmap.fromImage(QImage(rgb.data, w, h, 3 * w, QImage.Format_RGB888).copy())


def cam_overlay(volume, cam: np.ndarray) -> np.ndarray:
    """Sagittal slice through the Grad-CAM peak with the map (upsampled) blended in red; superior up,
    anterior right, so a face or a cut cap shows where it is."""
    from scipy import ndimage

    v = volume.voxels
    xc = int(np.unravel_index(int(cam.argmax()), cam.shape)[2])
    x = min(v.shape[2] - 1, int((xc + 0.5) * v.shape[2] / cam.shape[2]))
    sl = v[:, :, x]
    c = ndimage.zoom(cam[:, :, xc], (sl.shape[0] / cam.shape[0], sl.shape[1] / cam.shape[1]), order=1)
    hi = float(np.percentile(sl[sl > 0], 99)) if (sl > 0).any() else 1.0
    g = np.clip(sl / max(hi, 1e-6), 0, 1)
    a = np.clip(c, 0, 1)[..., None] * 0.6
    rgb = (1 - a) * g[..., None] + a * np.array([1.0, 0.1, 0.0])
    dz, dy, _ = volume.spacing
    rgb = ndimage.zoom(rgb[::-1], (dz / dy, 1, 1), order=1) if abs(dz - dy) > 0.05 else rgb[::-1]
    return (np.clip(rgb, 0, 1) * 255).astype(np.uint8)


class QCWindow(QMainWindow):
    def __init__(self, results_csv: str | Path, store: RatingStore | None = None, reviewer: str | None = None,
                 render_3d: bool = True) -> None:
        super().__init__()
        self.setWindowTitle("NeuroReview - skull-strip QC review (research use only)")
        self.store = store or RatingStore()
        self.reviewer = reviewer
        self.render_3d = render_3d
        self.results_csv = Path(results_csv)
        self.rows: list[dict] = []
        self._scorer = None
        self.model = QStandardItemModel(0, len(COLS))
        self.model.setHorizontalHeaderLabels([c for c, _ in COLS])
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.proxy.setFilterKeyColumn(-1)
        self.proxy.setFilterCaseSensitivity(Qt.CaseInsensitive)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QTableView.SelectRows)
        self.table.setSelectionMode(QTableView.SingleSelection)
        self.table.setEditTriggers(QTableView.NoEditTriggers)
        self.filter = QLineEdit(placeholderText="filter (file, verdict, review...)")
        self.filter.textChanged.connect(self.proxy.setFilterFixedString)
        self.only = QComboBox()
        self.only.addItems(["all", "flagged", "unreviewed"])
        self.only.currentTextChanged.connect(self._apply_only)
        export = QPushButton("Export CSV...")
        export.clicked.connect(lambda: self._export_dialog())
        top = QHBoxLayout()
        top.addWidget(self.filter, 1)
        top.addWidget(self.only)
        top.addWidget(export)
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.addLayout(top)
        lv.addWidget(self.table)
        lv.addWidget(QLabel("Keys: P pass, F face kept, B brain cut, 2 both, U unsure (saved at once)"))
        self.title = QLabel("select a file")
        self.title.setWordWrap(True)
        self.mosaic = QLabel()
        self.front = QLabel()
        self.cam = QLabel()
        self.note = QLineEdit(placeholderText="optional note, saved with the next rating")
        self.status = QLabel("")
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.addWidget(self.title)
        rv.addWidget(self.mosaic)
        views = QHBoxLayout()
        for lab, w in (("3-D front view", self.front), ("Grad-CAM", self.cam)):
            box = QVBoxLayout()
            box.addWidget(QLabel(lab))
            box.addWidget(w)
            views.addLayout(box)
        rv.addLayout(views)
        rv.addWidget(self.note)
        rv.addWidget(self.status)
        rv.addStretch(1)
        split = QSplitter()
        split.addWidget(left)
        split.addWidget(right)
        split.setSizes([620, 780])
        self.setCentralWidget(split)
        self.table.installEventFilter(self)  # one key on the table rates; typing in the note does not
        self.table.selectionModel().currentRowChanged.connect(lambda cur, _prev: self.show_row(cur))
        self.load_csv(self.results_csv)

    # ---------------------------------------------------------------- table
    def load_csv(self, path: Path) -> None:
        with open(path, newline="") as fh:
            self.rows = list(csv.DictReader(fh))
        ratings = self.store.latest()
        self.model.setRowCount(0)
        for i, r in enumerate(self.rows):
            items = []
            for _, key in COLS:
                if key is None:
                    rt = ratings.get(r["path"])
                    text = rt.verdict if rt else ""
                elif key == "verdict" and r["status"] != "ok":
                    text = "unreadable"  # the reason is in the tooltip and the detail panel
                else:
                    text = r.get(key, "")
                it = QStandardItem(Path(text).name if key == "path" else text)
                try:
                    it.setData(float(text), SORT_ROLE)
                except ValueError:
                    it.setData(text, SORT_ROLE)
                it.setData(i, Qt.UserRole)
                items.append(it)
            items[0].setToolTip(r["path"])
            if r["status"] != "ok":
                items[1].setToolTip(r["error"])
            self.model.appendRow(items)
        self.table.resizeColumnsToContents()
        self.table.sortByColumn(2, Qt.DescendingOrder)

    def _apply_only(self, mode: str) -> None:
        for prow in range(self.model.rowCount()):
            r = self.rows[self.model.item(prow, 0).data(Qt.UserRole)]
            review = self.model.item(prow, 5).text()
            hide = (mode == "flagged" and r["verdict"] in ("pass", "")) or (mode == "unreviewed" and review != "")
            self.table.setRowHidden(self.proxy.mapFromSource(self.model.index(prow, 0)).row(), hide)

    def current_row(self) -> int | None:
        idx = self.table.currentIndex()
        if not idx.isValid():
            return None
        return self.proxy.mapToSource(idx).row()

    # ---------------------------------------------------------------- detail
    def show_row(self, proxy_index) -> None:
        if not proxy_index.isValid():
            return
        r = self.rows[self.model.item(self.proxy.mapToSource(proxy_index).row(), 0).data(Qt.UserRole)]
        self.title.setText(f"<b>{r['path']}</b><br>AI: {r['verdict'] or r['status']}  P(face) {r['p_face']}  "
                           f"P(brain loss) {r['p_brain_loss']}  P(not stripped) {r.get('p_not_stripped', '')}"
                           f"<br>why: {r.get('explanation') or r['outside_normal']}")
        if r["status"] != "ok":
            for w in (self.mosaic, self.front, self.cam):
                w.clear()
            self.status.setText(f"unreadable: {r['error']}")
            return
        from core.errors import NeuroReviewError
        from core.io import load
        from core.qc.thumbs import mosaic

        try:
            vol = load(r["path"])
        except NeuroReviewError as exc:
            self.status.setText(f"cannot open {r['path']}: {exc.message}")
            return
        self.mosaic.setPixmap(to_pixmap(mosaic(vol, height=150)))
        if self.render_3d:
            from app.qc.render import render_front

            self.front.setPixmap(to_pixmap(render_front(vol, 300)))
        res = self.scorer.score(vol)
        if not res.scorable:
            self.cam.clear()
            self.status.setText(res.explanation())
            return
        k = 0 if res.p_face >= res.p_brain_loss else 1  # the face or the cut (not stripped: the face it shows)
        self.cam.setPixmap(to_pixmap(cam_overlay(vol, res.cam[k])).scaled(300, 300, Qt.KeepAspectRatio, Qt.SmoothTransformation))
        self.status.setText(f"Grad-CAM of {'P(face)' if k == 0 else 'P(brain loss)'}; model {res.model.name} {res.model.version} on {res.model.provider}")

    @property
    def scorer(self):
        if self._scorer is None:
            from core.tasks.skullstrip import SkullStripScorer

            self._scorer = SkullStripScorer()
        return self._scorer

    # ---------------------------------------------------------------- rating / export
    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self.table and event.type() == QEvent.KeyPress and event.text().upper() in KEYS and not event.modifiers() & Qt.ControlModifier:
            self.rate_current(KEYS[event.text().upper()])
            return True
        return super().eventFilter(obj, event)

    def rate_current(self, verdict: str) -> None:
        srow = self.current_row()
        if srow is None:
            return
        r = self.rows[self.model.item(srow, 0).data(Qt.UserRole)]
        self.store.rate(r["path"], verdict, self.note.text(), self.reviewer)
        self.model.item(srow, 5).setText(verdict)
        self.model.item(srow, 5).setData(verdict, SORT_ROLE)
        self.note.clear()
        self.status.setText(f"saved: {Path(r['path']).name} -> {verdict}")
        nxt = self.table.currentIndex().row() + 1
        if nxt < self.proxy.rowCount():
            self.table.selectRow(nxt)

    def export_csv(self, out: str | Path) -> Path:
        ratings = self.store.latest()
        out = Path(out)
        cols = list(self.rows[0].keys()) + ["review", "review_note", "reviewer", "reviewed_at"] if self.rows else []
        with open(out, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=cols)
            w.writeheader()
            for r in self.rows:
                rt = ratings.get(r["path"])
                w.writerow({**r, "review": rt.verdict if rt else "", "review_note": rt.note if rt else "",
                            "reviewer": rt.reviewer if rt else "", "reviewed_at": rt.at.isoformat() if rt else ""})
        return out

    def _export_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export reviewed results", str(self.results_csv.with_name("qc_reviewed.csv")), "CSV (*.csv)")
        if path:
            self.export_csv(path)
            self.status.setText(f"exported {path}")


assert set(KEYS.values()) == set(VERDICTS)
