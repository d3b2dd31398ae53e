"""The findings panel: run / cancel the bundled models in the background, per-series probabilities
with bars and flags at the model card's thresholds, basal-ganglia laterality, which models ran on
which device, and a per-slice strip chart whose click moves the cursor to that slice.

It renders `ViewerState` (findings, cursor, overlay label) and writes back only through the state:
`set_cursor` on a chart click, `set_overlay` (Grad-CAM) when a label row is chosen.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QFrame, QGridLayout, QHBoxLayout, QHeaderView, QLabel, QProgressBar,
                               QPushButton, QScrollArea, QSizePolicy, QStyle, QStyledItemDelegate, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from app.viewer.overlays import BG_LABELS, OverlayCache, apply_map
from app.viewer.scoring import ScoringOutcome, ScoringRunner
from core.errors import ModelError
from core.models.registry import ModelRegistry

LABEL_TEXT = {"any": "Any hemorrhage", "epidural": "Epidural", "intraparenchymal": "Intraparenchymal",
              "intraventricular": "Intraventricular", "subarachnoid": "Subarachnoid", "subdural": "Subdural",
              "bg_left": "Basal ganglia, left", "bg_right": "Basal ganglia, right",
              "face": "Face kept", "brain_loss": "Brain lost"}
# distinguishable on a dark plot; one per ICH label, then BG
MR_ROWS = ("face", "brain_loss")  # the skull-strip QC has no OOD guard of its own: never greyed by the CT verdict
LABEL_COLOURS = {"any": "#e8e8e8", "epidural": "#4dabf7", "intraparenchymal": "#ffa94d", "intraventricular": "#69db7c",
                 "subarachnoid": "#da77f2", "subdural": "#ff6b6b", "bg": "#ffd43b"}
PANEL_MIN_WIDTH = 340  # px: the bars, flags and chart stay legible
P_ROLE = Qt.UserRole + 1
THR_ROLE = Qt.UserRole + 2
LABEL_ROLE = Qt.UserRole + 3
GREY_ROLE = Qt.UserRole + 4  # the row's score is shown for reference only (input outside the training data)
FLAG_ROLE = Qt.UserRole + 5  # the row is flagged (red bar) as its Flag column says
OOD_TEXT = "Outside the model's training data: not scored"

_CACHES: "weakref.WeakKeyDictionary[Any, OverlayCache]" = weakref.WeakKeyDictionary()


def overlay_cache(state: Any) -> OverlayCache:
    """One cache of built maps per ViewerState, shared by the findings and overlay panels."""
    if state not in _CACHES:
        _CACHES[state] = OverlayCache()
    return _CACHES[state]


def scrolled(panel: QWidget) -> QWidget:
    """The page a panel lays its controls on, inside a scroll area filling the panel: a short dock
    scrolls instead of drawing the controls over each other."""
    page = QWidget()
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)  # the controls shrink to the width instead
    panel.setMinimumWidth(PANEL_MIN_WIDTH)
    area.setWidget(page)
    outer = QVBoxLayout(panel)
    outer.setContentsMargins(0, 0, 0, 0)
    outer.addWidget(area)
    return page


def _swatch(colour: str) -> QIcon:
    """The label's curve colour as a small square (text colours vanish on light or dark themes)."""
    pm = QPixmap(12, 12)
    pm.fill(QColor(colour))
    return QIcon(pm)


def ct_ood(ich: Any, bg: Any) -> Any:
    """The CT models' out-of-distribution verdict for the volume (one object shared by both results), or None."""
    for res in (ich, bg):
        if res is not None:
            return res.ood
    return None


def ood_message(ood: Any) -> str:
    """The verdict's reason, always starting with "Outside the model's training data: not scored"."""
    reason = ood.reason
    if reason.lower().startswith(OOD_TEXT.lower()):
        reason = reason[len(OOD_TEXT):].lstrip(" :")
    if not reason:
        return OOD_TEXT
    return f"{OOD_TEXT} {reason}" if reason.startswith("(") else f"{OOD_TEXT}: {reason}"


def bg_row_flagged(bg: Any, label: str, thresholds: dict[str, float]) -> bool:
    """A laterality row (bg_left / bg_right) is flagged when the scorer called that side (`BGResult.side`: it calls
    none outside the training data, when the ICH model flags no intraparenchymal hemorrhage, or when the geometry is unverified)
    and the side's probability reaches the card threshold."""
    side, thr = BG_LABELS[label], thresholds.get(label)
    return bg.side == side and thr is not None and bg.series_probs[side] >= thr


def laterality_summary(bg: Any, thresholds: dict[str, float], scored: bool) -> str:
    """The basal-ganglia line, derived from the same flags as the bg_left / bg_right rows so the two never disagree:
    a side is named (in red) only when its row is flagged."""
    if not scored:
        return "Basal-ganglia hemorrhage: <span style='color:#9aa0a6'>not scored</span> (input outside the model's training data)"
    flagged = [BG_LABELS[lab] for lab in BG_LABELS if bg_row_flagged(bg, lab, thresholds)]
    if flagged:
        text = " and ".join(f"<b style='color:#ff6b6b'>{side.upper()}</b>" for side in flagged)
    elif bg.side == "unverified":
        text = "side unverified (the loader could not verify the geometry): no side flagged"
    else:
        text = "no side flagged"
    return (f"Basal-ganglia hemorrhage: {text} (P hemorrhage {bg.p_hemorrhage:.3f}; "
            f"left {bg.series_probs['left']:.3f}, right {bg.series_probs['right']:.3f}; patient sides)")


class StripChart(pg.GraphicsLayoutWidget):
    """pyqtgraph's canvas with a modest preferred size (its default 600x480 made the panel's scroll
    page, sized by height-for-width, taller than any dock)."""

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(360, 150)


class ProbabilityBar(QStyledItemDelegate):
    """Paints P as a bar with the threshold as a tick; red when the row is flagged (FLAG_ROLE), grey when not scored."""

    def paint(self, painter: QPainter, option: Any, index: Any) -> None:
        super().paint(painter, option, index)
        p, thr = index.data(P_ROLE), index.data(THR_ROLE)
        if p is None:
            return
        r = option.rect.adjusted(4, 5, -48, -5)
        painter.save()
        painter.setRenderHint(QPainter.Antialiasing)
        painter.setPen(Qt.NoPen)
        painter.setBrush(QColor(60, 60, 60))
        painter.drawRect(r)
        grey = bool(index.data(GREY_ROLE))
        flagged = bool(index.data(FLAG_ROLE))
        painter.setBrush(QColor("#6b6b6b") if grey else QColor("#e03131") if flagged else QColor("#4c6ef5"))
        painter.drawRect(QRectF(r.x(), r.y(), r.width() * float(np.clip(p, 0, 1)), r.height()))
        if thr is not None:
            painter.setPen(QPen(QColor(230, 230, 230), 1))
            x = r.x() + r.width() * thr
            painter.drawLine(int(x), r.top() - 2, int(x), r.bottom() + 2)
        painter.setPen(QColor("#8a8a8a") if grey else option.palette.text().color())
        painter.drawText(option.rect.adjusted(0, 0, -4, 0), Qt.AlignRight | Qt.AlignVCenter, f"{p:.3f}")
        painter.restore()


class FindingsPanel(QWidget):
    """Findings of the bundled models for `state.volume`.

    FindingsPanel(state, runner=None, registry=None, parent=None): `runner` defaults to a new
    ScoringRunner(state) using the process-wide CT / MR scorers. `run(task=None)` and `cancel()` are
    what the buttons call; `shutdown()` before the window closes.
    """

    labelChosen = Signal(str)

    def __init__(self, state: Any, runner: ScoringRunner | None = None, registry: ModelRegistry | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.runner = runner or ScoringRunner(state, parent=self)
        self.cache = overlay_cache(state)
        reg = registry or ModelRegistry()
        self.thresholds = self._card_thresholds(reg)
        self._syncing = False
        self.scored = True  # False while the shown CT results are outside the models' training data
        self._rows: list[str] = []
        self._curves: dict[str, pg.PlotDataItem] = {}

        self.run_button = QPushButton("Run AI")
        self.run_button.setToolTip("Score this series with the bundled models (in the background)")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status = QLabel("Not scored yet")
        self.status.setWordWrap(True)
        self.ood_label = QLabel("")
        self.ood_label.setObjectName("ood")
        self.ood_label.setWordWrap(True)
        self.ood_label.setStyleSheet("color: #ffa94d; font-weight: bold;")
        self.ood_label.hide()
        self.models_label = QLabel("")
        self.models_label.setWordWrap(True)
        self.models_label.setStyleSheet("color: #9aa0a6;")
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Finding", "P (series)", "Flag"])
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)  # compact rows: 8 of them fit
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setItemDelegateForColumn(1, ProbabilityBar(self.table))
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(0, QHeaderView.ResizeToContents)
        hh.setSectionResizeMode(1, QHeaderView.Stretch)
        hh.setSectionResizeMode(2, QHeaderView.ResizeToContents)
        self.table.setToolTip("Click a finding to show its Grad-CAM overlay")
        self.summary = QLabel("")
        self.summary.setWordWrap(True)

        self.chart = StripChart()
        self.chart.setMinimumHeight(150)
        self.plot = self.chart.addPlot(row=0, col=0)
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.setLabel("bottom", "image")
        self.plot.setLabel("left", "P (per slice)")
        self.plot.setYRange(0, 1.0, padding=0.02)
        self.plot.showGrid(x=False, y=True, alpha=0.2)
        self.legend = QWidget()  # under the chart, so no curve is hidden behind it
        self.legend_grid = QGridLayout(self.legend)
        self.legend_grid.setContentsMargins(0, 0, 0, 0)
        self.legend_grid.setVerticalSpacing(0)
        self.cursor_line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#00e5ff", width=1.5))
        self.plot.addItem(self.cursor_line, ignoreBounds=True)
        self.threshold_line = pg.InfiniteLine(angle=0, pos=0.5, movable=False, pen=pg.mkPen((200, 200, 200, 110), style=Qt.DashLine))
        self.plot.addItem(self.threshold_line, ignoreBounds=True)
        # the chosen CT label's single-slice CNN curve (dotted): where the slice model and the series model disagree,
        # a reader sees it (stop 19: the bleed demo's subdural reaches 0.91 on single slices, 0.21 for the series)
        self.cnn_curve = pg.PlotDataItem()
        self.cnn_curve.setVisible(False)
        self.plot.addItem(self.cnn_curve)
        self.cnn_note = QLabel("")
        self.cnn_note.setWordWrap(True)
        self.cnn_note.setVisible(False)
        self.chart.scene().sigMouseClicked.connect(self._chart_clicked)
        self.chart.setToolTip("Per-slice probability (BiLSTM; BG: 1 - P(none); dotted: the chosen label's single-slice CNN); "
                             "click to go to a slice")

        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.progress, 1)
        self._page = scrolled(self)
        layout = QVBoxLayout(self._page)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(self.ood_label)
        layout.addWidget(self.table)
        layout.addWidget(self.summary)
        layout.addWidget(self.chart, 1)
        layout.addWidget(self.legend)
        layout.addWidget(self.cnn_note)
        layout.addWidget(self.models_label)
        self.table.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Maximum)

        self.run_button.clicked.connect(lambda: self.run())
        self.cancel_button.clicked.connect(self.cancel)
        self.table.itemSelectionChanged.connect(self._row_chosen)
        r = self.runner
        r.started.connect(self._on_started)
        r.progress.connect(self._on_progress)
        r.done.connect(self._on_done)
        r.failed.connect(self._on_failed)
        r.cancelled.connect(self._on_cancelled)
        r.finished.connect(self._on_finished)
        state.findingsChanged.connect(self.refresh)
        state.cursorChanged.connect(self._follow_cursor)
        state.overlayChanged.connect(self._follow_overlay)
        state.volumeChanged.connect(self._volume_changed)
        self._volume_changed()

    def sizeHint(self) -> QSize:  # noqa: N802 - the docks start at the size the controls need; they scroll when made smaller
        return self._page.sizeHint() + QSize(self.style().pixelMetric(QStyle.PM_ScrollBarExtent), 2)

    # -- public ---------------------------------------------------------------------------------
    def run(self, task: str | None = None) -> bool:
        """Start scoring the current volume ('ct' | 'mr' | None: by modality)."""
        return self.runner.start(task)

    def cancel(self) -> None:
        self.runner.cancel()
        self.status.setText("Cancelling...")

    def shutdown(self) -> None:
        self.runner.shutdown()

    def labels(self) -> list[str]:
        """Overlay labels of the rows, top to bottom."""
        return list(self._rows)

    def select_label(self, label: str) -> None:
        """Select a row as a click would (shows its Grad-CAM)."""
        self.table.selectRow(self._rows.index(label))

    def chosen_label(self) -> str | None:
        """The finding the reader is on: the overlay's label when it is a row here, else the selected row."""
        o = self.state.overlay
        if o.data is not None and o.label in self._rows:
            return o.label
        rows = sorted({i.row() for i in self.table.selectedItems()})
        return self._rows[rows[0]] if rows else None

    def peak_image(self, label: str, single_slice: bool = False) -> int | None:
        """0-based index of the image where `label` is most likely: the series model's per-slice output (BG: the
        side's probability), or with single_slice the CNN's own. None when this series has no such curve."""
        st = self.state
        if st.ich is not None and label in st.ich.labels:
            return st.ich.most_likely_slice(label, single_slice)
        if st.bg is not None and label in BG_LABELS and not single_slice:
            return st.bg.most_likely_slice(BG_LABELS[label])
        return None

    def go_to_peak(self, single_slice: bool = False) -> int | None:
        """Move the cursor to the chosen finding's most likely image (J; Shift+J: the single-slice CNN's peak), and
        say so in the status line; the finding "any" when none is chosen."""
        label = self.chosen_label() or ("any" if "any" in self._rows else None)
        z = None if label is None else self.peak_image(label, single_slice)
        if z is None:
            self.status.setText("No per-image curve for this finding" if label else "Nothing scored yet")
            return None
        self.state.set_cursor(z=z)
        which = "single-slice CNN" if single_slice else "series model"
        self.status.setText(f"Image {z + 1}: where {LABEL_TEXT.get(label, label).lower()} is most likely ({which})")
        return z

    def row_values(self) -> dict[str, tuple[float, bool]]:
        """label -> (P shown, flagged POSITIVE) as displayed."""
        return {self.table.item(i, 1).data(LABEL_ROLE): (float(self.table.item(i, 1).data(P_ROLE)),
                                                         self.table.item(i, 2).text() == "POSITIVE")
                for i in range(self.table.rowCount())}

    def row_flags(self) -> dict[str, str]:
        """label -> the flag column's text ('POSITIVE', '', 'not scored')."""
        return {self.table.item(i, 1).data(LABEL_ROLE): self.table.item(i, 2).text() for i in range(self.table.rowCount())}

    # -- runner feedback ------------------------------------------------------------------------
    def _on_started(self) -> None:
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setRange(0, 0)
        self.status.setStyleSheet("")
        self.status.setText("Starting...")

    def _on_progress(self, stage: str, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat(f"{stage} %p%")
        self.status.setText(f"{stage}...")

    def _on_done(self, outcome: ScoringOutcome) -> None:
        self.status.setStyleSheet("")
        self.status.setText(f"Scored in {outcome.seconds:.1f} s")

    def _on_failed(self, message: str) -> None:
        self.status.setStyleSheet("color: #ff6b6b;")
        self.status.setText(f"Cannot score: {message}")

    def _on_cancelled(self) -> None:
        self.status.setStyleSheet("")
        self.status.setText("Scoring cancelled")

    def _on_finished(self, status: str) -> None:
        self.run_button.setEnabled(self.state.volume is not None)
        self.cancel_button.setEnabled(False)
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if status == "done" else 0)
        self.progress.setFormat(status)
        if status == "discarded":
            self.status.setText("Results discarded: another series was opened")

    # -- state -> widgets -----------------------------------------------------------------------
    @staticmethod
    def _card_thresholds(reg: ModelRegistry) -> dict[str, float]:
        """Flags use the cards' thresholds (series probabilities come from the BiLSTM)."""
        thr: dict[str, float] = {}
        for name in ("ich_bilstm", "bg_laterality", "skullstrip_qc"):
            try:
                t = reg.card(name).thresholds
            except ModelError:  # no such card: rows say 'no threshold in the card'; scoring reports the missing model
                continue
            if name == "bg_laterality":
                thr.update({lab: float(t.get("hemorrhage", 0.5)) for lab in BG_LABELS})
            else:
                thr.update({k: float(v) for k, v in t.items()})
        return thr

    def _volume_changed(self) -> None:
        running = self.runner.is_running()
        self.run_button.setEnabled(self.state.volume is not None and not running)
        if not running:
            self.status.setStyleSheet("")
            self.status.setText("Not scored yet" if self.state.volume is not None else "No series open")
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            self.progress.setFormat("")
        self.refresh()

    def refresh(self) -> None:
        """Rebuild rows, summary, chart and model line from the state's findings."""
        st = self.state
        ood = ct_ood(st.ich, st.bg)
        self.scored = ood is None or bool(ood.in_distribution)
        self.ood_label.setVisible(not self.scored)
        if not self.scored:
            self.ood_label.setText(f"{ood_message(ood)} (OOD score {ood.score:.3g} > {ood.threshold:.3g}). "
                                   "The scores below are shown greyed for reference; nothing is flagged.")
        rows: list[tuple[str, float, float | None]] = []
        if st.ich is not None:
            rows += [(lab, st.ich.series_probs[lab], self.thresholds.get(lab)) for lab in st.ich.labels]
        if st.bg is not None:
            rows += [(lab, st.bg.series_probs[side], self.thresholds.get(lab)) for lab, side in BG_LABELS.items()]
        if st.qc is not None:
            rows += [("face", st.qc.p_face, st.qc.thresholds["face"]), ("brain_loss", st.qc.p_brain_loss, st.qc.thresholds["brain_loss"])]
        self._syncing = True
        try:
            self.table.clearSelection()
            self.table.setRowCount(len(rows))
            self._rows = [r[0] for r in rows]
            for i, (lab, p, thr) in enumerate(rows):
                name = QTableWidgetItem(LABEL_TEXT.get(lab, lab))
                colour = LABEL_COLOURS.get("bg" if lab in BG_LABELS else lab)
                if colour:
                    name.setIcon(_swatch(colour))
                bar = QTableWidgetItem("")
                bar.setData(P_ROLE, float(p))
                bar.setData(THR_ROLE, None if thr is None else float(thr))
                bar.setData(LABEL_ROLE, lab)
                grey = not self.scored and lab not in MR_ROWS
                bar.setData(GREY_ROLE, grey)
                flagged = not grey and thr is not None and p >= thr
                if lab in BG_LABELS:  # the scorer's side call, as the summary line says it
                    flagged = not grey and bg_row_flagged(st.bg, lab, self.thresholds)
                bar.setData(FLAG_ROLE, flagged)
                flag = QTableWidgetItem("not scored" if grey else "POSITIVE" if flagged else "")
                if flagged:
                    flag.setForeground(QBrush(QColor("#ff6b6b")))
                if grey:
                    for item in (name, flag):
                        item.setForeground(QBrush(QColor("#8a8a8a")))
                flag.setToolTip(OOD_TEXT if grey else f"flag at P >= {thr:.2f} (model card)" if thr is not None
                                else "no threshold in the card")
                for col, item in enumerate((name, bar, flag)):
                    self.table.setItem(i, col, item)
            self.table.setFixedHeight(self.table.horizontalHeader().sizeHint().height() + self.table.verticalHeader().length()
                                      + 2 * self.table.frameWidth() + 2)
        finally:
            self._syncing = False
        if rows and not self.runner.is_running() and self.status.text() in ("Not scored yet", "No series open"):
            self.status.setText("Findings of this series")
        self._refresh_summary()
        self._refresh_chart()
        self._follow_overlay()

    def _refresh_summary(self) -> None:
        st = self.state
        parts, models = [], []
        if st.bg is not None:
            parts.append(laterality_summary(st.bg, self.thresholds, self.scored))
        if st.ich is not None and st.ich.slabs is not None:  # core.tasks.slabs: say what the models read
            parts.append(f"<span style='color:#9a9a9a'>{st.ich.slabs.describe().capitalize()}.</span>")
        if st.qc is not None:
            parts.append(f"Skull-strip QC verdict: <b>{st.qc.verdict}</b>")
        self.summary.setText("<br>".join(parts))
        self.summary.setVisible(bool(parts))
        if st.ich is not None:
            models += st.ich.models
        if st.bg is not None:
            models.append(st.bg.model)
        if st.qc is not None:
            models.append(st.qc.model)
        if models:
            devices = sorted({f"{m.device} ({m.provider})" for m in models})
            self.models_label.setText("Models: " + ", ".join(f"{m.name} {m.version}" for m in models) + " on " + "; ".join(devices)
                                      + ". Research software, not for clinical use (model cards: training data and limits).")
        else:
            self.models_label.setText("")

    def _refresh_chart(self) -> None:
        st = self.state
        for c in self._curves.values():
            self.plot.removeItem(c)
        self._curves = {}
        has_slices = st.ich is not None or st.bg is not None
        self.chart.setVisible(has_slices)
        if not has_slices:
            return
        nz = st.volume.shape[0] if st.volume is not None else 1
        z = np.arange(nz) + 1  # image numbers as the views' corner text counts them ("Image 28 of 37")
        if st.ich is not None:
            for j, lab in enumerate(st.ich.labels):
                self._curves[lab] = self.plot.plot(z, st.ich.slice_probs[:, j], pen=pg.mkPen(self._colour(lab), width=1.5))
        if st.bg is not None:
            self._curves["bg"] = self.plot.plot(z, 1.0 - st.bg.slice_probs[:, 0], pen=pg.mkPen(self._colour("bg"), width=1.5, style=Qt.DashLine))
        self._fill_legend()
        self.plot.setXRange(0.5, nz + 0.5, padding=0)
        self._follow_cursor()

    def _colour(self, key: str) -> str:
        """The label's curve colour; grey for every CT curve when the input is outside the training data."""
        return LABEL_COLOURS.get(key, "#ffffff") if self.scored else "#6b6b6b"

    def legend_entries(self) -> list[str]:
        return [self.legend_grid.itemAt(i).widget().toolTip() for i in range(self.legend_grid.count())]

    def _fill_legend(self) -> None:
        """A line sample per curve (dashed for the basal-ganglia curve), three to a row (fits a 340 px dock)."""
        while self.legend_grid.count():
            self.legend_grid.takeAt(0).widget().deleteLater()
        for i, lab in enumerate(self._curves):
            name = "basal ganglia" if lab == "bg" else lab
            item = QLabel(name)
            font = item.font()
            font.setPointSizeF(font.pointSizeF() * 0.9)
            item.setFont(font)
            sample = QPixmap(22, 12)
            sample.fill(QColor("#202020"))
            p = QPainter(sample)
            p.setPen(QPen(QColor(self._colour(lab)), 2.5, Qt.DashLine if lab == "bg" else Qt.SolidLine))
            p.drawLine(2, 6, 20, 6)
            p.end()
            box = QWidget()
            row = QHBoxLayout(box)
            row.setContentsMargins(0, 0, 6, 0)
            row.setSpacing(3)
            mark = QLabel()
            mark.setPixmap(sample)
            row.addWidget(mark)
            row.addWidget(item, 1)
            box.setToolTip(name if lab != "bg" else "basal ganglia")
            self.legend_grid.addWidget(box, i // 3, i % 3)
            box.show()  # a child added to a visible widget is shown only on the next event loop pass otherwise

    def _follow_cursor(self) -> None:
        self.cursor_line.setValue(self.state.cursor[0] + 1)

    def _follow_overlay(self) -> None:
        """Keep the selected row and the highlighted curve on the overlay's label."""
        label = self.state.overlay.label if self.state.overlay.data is not None else None
        for lab, curve in self._curves.items():
            key = "bg" if lab == "bg" else lab
            chosen = label == lab or (lab == "bg" and label in BG_LABELS)
            curve.setPen(pg.mkPen(self._colour(key), width=3.5 if chosen else 1.5,
                                  style=Qt.DashLine if lab == "bg" else Qt.SolidLine))
        self._show_cnn_curve(label)
        self._syncing = True
        try:
            if label in self._rows:
                i = self._rows.index(label)
                if self.table.currentRow() != i or not self.table.selectedItems():
                    self.table.selectRow(i)
            else:
                self.table.clearSelection()
        finally:
            self._syncing = False

    def _show_cnn_curve(self, label: str | None) -> None:
        """The chosen ICH label's per-slice CNN probability, dotted in the label's colour, with a line that says what
        it is: the slice model alone, without the series around it; the flag stays the series model's."""
        ich = self.state.ich
        if ich is None or label not in ich.labels:
            self.cnn_curve.setVisible(False)
            self.cnn_note.setVisible(False)
            return
        p = ich.cnn_slice_probs[:, ich.labels.index(label)]
        self.cnn_curve.setData(np.arange(len(p)) + 1, p)
        self.cnn_curve.setPen(pg.mkPen(self._colour(label), width=2, style=Qt.DotLine))
        self.cnn_curve.setVisible(True)
        top = ich.most_likely_slice(label, single_slice=True)
        self.cnn_note.setText(f"<span style='color:#b0b0b0'>Dotted: {label}, single-slice CNN without series context "
                              f"(max {float(p[top]):.2f} on image {top + 1}); the flag is the series model's "
                              f"({ich.series_probs[label]:.2f}).</span>")
        self.cnn_note.setVisible(True)

    # -- widgets -> state -----------------------------------------------------------------------
    def _row_chosen(self) -> None:
        if self._syncing:
            return
        rows = {i.row() for i in self.table.selectedItems()}
        if not rows or self.state.volume is None:
            return
        label = self._rows[min(rows)]
        st = self.state
        m = self.cache.gradcam(st.volume, label, st.ich, st.bg, st.qc)
        apply_map(st.set_overlay, st.overlay, m)
        self.labelChosen.emit(label)

    def _chart_clicked(self, event: Any) -> None:
        if self.state.volume is None or not self.chart.isVisible():
            return
        vb = self.plot.getViewBox()
        pos = event.scenePos()
        if not vb.sceneBoundingRect().contains(pos):
            return
        nz = self.state.volume.shape[0]
        z = min(max(int(round(vb.mapSceneToView(pos).x())) - 1, 0), nz - 1)  # image number -> slice index
        self.state.set_cursor(z=z)
