"""QC review window: the batch results table (sortable, filterable), and for the selected file its
mosaics with the kept-mask outline, a VTK surface seen from the front, and the Grad-CAM of the
flagged output. One key rates the file (P pass, F face kept, B brain cut, 2 both, N not stripped, U unsure); the
rating is saved at once to the study store (core.study.qc_ratings: keyed by reviewer and by the file's
sha256, so a moved folder keeps its ratings and reviewers never see each other's as their own), a
confirmation stays on screen, and the next row is selected. Other reviewers' verdicts and the agreement
between reviewers are shown beside the reviewer's own."""

from __future__ import annotations

import csv
import getpass
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent, QObject, QSortFilterProxyModel, Qt
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (QComboBox, QFileDialog, QHBoxLayout, QLabel, QLineEdit, QMainWindow, QPushButton, QSplitter,
                               QTableView, QVBoxLayout, QWidget)

from app.qc.mosaic import MosaicView, to_pixmap
from core.study.qc_ratings import QCRatings, agreement, file_sha256
from core.study.schema import QC_VERDICTS as VERDICTS

COLS = [("file", "path"), ("AI verdict", "verdict"), ("P(face)", "p_face"), ("P(brain loss)", "p_brain_loss"),
        ("kept ml", "kept_ml"), ("review", None), ("other reviewers", "_others"),
        ("outside normal range", "outside_normal")]
REVIEW, OTHERS = 5, 6  # column indices
KEYS = {"P": "pass", "F": "face kept", "B": "brain cut", "2": "both", "N": "not stripped", "U": "unsure"}
SORT_ROLE = Qt.UserRole + 1


def cam_overlay(volume, cam: np.ndarray) -> np.ndarray:
    """Sagittal slice through the Grad-CAM peak with the map (on the volume grid, from
    SkullStripResult.cam_on_volume) blended in red; superior up, anterior right, so a face or a cut
    cap shows where it is."""
    from scipy import ndimage

    v = volume.voxels
    x = int(np.unravel_index(int(cam.argmax()), cam.shape)[2])
    sl = v[:, :, x]
    hi = float(np.percentile(sl[sl > 0], 99)) if (sl > 0).any() else 1.0
    g = np.clip(sl / max(hi, 1e-6), 0, 1)
    a = np.clip(cam[:, :, x], 0, 1)[..., None] * 0.6
    rgb = (1 - a) * g[..., None] + a * np.array([1.0, 0.1, 0.0])
    dz, dy, _ = volume.spacing
    rgb = ndimage.zoom(rgb[::-1], (dz / dy, 1, 1), order=1) if abs(dz - dy) > 0.05 else rgb[::-1]
    return (np.clip(rgb, 0, 1) * 255).astype(np.uint8)


class QCWindow(QMainWindow):
    def __init__(self, results_csv: str | Path, store: QCRatings | None = None, reviewer: str | None = None,
                 render_3d: bool = True) -> None:
        super().__init__()
        self.setWindowTitle("NeuroReview - skull-strip QC review (research use only)")
        if store is None:
            from core.study import StudyStore

            store = QCRatings(StudyStore())
        self.store = store
        self.reviewer = (reviewer or getpass.getuser()).strip()
        self.sha: list[str | None] = []  # per CSV row: the file's sha256 (None: the file is not there)
        self._shown_at = time.monotonic()
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
        header = self.table.horizontalHeader()
        header.setSortIndicatorShown(False)  # styles draw the arrow either way round: the heading says it in words
        header.sortIndicatorChanged.connect(self._sort_heading)
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
        lv.addWidget(QLabel("Keys: P pass, F face kept, B brain cut, 2 both, N not stripped, U unsure (saved at once)"))
        self.counter = QLabel("")
        self.counter.setObjectName("counter")
        self.agree_label = QLabel("")
        self.agree_label.setObjectName("agreement")
        lv.addWidget(self.counter)
        lv.addWidget(self.agree_label)
        self.title = QLabel("select a file")
        self.title.setWordWrap(True)
        self.why = QLabel("")  # the measures behind the verdict: its own row, so a long line wraps instead of being clipped
        self.why.setWordWrap(True)
        self.why.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.mosaic = MosaicView()
        self.open_btn = QPushButton("Open in viewer")
        self.open_btn.setToolTip("open this file in the NeuroReview viewer (a separate window)")
        self.open_btn.setFocusPolicy(Qt.NoFocus)
        self.open_btn.clicked.connect(lambda: self.open_in_viewer())
        self.confirm = QLabel("")  # the last saved rating: stays until the next one is saved
        self.confirm.setObjectName("confirm")
        self.confirm.setStyleSheet("color:#1a7f37;font-weight:600")
        self.front = QLabel()
        self.cam = QLabel()
        self.note = QLineEdit(placeholderText="optional note, saved with the next rating")
        self.status = QLabel("")
        right = QWidget()
        rv = QVBoxLayout(right)
        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        head.addWidget(self.open_btn, 0, Qt.AlignTop)
        rv.addLayout(head)
        rv.addWidget(self.why)
        rv.addWidget(self.mosaic)
        views = QHBoxLayout()
        for lab, w in (("3-D front view", self.front), ("Grad-CAM", self.cam)):
            box = QVBoxLayout()
            box.addWidget(QLabel(lab))
            box.addWidget(w)
            views.addLayout(box)
        rv.addLayout(views)
        rv.addWidget(self.note)
        rv.addWidget(self.confirm)
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
        self.sha = [r.get("sha256") or (file_sha256(r["path"]) if Path(r["path"]).is_file() else None)
                    for r in self.rows]
        ratings = self.store.latest([h for h in self.sha if h])
        self.model.setRowCount(0)
        for i, r in enumerate(self.rows):
            items = []
            mine, others = self._ratings_of(ratings, i)
            for _, key in COLS:
                if key is None:
                    text = mine.verdict if mine else ""
                elif key == "_others":
                    text = others
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
        self._refresh_counts(ratings)

    def _ratings_of(self, ratings: dict, i: int):
        """(this reviewer's newest rating of row i or None, the other reviewers' verdicts as text)."""
        per = ratings.get(self.sha[i], {}) if self.sha[i] else {}
        others = "; ".join(f"{rv}: {rec.verdict}" for rv, rec in sorted(per.items()) if rv != self.reviewer)
        return per.get(self.reviewer), others

    def _refresh_counts(self, ratings: dict | None = None) -> None:
        ratings = self.store.latest([h for h in self.sha if h]) if ratings is None else ratings
        done = sum(1 for h in self.sha if h and self.reviewer in ratings.get(h, {}))
        self.counter.setText(f"<b>{done} of {len(self.rows)} reviewed</b> by {self.reviewer}")
        self.agree_label.setText(agreement({h: ratings[h] for h in set(self.sha) if h in ratings}).text())

    def _sort_heading(self, col: int, order) -> None:
        for j, (name, _) in enumerate(COLS):
            arrow = (" \u25b2" if order == Qt.AscendingOrder else " \u25bc") if j == col else ""
            self.model.setHeaderData(j, Qt.Horizontal, name + arrow)

    def _apply_only(self, mode: str) -> None:
        for prow in range(self.model.rowCount()):
            r = self.rows[self.model.item(prow, 0).data(Qt.UserRole)]
            review = self.model.item(prow, REVIEW).text()
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
                           f"P(brain loss) {r['p_brain_loss']}  P(not stripped) {r.get('p_not_stripped', '')}")
        self.why.setText(f"why: {r.get('explanation') or r['outside_normal']}")
        self._shown_at = time.monotonic()
        if r["status"] != "ok":
            for w in (self.mosaic, self.front, self.cam):
                w.clear()
            self.status.setText(f"unreadable: {r['error']}")
            return
        from core.errors import NeuroReviewError
        from core.io import load
        try:
            vol = load(r["path"])
        except NeuroReviewError as exc:
            self.status.setText(f"cannot open {r['path']}: {exc.message}")
            return
        self.mosaic.set_volume(vol)
        if self.render_3d:
            from app.qc.render import render_front

            self.front.setPixmap(to_pixmap(render_front(vol, 300)))
        res = self.scorer.score(vol, intrinsic=True)  # the batch left the brain-intrinsic measures out of passing rows
        if not res.scorable:
            self.cam.clear()
            self.status.setText(res.explanation())
            return
        self.why.setText(f"why: {res.explanation() if res.flags == self._csv_flags(r) else r.get('explanation') or r['outside_normal']}")
        k = 0 if res.p_face >= res.p_brain_loss else 1  # the face or the cut (not stripped: the face it shows)
        self.cam.setPixmap(to_pixmap(cam_overlay(vol, res.cam_on_volume(k, vol))).scaled(300, 300, Qt.KeepAspectRatio, Qt.SmoothTransformation))
        self.status.setText(f"Grad-CAM of {'P(face)' if k == 0 else 'P(brain loss)'}; model {res.model.name} {res.model.version} on {res.model.provider}")

    @staticmethod
    def _csv_flags(r: dict) -> dict[str, bool]:
        return {lab: r.get(f"flag_{lab}") == "1" for lab in ("face", "brain_loss", "not_stripped")}

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
        i = self.model.item(srow, 0).data(Qt.UserRole)
        r = self.rows[i]
        if self.sha[i] is None or not Path(r["path"]).is_file():  # never rate what cannot be looked at
            self.confirm.setText("")
            self.status.setText(f"<span style='color:#d33'>not saved: {r['path']} is not there (moved?); "
                                f"run QC on its new folder to rate it</span>")
            return
        rec = self.store.rate(r["path"], verdict, self.reviewer, self.note.text(), sha256=self.sha[i],
                              seconds=time.monotonic() - self._shown_at)
        for prow in range(self.model.rowCount()):  # every row with this content (a copy is the same file)
            if self.sha[self.model.item(prow, 0).data(Qt.UserRole)] == self.sha[i]:
                self.model.item(prow, REVIEW).setText(verdict)
                self.model.item(prow, REVIEW).setData(verdict, SORT_ROLE)
        self.note.clear()
        self.confirm.setText(f"\u2713 saved: {Path(r['path']).name} \u2192 {verdict} ({self.reviewer}, "
                             f"{rec.rated_at:%H:%M:%S} UTC)")
        self._refresh_counts()
        nxt = self.table.currentIndex().row() + 1
        if nxt < self.proxy.rowCount():
            self.table.selectRow(nxt)

    def export_csv(self, out: str | Path) -> Path:
        """The results with this reviewer's rating, every other reviewer's, and whether they all agree."""
        ratings = self.store.latest([h for h in self.sha if h])
        out = Path(out)
        extra = ["sha256", "review", "review_note", "reviewer", "reviewed_at", "other_reviews", "reviewers_agree"]
        cols = [c for c in self.rows[0].keys() if c not in extra] + extra if self.rows else []
        with open(out, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=cols)
            w.writeheader()
            for i, r in enumerate(self.rows):
                mine, others = self._ratings_of(ratings, i)
                per = ratings.get(self.sha[i], {}) if self.sha[i] else {}
                same = "" if len(per) < 2 else ("yes" if len({x.verdict for x in per.values()}) == 1 else "no")
                w.writerow({**r, "sha256": self.sha[i] or "", "review": mine.verdict if mine else "",
                            "review_note": mine.note if mine else "", "reviewer": self.reviewer if mine else "",
                            "reviewed_at": mine.rated_at.isoformat() if mine else "", "other_reviews": others,
                            "reviewers_agree": same})
        return out

    def viewer_command(self, path: str) -> list[str]:
        return [sys.executable, "-m", "app", "view", path]

    def open_in_viewer(self, extra: tuple[str, ...] = ()) -> subprocess.Popen | None:
        """The selected file in the full viewer, as its own process (this window stays responsive)."""
        srow = self.current_row()
        if srow is None:
            return None
        path = self.rows[self.model.item(srow, 0).data(Qt.UserRole)]["path"]
        self.status.setText(f"opening {Path(path).name} in the viewer...")
        return subprocess.Popen([*self.viewer_command(path), *extra], start_new_session=True)

    def _export_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export reviewed results", str(self.results_csv.with_name("qc_reviewed.csv")), "CSV (*.csv)")
        if path:
            self.export_csv(path)
            self.status.setText(f"exported {path}")


assert set(KEYS.values()) == set(VERDICTS)
