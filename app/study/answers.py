"""Answer controls with nothing preselected: a row per label, an answer only when the reader clicked one.

Unaided row: present / absent and a confidence 1-5 (radio buttons) or a probability 0-100 (a spin box
that starts on "-", meaning no answer). Aided row: the model's probability and call, agree / disagree,
the final answer that follows from it, its confidence, and for a label the model calls present the
heat-map rating (correct / partially correct / incorrect) of its Grad-CAM.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QAbstractButton, QButtonGroup, QGridLayout, QHBoxLayout, QLabel, QPushButton,
                               QRadioButton, QSpinBox, QVBoxLayout, QWidget)

from core.study import AidedAnswer, Answer, ModelFinding
from core.study.consistency import derived_parent, groups
from core.study.schema import RATINGS

CONFIDENCE_TIPS = {1: "1: very unsure", 2: "2: unsure", 3: "3: fairly sure", 4: "4: sure", 5: "5: certain"}


def _group(parent: QWidget, texts: list[str]) -> tuple[QButtonGroup, list[QRadioButton]]:
    group = QButtonGroup(parent)
    group.setExclusive(True)
    buttons = []
    for i, t in enumerate(texts):
        b = QRadioButton(t, parent)
        b.setChecked(False)
        group.addButton(b, i)
        buttons.append(b)
    return group, buttons


def _derived_note(parent: str, value: bool, present: dict[str, bool]) -> str:
    subs = [lab for lab, v in present.items() if v and lab != parent]
    why = f"{', '.join(subs)} present" if value else "every subtype absent"
    return f"{parent} set to {'present' if value else 'absent'} because {why}"


class ScoreInput(QWidget):
    """Confidence 1-5 (radio buttons) or probability 0-100 (spin box starting empty)."""

    changed = Signal()

    def __init__(self, kind: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = kind
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(6)
        self.buttons: list[QRadioButton] = []
        if kind == "confidence":
            self.group, self.buttons = _group(self, [str(i) for i in range(1, 6)])
            for i, b in enumerate(self.buttons, 1):
                b.setToolTip(CONFIDENCE_TIPS[i])
                lay.addWidget(b)
            self.group.idClicked.connect(lambda _i: self.changed.emit())
        else:
            self.spin = QSpinBox(self)
            self.spin.setRange(-1, 100)
            self.spin.setValue(-1)
            self.spin.setSpecialValueText("-")  # -1 shows as "-": no answer yet
            self.spin.setSuffix(" %")
            self.spin.setToolTip("probability that the finding is present, 0-100")
            self.spin.valueChanged.connect(lambda _v: self.changed.emit())
            lay.addWidget(self.spin)

    def value(self) -> int | None:
        if self.kind == "confidence":
            i = self.group.checkedId()
            return None if i < 0 else i + 1
        v = self.spin.value()
        return None if v < 0 else v

    def set_value(self, v: int) -> None:
        if self.kind == "confidence":
            self.buttons[v - 1].setChecked(True)
        else:
            self.spin.setValue(v)
        self.changed.emit()

    def answer_kwargs(self) -> dict:
        v = self.value()
        return {"confidence": v} if self.kind == "confidence" else {"probability": None if v is None else float(v)}


class UnaidedRows(QWidget):
    """Unaided read: one row per label."""

    changed = Signal()

    def __init__(self, labels: tuple[str, ...], kind: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.labels = labels
        grid = QGridLayout(self)
        grid.setHorizontalSpacing(14)
        heads = ["finding", "answer", "", "confidence 1-5" if kind == "confidence" else "probability"]
        for j, h in enumerate(heads):
            grid.addWidget(QLabel(f"<b>{h}</b>"), 0, j)
        grid.setColumnStretch(len(heads), 1)  # columns keep their natural width; the slack goes right
        self.answer: dict[str, QButtonGroup] = {}
        self.present_btn: dict[str, QRadioButton] = {}
        self.absent_btn: dict[str, QRadioButton] = {}
        self.score: dict[str, ScoreInput] = {}
        for i, label in enumerate(labels, 1):
            grid.addWidget(QLabel(label), i, 0)
            holder = QWidget(self)  # each row's present/absent pair is its own exclusive group
            group, (yes, no) = _group(holder, ["present", "absent"])
            yes.setObjectName(f"present_{label}")
            no.setObjectName(f"absent_{label}")
            yes.setParent(self)
            no.setParent(self)
            grid.addWidget(yes, i, 1)
            grid.addWidget(no, i, 2)
            score = ScoreInput(kind, self)
            score.setObjectName(f"score_{label}")
            grid.addWidget(score, i, 3)
            group.idClicked.connect(lambda _i: self._derive())
            score.changed.connect(self.changed)
            self.answer[label], self.present_btn[label], self.absent_btn[label], self.score[label] = group, yes, no, score
        self.derived_note = QLabel("")  # says when "any" follows from the subtypes (never silently)
        self.derived_note.setObjectName("derived_note")
        self.derived_note.setStyleSheet("color:#2a6fb0")
        grid.addWidget(self.derived_note, len(labels) + 1, 0, 1, len(heads))
        self.derived: dict[str, bool] = {}

    def _present(self) -> dict[str, bool]:
        return {lab: self.answer[lab].checkedId() == 0 for lab in self.labels if self.answer[lab].checkedId() >= 0}

    def _derive(self) -> None:
        """Set "any" from the subtypes (a subtype present means any hemorrhage) and lock it while derived."""
        answered = {k: v for k, v in self._present().items() if k not in self.derived}
        self.derived = derived_parent(self.labels, answered)
        notes = []
        for lab in self.labels:
            if lab in self.derived:
                (self.present_btn if self.derived[lab] else self.absent_btn)[lab].setChecked(True)
                notes.append(_derived_note(lab, self.derived[lab], answered))
        for parent, _subs, _complete in groups(self.labels):
            for b in (self.present_btn[parent], self.absent_btn[parent]):
                b.setEnabled(parent not in self.derived)
        self.derived_note.setText("; ".join(notes))
        self.changed.emit()

    def missing(self) -> list[str]:
        return [lab for lab in self.labels if self.answer[lab].checkedId() < 0 or self.score[lab].value() is None]

    def answers(self) -> dict[str, Answer | None]:
        out: dict[str, Answer | None] = {}
        for lab in self.labels:
            i = self.answer[lab].checkedId()
            out[lab] = None if i < 0 else Answer(i == 0, **self.score[lab].answer_kwargs())
        return out

    def set_enabled(self, on: bool) -> None:
        for w in self.findChildren(QAbstractButton) + self.findChildren(QSpinBox):
            w.setEnabled(on)
        if on:
            self._derive()  # a derived "any" stays locked

    def fill(self, answers: dict[str, Answer]) -> None:
        """Show the reader's own earlier read (going back to correct it)."""
        for lab, a in answers.items():
            (self.present_btn if a.present else self.absent_btn)[lab].setChecked(True)
            self.score[lab].set_value(int(a.confidence if a.confidence is not None else a.probability))
        self._derive()


class AidedRows(QWidget):
    """Aided step: the model's findings per label and the reader's agreement, final answer and ratings.
    Top grid: finding, model probability and call, agree / disagree, final answer, its score, a map button.
    Below: the heat-map rating of each finding the model calls present (seed 002 rated those maps)."""

    changed = Signal()
    show_map = Signal(str)

    def __init__(self, labels: tuple[str, ...], kind: str, findings: dict[str, ModelFinding],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.labels, self.findings = labels, findings
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        top = QWidget(self)
        grid = QGridLayout(top)
        grid.setHorizontalSpacing(10)
        heads = ["finding", "model", "", "agree?", "", "final answer",
                 "confidence 1-5" if kind == "confidence" else "probability", "heat map"]
        for j, h in enumerate(heads):
            if h:
                grid.addWidget(QLabel(f"<b>{h}</b>"), 0, j, 1, 2 if h in ("model", "agree?") else 1)
        grid.setColumnStretch(len(heads), 1)
        outer.addWidget(top)
        # a stored "outside the training data" verdict makes the calls no findings: their maps are not rated
        positive = [lab for lab in labels if findings[lab].present and not findings[lab].outside]
        outside = any(findings[lab].outside for lab in labels)
        rate = QWidget(self)
        rgrid = QGridLayout(rate)
        rgrid.setHorizontalSpacing(10)
        rgrid.addWidget(QLabel("<b>Heat-map rating</b> (Grad-CAM of each finding the model calls present: does it "
                               "cover the finding, and nothing else?)" if positive else
                               "<b>Heat-map rating</b>: outside the model's training data, its calls are no findings: nothing to rate"
                               if outside else "<b>Heat-map rating</b>: the model calls no finding present, nothing to rate"), 0, 0, 1, 5)
        rgrid.setColumnStretch(5, 1)
        outer.addWidget(rate)
        self.agree: dict[str, QButtonGroup] = {}
        self.agree_btn: dict[str, QRadioButton] = {}
        self.disagree_btn: dict[str, QRadioButton] = {}
        self.final_label: dict[str, QLabel] = {}
        self.score: dict[str, ScoreInput] = {}
        self.rating: dict[str, QButtonGroup] = {}
        self.rating_btn: dict[str, list[QRadioButton]] = {}
        self.map_btn: dict[str, QPushButton] = {}
        self.model_cells: dict[str, tuple[QLabel, QLabel]] = {}  # probability, call
        self.ood_note = QLabel("")  # shown when this volume is outside the CT models' training data
        self.ood_note.setObjectName("ood_note")
        self.ood_note.setWordWrap(True)
        self.ood_note.setStyleSheet("color:#d9822b; font-weight:bold")
        self.ood_note.hide()
        outer.insertWidget(0, self.ood_note)
        for i, label in enumerate(labels, 1):
            f = findings[label]
            grid.addWidget(QLabel(label), i, 0)
            p = QLabel(f"{100 * f.probability:.0f}%")
            p.setObjectName(f"model_p_{label}")
            p.setToolTip(f"{f.model_name} {f.model_version}; threshold {100 * f.threshold:.0f}%")
            grid.addWidget(p, i, 1)
            call = QLabel("<b style='color:#e0584f'>present</b>" if f.present else "absent")
            call.setObjectName(f"model_call_{label}")
            grid.addWidget(call, i, 2)
            self.model_cells[label] = (p, call)
            group, (yes, no) = _group(top, ["agree", "disagree"])
            for b, name in ((yes, "agree"), (no, "disagree")):
                b.setObjectName(f"{name}_{label}")
            grid.addWidget(yes, i, 3)
            grid.addWidget(no, i, 4)
            final = QLabel("-")
            final.setObjectName(f"final_{label}")
            grid.addWidget(final, i, 5)
            score = ScoreInput(kind, top)
            score.setObjectName(f"final_score_{label}")
            grid.addWidget(score, i, 6)
            btn = QPushButton("show", top)
            btn.setObjectName(f"map_{label}")
            btn.setToolTip(f"show the Grad-CAM of {label} on the image")
            btn.setEnabled(False)
            btn.clicked.connect(lambda _c=False, lab=label: self.show_map.emit(lab))
            grid.addWidget(btn, i, 7)
            self.map_btn[label] = btn
            group.idClicked.connect(lambda _i, lab=label: self._on_agree(lab))
            score.changed.connect(self.changed)
            self.agree[label], self.agree_btn[label], self.disagree_btn[label] = group, yes, no
            self.final_label[label], self.score[label] = final, score
        for k, label in enumerate(positive, 1):
            rgrid.addWidget(QLabel(label), k, 0)
            rg, rbs = _group(rate, list(RATINGS))
            for j, (b, r) in enumerate(zip(rbs, RATINGS), 1):
                b.setObjectName(f"rating_{label}_{r.replace(' ', '_')}")
                rgrid.addWidget(b, k, j)
            rg.idClicked.connect(lambda _i: self.changed.emit())
            self.rating[label], self.rating_btn[label] = rg, rbs
        self.derived: dict[str, bool] = {}
        self.derived_note = QLabel("")  # says when the final "any" follows from the subtypes
        self.derived_note.setObjectName("derived_note")
        self.derived_note.setStyleSheet("color:#2a6fb0")
        grid.addWidget(self.derived_note, len(labels) + 1, 0, 1, len(heads))

    def set_out_of_distribution(self, message: str) -> None:
        """The volume is outside the CT models' training data: the model's stored calls are greyed (never a red
        'present') with the reason above them; the reader's own answers are untouched."""
        self.ood_note.setText(message + ": the model's calls below are not findings, shown greyed for reference")
        self.ood_note.show()
        for label, (p, call) in self.model_cells.items():
            f = self.findings[label]
            p.setStyleSheet("color:#8a8a8a")
            call.setText(f"<span style='color:#8a8a8a'>{'present' if f.present else 'absent'} (not scored)</span>")

    def _final(self, label: str) -> bool | None:
        i = self.agree[label].checkedId()
        return None if i < 0 else (self.findings[label].present if i == 0 else not self.findings[label].present)

    def _on_agree(self, label: str) -> None:
        self._derive()
        for lab in self.labels:
            final = self._final(lab)
            self.final_label[lab].setText("-" if final is None else ("present" if final else "absent"))
        self.changed.emit()

    def _derive(self) -> None:
        """Final "any" follows from the final subtype answers: set agree/disagree to match, lock it, say so."""
        answered = {lab: f for lab in self.labels if lab not in self.derived and (f := self._final(lab)) is not None}
        self.derived = derived_parent(self.labels, answered)
        notes = []
        for parent, _subs, _complete in groups(self.labels):
            if parent in self.derived:
                agree = self.derived[parent] == self.findings[parent].present
                (self.agree_btn if agree else self.disagree_btn)[parent].setChecked(True)
                notes.append("final " + _derived_note(parent, self.derived[parent], answered))
            for b in (self.agree_btn[parent], self.disagree_btn[parent]):
                b.setEnabled(parent not in self.derived)
        self.derived_note.setText("; ".join(notes))

    def missing(self) -> list[str]:
        out = []
        for lab in self.labels:
            if self._final(lab) is None or self.score[lab].value() is None:
                out.append(lab)
            elif lab in self.rating and self.rating[lab].checkedId() < 0:
                out.append(f"{lab} (heat-map rating)")
        return out

    def answers(self) -> dict[str, AidedAnswer | None]:
        out: dict[str, AidedAnswer | None] = {}
        for lab in self.labels:
            final = self._final(lab)
            if final is None:
                out[lab] = None
                continue
            rating = None
            if lab in self.rating and self.rating[lab].checkedId() >= 0:
                rating = RATINGS[self.rating[lab].checkedId()]
            out[lab] = AidedAnswer(self.agree[lab].checkedId() == 0, final, rating=rating,
                                   **self.score[lab].answer_kwargs())
        return out

    def fill(self, answers: dict[str, Answer], agreements: dict[str, dict], ratings: dict[str, str]) -> None:
        """Show the reader's own earlier aided read (going back to correct it)."""
        for lab, a in answers.items():
            (self.agree_btn if agreements[lab]["agree"] else self.disagree_btn)[lab].setChecked(True)
            self._on_agree(lab)
            self.score[lab].set_value(int(a.confidence if a.confidence is not None else a.probability))
            if lab in ratings and lab in self.rating_btn:
                self.rating_btn[lab][RATINGS.index(ratings[lab])].setChecked(True)
        self.changed.emit()

    def enable_maps(self, labels: list[str]) -> None:
        for lab in labels:
            if lab in self.map_btn:
                self.map_btn[lab].setEnabled(True)

    def set_enabled(self, on: bool) -> None:
        for w in self.findChildren(QAbstractButton) + self.findChildren(QSpinBox):
            if w.objectName().startswith("map_"):
                continue
            w.setEnabled(on)
