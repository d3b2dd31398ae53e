"""The reading window: a reader reads the study's cases in their own order, blinded to the truth and, until
their unaided read of a case is saved, to the model.

Left: the case in the viewer's linked views (axial, coronal, sagittal with linear through-slice MPR; L shows
the axial alone), loaded off the GUI thread; wheel or Up/Down/PageUp/PageDown scroll, keys 1-6 switch window
presets, right-drag changes W/L, S a 10 mm MIP. Corner text is anonymised. Right: the case ID and "n of N",
the answer rows (nothing preselected), "Save read" (commits at once) and "Next case" (locked until the read
is saved). An unaided read needs no mouse: a row key per finding (Q W E ...), P / A, a confidence key
(Z X C V B) and Enter (keys in `app.viewer.keys.READING_SHORTCUTS`, listed on F1).
In a study with the aided arm, saving the unaided read reveals the model's stored findings, its Grad-CAM
maps (computed with core.tasks on this volume) and the agreement / final answer / heat-map rating rows; outputs
stored outside the models' training data (score-cases keeps the verdict) are greyed as "not scored" at once.
Closing and reopening resumes at the first unread step.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (QApplication, QComboBox, QDialog, QDialogButtonBox, QFormLayout, QFrame, QGridLayout,
                               QHBoxLayout, QLabel, QMainWindow, QPushButton, QScrollArea, QSplitter, QVBoxLayout, QWidget)

from sqlalchemy.exc import SQLAlchemyError

from app.study.answers import AidedRows, UnaidedRows
from app.viewer.keys import READ_PROBABILITIES, READ_ROW_KEYS, READ_SCORE_KEYS
from core.study import CaseView, ReaderSession, StudyError, StudyStore

PRESET_KEYS = {Qt.Key_1: "brain", Qt.Key_2: "subdural", Qt.Key_3: "soft_tissue", Qt.Key_4: "bone",
               Qt.Key_5: "stroke", Qt.Key_6: "acute_blood"}
PRESET_HINT = "keys 1-6: " + ", ".join(f"{i} {n.replace('_', ' ')}" for i, n in enumerate(PRESET_KEYS.values(), 1))


PLANES = ("axial", "coronal", "sagittal")
KEY_HINT = ("keys: Q W E ... choose a finding, P present / A absent, Z X C V B confidence 1-5, Enter save; "
            "Up/Down slices, N next view, L layout, S MIP, F1 all keys")


class ImagePane(QWidget):
    """The case in the viewer's linked views (SliceViews on one ViewerState), loaded in the background."""

    loaded = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from app.viewer.open_dialog import BackgroundLoader
        from app.viewer.slice_view import SliceView
        from app.viewer.state import ViewerState

        self.state = ViewerState()
        self.state.set_corner(anonymised=True)  # a reader study shows no patient lines
        self.views = {o: SliceView(self.state, o, self) for o in PLANES}
        self.view = self.views["axial"]
        for o, v in self.views.items():
            v.setFocusPolicy(Qt.StrongFocus)
            v.activated.connect(self.set_active)
        self.active = "axial"
        self.layout_name = "3"
        self.grid_host = QWidget(self)
        self.grid = QGridLayout(self.grid_host)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(2)
        self.caption = QLabel(PRESET_HINT + "; " + KEY_HINT)
        self.caption.setWordWrap(True)
        self.caption.setStyleSheet("color: #bbb; padding: 2px;")
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #ff9c8a; padding: 4px;")
        self.message.hide()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.grid_host, 1)
        lay.addWidget(self.message)
        lay.addWidget(self.caption)
        self.loader = BackgroundLoader(self)
        self.loader.loaded.connect(self._loaded)
        self.loader.failed.connect(self._failed)
        self._case: CaseView | None = None
        self.set_layout("3")
        self.set_active("axial")

    def set_layout(self, name: str) -> None:
        """'3': axial large with coronal and sagittal beside it; '1': the active view alone."""
        self.layout_name = name
        for v in self.views.values():
            self.grid.removeWidget(v)
            v.hide()
        if name == "3":
            self.grid.addWidget(self.views["axial"], 0, 0, 2, 1)
            self.grid.addWidget(self.views["coronal"], 0, 1)
            self.grid.addWidget(self.views["sagittal"], 1, 1)
            self.grid.setColumnStretch(0, 2)
            self.grid.setColumnStretch(1, 1)
        else:
            self.grid.addWidget(self.views[self.active], 0, 0, 2, 2)
        for o, v in self.views.items():
            v.setVisible(name == "3" or o == self.active)
            v.set_crosshair_visible(name == "3")  # one plane alone: the crosshair would mark nothing
        QTimer.singleShot(0, self, self.fit)  # bound to the pane: dropped if it is gone

    def set_active(self, orientation: str) -> None:
        self.active = orientation
        for o, v in self.views.items():
            v.set_active(o == orientation)
        if self.layout_name == "1":
            self.set_layout("1")

    def next_view(self) -> None:
        self.set_active(PLANES[(PLANES.index(self.active) + 1) % len(PLANES)])

    def fit(self) -> None:
        for v in self.views.values():
            if v.isVisible():
                v.fit()

    def show_case(self, case: CaseView) -> None:
        """Start loading the case in the background (the window stays responsive); `loaded` fires when shown."""
        self.state.set_overlay(kind=None, label=None, data=None, legend="")
        self.state.set_findings(ich=None, bg=None, qc=None)
        self.state.set_volume(None)
        self._case = case
        self.message.setText(f"loading case {case.case_id} ...")
        self.message.setStyleSheet("color: #bbb; padding: 4px;")
        self.message.show()
        self.loader.load(case.path, case.series_uid)

    def _loaded(self, _path: str, vol) -> None:
        from app.viewer.header_facts import series_facts

        self.message.hide()
        self.state.set_volume(vol)
        try:
            self.state.set_facts(series_facts(vol))
        except Exception as exc:  # the corner text is a nicety: the case still shows
            self.message.setText(f"header facts unavailable: {exc}")
            self.message.show()
        self.fit()
        self.loaded.emit()

    def _failed(self, _path: str, message: str) -> None:
        self.state.set_volume(None)
        self.message.setStyleSheet("color: #ff9c8a; padding: 4px;")
        self.message.setText(f"cannot show case {self._case.case_id if self._case else ''}: {message}")
        self.message.show()
        self.loaded.emit()

    def set_preset(self, name: str) -> None:
        self.state.set_preset(name)

    def step(self, n: int) -> None:
        if self.state.volume is not None:
            self.views[self.active].step(n)

    def toggle_slab(self) -> None:
        on = self.state.mpr.slab_mm <= 0
        self.state.set_mpr(slab_mode="mip", slab_mm=10.0 if on else 0.0)


class ReadingWindow(QMainWindow):
    def __init__(self, store: StudyStore, study: str, reader: str, compute_maps: bool = True) -> None:
        super().__init__()
        self.session = ReaderSession(store, study, reader)
        self.compute_maps = compute_maps
        self.case: CaseView | None = None
        self.saved = False  # the current step's read is committed
        self.correcting: str | None = None  # case ID while the reader corrects a finished case
        self.unaided: UnaidedRows | None = None
        self.aided: AidedRows | None = None
        self.verdict_stored = False  # the aided step's model outputs carry the stored out-of-distribution verdict
        self._runner = None
        self.setWindowTitle(f"NeuroReview reading - {study} - {reader} (research use only)")

        self.image = ImagePane(self)
        self.image.loaded.connect(self._case_loaded)
        self.key_row = 0  # the finding the answer keys apply to
        side = QWidget(self)
        self.side = side
        v = QVBoxLayout(side)
        self.header = QLabel()
        self.header.setObjectName("header")
        self.header.setStyleSheet("font-size: 15px; font-weight: bold;")
        self.progress_label = QLabel()
        self.progress_label.setObjectName("progress")
        self.step_label = QLabel()
        self.step_label.setObjectName("step")
        self.step_label.setWordWrap(True)
        v.addWidget(self.header)
        v.addWidget(self.progress_label)
        v.addWidget(self.step_label)
        self.key_label = QLabel("")
        self.key_label.setObjectName("key_row")
        self.key_label.setStyleSheet("color: #2a6fb0;")
        v.addWidget(self.key_label)
        self.rows_holder = QVBoxLayout()
        v.addLayout(self.rows_holder)
        self.map_legend = QLabel("")
        self.map_legend.setObjectName("map_legend")
        self.map_legend.setWordWrap(True)
        v.addWidget(self.map_legend)
        self.status = QLabel("")
        self.status.setObjectName("status")
        self.status.setWordWrap(True)
        v.addWidget(self.status)
        v.addStretch(1)
        buttons = QHBoxLayout()
        self.back_btn = QPushButton("Go back...")
        self.back_btn.setObjectName("back")
        self.back_btn.setToolTip("look at a case you finished again and correct your read (the old read is kept)")
        self.back_btn.clicked.connect(self.go_back)
        buttons.addWidget(self.back_btn)
        self.save_btn = QPushButton("Save read")
        self.save_btn.setObjectName("save")
        self.save_btn.setShortcut(QKeySequence("Ctrl+S"))
        self.next_btn = QPushButton("Next case")
        self.next_btn.setObjectName("next")
        self.next_btn.setShortcut(QKeySequence("Ctrl+N"))
        buttons.addWidget(self.save_btn)
        buttons.addWidget(self.next_btn)
        v.addLayout(buttons)
        self.save_btn.clicked.connect(self.save)
        self.next_btn.clicked.connect(self.next_case)
        self._step_started = time.monotonic()
        self._tick = QTimer(self)  # counts down the study's minimum reading time
        self._tick.setInterval(500)
        self._tick.timeout.connect(self._update_buttons)

        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.NoFrame)
        scroll.setWidget(side)
        split = QSplitter(Qt.Horizontal, self)
        split.addWidget(self.image)
        split.addWidget(scroll)
        split.setStretchFactor(0, 1)  # the views take what the answer panel does not need (and any resize)
        split.setStretchFactor(1, 0)
        self.setCentralWidget(split)
        self._split, self._side_scroll = split, scroll
        self.resize(1500, 820)
        split.setSizes([850, 650])  # three views want the room
        self.load_step()

    # -- steps ----------------------------------------------------------------------------------
    def _clear_rows(self) -> None:
        for w in (self.unaided, self.aided):
            if w is not None:
                w.setParent(None)
                w.deleteLater()
        self.unaided = self.aided = None
        self.map_legend.setText("")

    def load_step(self) -> None:
        """Show the reader's current step: the next unread case (unaided), or its aided step."""
        if self._runner is not None:
            self._runner.shutdown()
            self._runner = None
        self._clear_rows()
        previous = None if self.correcting else self.case
        self.correcting = None
        self.case = self.session.current_case()
        self.saved = False
        done, total = self.session.progress()
        if self.case is None:
            self.header.setText("All cases read")
            self.progress_label.setText(f"{done} of {total} cases finished. Thank you.")
            self.step_label.setText("")
            self.status.setText("")
            self.save_btn.setEnabled(False)
            self.next_btn.setEnabled(False)
            self.image.state.set_volume(None)
            return
        c = self.case
        self.header.setText(f"Case {c.case_id}")
        self.progress_label.setText(f"{c.position} of {c.total}  ({done} finished)")
        if previous is None or previous.case_id != c.case_id:
            self.image.show_case(c)
        self._step_started = time.monotonic()
        if c.arm == "unaided":
            if self.session.min_seconds > 0:
                self._tick.start()
            self.step_label.setText("Unaided read: answer every finding, with your confidence. "
                                    "Nothing is preselected; the read is saved when you press Save read.")
            self.unaided = UnaidedRows(self.session.labels, self.session.score_kind, self.side)
            self.unaided.changed.connect(self._update_buttons)
            self.rows_holder.addWidget(self.unaided)
            self.unaided.show()  # a layout shows a late-added child only on the next event loop turn
            self.save_btn.setText("Save read")
        else:
            findings = self.session.model_findings()  # allowed: the unaided read of this case is saved
            self.step_label.setText("Aided step: the model's findings are shown. For each finding, agree or "
                                    "disagree (that sets your final answer), give your confidence, and rate the "
                                    "heat map of each finding the model calls present.")
            self.aided = AidedRows(self.session.labels, self.session.score_kind, findings, self.side)
            self._stored_verdict(findings)
            self.aided.changed.connect(self._update_buttons)
            self.aided.show_map.connect(self.show_map)
            self.rows_holder.addWidget(self.aided)
            self.aided.show()
            self.save_btn.setText("Save aided read")
            self._start_maps()
        self.status.setText("")
        self.select_row(0)
        self._update_buttons()
        QTimer.singleShot(0, self, self._fit_side)  # after the new rows are laid out

    def _fit_side(self) -> None:
        """Widen the answer panel to its rows' width (the aided rows with confidence buttons are wide), so a
        reader never has to scroll sideways to answer; the views keep at least 420 px."""
        need = self.side.minimumSizeHint().width() + self._side_scroll.verticalScrollBar().sizeHint().width() + 4
        image_w, side_w = self._split.sizes()
        if side_w < need:
            total = image_w + side_w
            side = min(need, total - 420)
            self._split.setSizes([total - side, side])

    def remaining_seconds(self) -> float:
        """Seconds left of the study's minimum reading time (unaided step only)."""
        if self.unaided is None or self.correcting is not None or self.saved:
            return 0.0
        return max(0.0, self.session.min_seconds - (time.monotonic() - self._step_started))

    def _update_buttons(self) -> None:
        rows = self.unaided or self.aided
        missing = rows.missing() if rows is not None else []
        wait = self.remaining_seconds()
        if wait <= 0:
            self._tick.stop()
        self.save_btn.setEnabled(not self.saved and not missing and wait <= 0)
        self.next_btn.setEnabled(self.saved or self.correcting is not None)
        self.back_btn.setEnabled(self.correcting is None and bool(self.session.finished()))
        if not self.saved and (missing or wait > 0):
            parts = [f"to answer: {', '.join(missing)}"] if missing else []
            if wait > 0:
                parts.append(f"this study asks for at least {self.session.min_seconds:g} s per case: "
                             f"Save in {math.ceil(wait)} s")
            self.status.setText(f"<span style='color:#888'>{'; '.join(parts)}</span>")
        elif not self.saved:
            self.status.setText("")

    def save(self) -> None:
        if self.saved or self.case is None:
            return
        try:
            if self.correcting is not None:
                rows = self.unaided or self.aided
                new = self.session.correct(self.correcting, rows.answers())
                self.saved = True
                rows.set_enabled(False)
                self.status.setText(f"<span style='color:#2a2'>correction saved (read {new}; your earlier read is "
                                    f"kept in the audit trail)</span>")
                self._update_buttons()
                return
            if self.unaided is not None:
                self.session.save_unaided(self.unaided.answers())
            elif self.aided is not None:
                self.session.save_aided(self.aided.answers())
        except StudyError as exc:
            self.status.setText(f"<span style='color:#d33'>not saved: {exc.message}</span>")
            return
        except SQLAlchemyError as exc:  # e.g. the shared PostgreSQL server is unreachable: say so, keep the answers
            why = " ".join(str(getattr(exc, "orig", exc)).split())
            self.status.setText(f"<span style='color:#d33'>NOT saved, the database did not answer ({why}); "
                                f"your answers are still here: press Save again</span>")
            return
        self.saved = True
        rows = self.unaided or self.aided
        rows.set_enabled(False)
        self.status.setText("<span style='color:#2a2'>saved</span>")
        if self.unaided is not None and "aided" in self.session.arms:
            self.next_btn.setText("Show model findings")
        else:
            self.next_btn.setText("Next case")
        self._update_buttons()

    def next_case(self) -> None:
        if not self.saved and self.correcting is None:
            return
        self.next_btn.setText("Next case")
        self.load_step()

    # -- going back -----------------------------------------------------------------------------
    def go_back(self) -> None:
        from PySide6.QtWidgets import QInputDialog

        done = self.session.finished()
        if not done:
            return
        items = [f"{i}. {cid}" for i, cid in enumerate(done, 1)]
        item, ok = QInputDialog.getItem(self, "Go back", "case to look at again (your unsaved answers on the "
                                        "current case are dropped):", items, len(items) - 1, False)
        if ok and item:
            self.open_correction(done[items.index(item)])

    def open_correction(self, case_id: str) -> None:
        """Show a finished case with the reader's own latest read, ready to be corrected."""
        if self._runner is not None:
            self._runner.shutdown()
            self._runner = None
        self._clear_rows()
        self.correcting = case_id
        self.saved = False
        self.case = self.session.case(case_id)
        old = self.session.my_read(case_id)
        self.header.setText(f"Case {case_id} (correction)")
        self.progress_label.setText(f"{self.case.position} of {self.case.total}; your reading resumes where you were")
        self.image.show_case(self.case)
        if self.session.correction_arm == "aided":
            findings = self.session.model_findings(case_id)
            self.aided = AidedRows(self.session.labels, self.session.score_kind, findings, self.side)
            self._stored_verdict(findings)
            self.aided.fill(old.answers, old.agreements, old.ratings)
            self.aided.changed.connect(self._update_buttons)
            self.aided.show_map.connect(self.show_map)
            self.rows_holder.addWidget(self.aided)
            self.aided.show()
            self.step_label.setText("Correcting your aided read of this case: change what you need and save; "
                                    "the earlier read stays in the audit trail. (The unaided read cannot change once "
                                    "the model's findings were shown.)")
            self._start_maps()
        else:
            self.unaided = UnaidedRows(self.session.labels, self.session.score_kind, self.side)
            self.unaided.fill(old.answers)
            self.unaided.changed.connect(self._update_buttons)
            self.rows_holder.addWidget(self.unaided)
            self.unaided.show()
            self.step_label.setText("Correcting your read of this case: change what you need and save; the earlier "
                                    "read stays in the audit trail.")
        self.save_btn.setText("Save correction")
        self.next_btn.setText("Back to reading")
        self.status.setText("")
        self.select_row(0)
        self._update_buttons()
        QTimer.singleShot(0, self, self._fit_side)  # after the new rows are laid out

    def _stored_verdict(self, findings) -> None:
        """The out-of-distribution verdict score-cases stored with the model's outputs: outside the training data,
        the calls are greyed at once (no live scoring needed). Outputs stored without a verdict leave it to the
        live scoring of the heat maps (`_maps_ready`)."""
        self.verdict_stored = any(f.ood is not None for f in findings.values())
        outside = [f for f in findings.values() if f.outside]
        if outside:
            from app.viewer.findings import ood_message

            self.aided.set_out_of_distribution(ood_message(outside[0].ood))

    # -- heat maps (aided step only) ------------------------------------------------------------
    def _case_loaded(self) -> None:
        if self.aided is not None and self._runner is None:
            self._start_maps()  # the aided step began while the case was still loading

    def _start_maps(self) -> None:
        vol = self.image.state.volume
        if self.compute_maps and vol is None and self.image.loader.busy_now:
            self.map_legend.setText("heat maps: waiting for the case to load")
            return
        if not self.compute_maps or vol is None:
            self.map_legend.setText("heat maps: not available for this case" if vol is None else "")
            return
        from app.viewer.scoring import BackgroundRunner, shared_ct_scorer

        self.map_legend.setText("computing heat maps...")
        self._runner = BackgroundRunner(self)
        self._runner.succeeded.connect(self._maps_ready)
        self._runner.failed.connect(lambda msg: self.map_legend.setText(f"heat maps unavailable: {msg}"))
        self._runner.start(lambda job: (vol, shared_ct_scorer().score_ich(vol)))

    def _maps_ready(self, result) -> None:
        vol, ich = result
        if self.aided is None or vol is not self.image.state.volume:
            return
        self.image.state.set_findings(ich=ich)
        # never a confident call on what the model does not know: the stored verdict decides when there is one
        # (set with the rows), the live one only for outputs stored without a verdict
        if not self.verdict_stored and ich.ood is not None and not ich.ood.in_distribution:
            from app.viewer.findings import ood_message

            self.aided.set_out_of_distribution(ood_message(ich.ood))
        labels = [lab for lab in self.session.labels if lab in ich.labels]
        self.aided.enable_maps(labels)
        # the most likely specific finding first: 'any' maps are the least focused (seed 002 saw the same)
        positive = [lab for lab in labels if self.aided.findings[lab].present]
        specific = [lab for lab in positive if lab != "any"]
        first = max(specific or positive or labels, key=lambda lab: self.aided.findings[lab].probability, default=None)
        if first:
            self.show_map(first)

    def show_map(self, label: str) -> None:
        from app.viewer.overlays import apply_map, gradcam_overlay

        st = self.image.state
        if st.ich is None or self.aided is None:
            return
        m = gradcam_overlay(st.volume, label, ich=st.ich)
        apply_map(st.set_overlay, st.overlay, m)
        peak = int(m.data.reshape(m.data.shape[0], -1).max(axis=1).argmax())
        st.set_cursor(z=peak)
        self.map_legend.setText(f"showing: {m.legend} (slice {peak}, its peak)")

    # -- keys (app.viewer.keys.READING_SHORTCUTS) ---------------------------------------------------
    def _rows(self):
        return self.unaided if self.unaided is not None else self.aided

    def select_row(self, i: int) -> None:
        """Point the answer keys at finding i (its buttons are shown bold)."""
        rows = self._rows()
        if rows is None:
            self.key_label.setText("")
            return
        self.key_row = max(0, min(i, len(rows.labels) - 1))
        yes, no = ((rows.present_btn, rows.absent_btn) if rows is self.unaided else (rows.agree_btn, rows.disagree_btn))
        for k, lab in enumerate(rows.labels):
            for b in (yes[lab], no[lab]):
                f = b.font()
                f.setBold(k == self.key_row)
                b.setFont(f)
        lab = rows.labels[self.key_row]
        what = "P present / A absent" if rows is self.unaided else "P agree / A disagree"
        self.key_label.setText(f"keyboard: <b>{lab}</b> ({READ_ROW_KEYS[self.key_row]}); {what}, "
                               f"{' '.join(READ_SCORE_KEYS)} confidence, Enter saves")

    def _answer_key(self, letter: str) -> bool:
        """P/A (present/absent, or agree/disagree in the aided step) and the score keys on the chosen row."""
        rows = self._rows()
        if rows is None or self.saved:
            return False
        lab = rows.labels[self.key_row]
        if letter in "PA":
            yes, no = ((rows.present_btn, rows.absent_btn) if rows is self.unaided else (rows.agree_btn, rows.disagree_btn))
            btn = (yes if letter == "P" else no)[lab]
            if not btn.isEnabled():
                self.status.setText(f"<span style='color:#888'>{lab} follows from the other answers</span>")
                return True
            btn.click()
            return True
        k = READ_SCORE_KEYS.index(letter)
        score = rows.score[lab]
        if not score.isEnabled():
            return True
        score.set_value(k + 1 if score.kind == "confidence" else READ_PROBABILITIES[k])
        missing = [rows.labels.index(m) for m in rows.missing()] if hasattr(rows, "missing") else []
        later = [i for i in missing if i > self.key_row]
        self.select_row(later[0] if later else (missing[0] if missing else self.key_row))
        return True

    def enter(self) -> None:
        """Enter: save the read when it is complete; once saved, go on (next case or the aided step)."""
        if self.saved:
            if self.next_btn.isEnabled():
                self.next_case()
        elif self.save_btn.isEnabled():
            self.save()
        else:
            self._update_buttons()  # the status line says what is still missing

    def show_keys(self):
        from app.viewer.cheatsheet import CheatSheet
        from app.viewer.keys import READING_SHORTCUTS

        self.cheatsheet = CheatSheet(self, READING_SHORTCUTS, (), "NeuroReview reading - keys")
        self.cheatsheet.open()
        return self.cheatsheet

    def keyPressEvent(self, ev) -> None:  # noqa: N802
        key = ev.key()
        letter = ev.text().upper() if ev.text() else ""
        plain = not (ev.modifiers() & (Qt.ControlModifier | Qt.AltModifier | Qt.MetaModifier))
        rows = self._rows()
        if key in PRESET_KEYS and plain:
            self.image.set_preset(PRESET_KEYS[key])
        elif key in (Qt.Key_Return, Qt.Key_Enter):
            self.enter()
        elif key == Qt.Key_F1:
            self.show_keys()
        elif key in (Qt.Key_PageUp, Qt.Key_Up):
            self.image.step(1)
        elif key in (Qt.Key_PageDown, Qt.Key_Down):
            self.image.step(-1)
        elif plain and letter and letter in READ_ROW_KEYS and rows is not None and READ_ROW_KEYS.index(letter) < len(rows.labels):
            self.select_row(READ_ROW_KEYS.index(letter))
        elif plain and letter and letter in "PA" + READ_SCORE_KEYS and self._answer_key(letter):
            pass
        elif plain and letter == "N":
            self.image.next_view()
        elif plain and letter == "L":
            self.image.set_layout("1" if self.image.layout_name == "3" else "3")
        elif plain and letter == "S":
            self.image.toggle_slab()
        else:
            super().keyPressEvent(ev)

    def closeEvent(self, ev) -> None:  # noqa: N802
        if self._runner is not None:
            self._runner.shutdown()
        super().closeEvent(ev)


class StartDialog(QDialog):
    """Pick the study and your reader name."""

    def __init__(self, store: StudyStore, study: str | None = None, reader: str | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.setWindowTitle("NeuroReview reader study")
        form = QFormLayout(self)
        self.study_box = QComboBox(self)
        self.reader_box = QComboBox(self)
        self.study_box.addItems(store.studies())
        form.addRow(QLabel(f"database: {store.location}"))
        form.addRow("study", self.study_box)
        form.addRow("reader", self.reader_box)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel, self)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)
        self.study_box.currentTextChanged.connect(self._readers)
        if study:
            self.study_box.setCurrentText(study)
        self._readers(self.study_box.currentText())
        if reader:
            self.reader_box.setCurrentText(reader)

    def _readers(self, study: str) -> None:
        self.reader_box.clear()
        if study:
            self.reader_box.addItems(self.store.readers(study))
        self.buttons.button(QDialogButtonBox.Ok).setEnabled(self.reader_box.count() > 0)

    def choice(self) -> tuple[str, str]:
        return self.study_box.currentText(), self.reader_box.currentText()


def run_reading_app(db: str | None, study: str | None, reader: str | None, screenshot: str | None = None) -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    store = StudyStore(db)
    if not store.studies():
        raise StudyError("no studies in this database (create one with `neuroreview study create`)", store.location)
    if study is None or reader is None:
        dlg = StartDialog(store, study, reader)
        if dlg.exec() != QDialog.Accepted:
            return 0
        study, reader = dlg.choice()
    win = ReadingWindow(store, study, reader)
    win.show()
    if screenshot:
        app.processEvents()
        win.grab().save(str(Path(screenshot)))
        return 0
    try:
        return app.exec()
    finally:
        store.close()
