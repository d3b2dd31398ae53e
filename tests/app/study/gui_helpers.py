"""Driving the reading window like a reader: clicks on the real widgets (QTest), no shortcuts into the code."""

from __future__ import annotations

import re

from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractButton, QAbstractSpinBox, QLabel, QRadioButton, QWidget

from core.study import StudyStore

DEMO_CASES = ("hemorrhage", "normal", "bg_left")


def open_reading_window(qtbot, store, reader: str = "ann", maps: bool = False):
    """A shown, exposed reading window whose first case has finished loading (cases load in the background)."""
    from app.study.window import ReadingWindow

    win = ReadingWindow(store, "demo", reader, compute_maps=maps)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    qtbot.waitUntil(lambda: not win.image.loader.busy_now, timeout=60000)
    return win


def click(w: QWidget) -> None:
    """A left click where a reader would click: on a radio button's circle, on a push button's middle."""
    assert w.isEnabled() and w.isVisible(), w.objectName()
    if isinstance(w, QRadioButton):
        QTest.mouseClick(w, Qt.LeftButton, Qt.NoModifier, QPoint(8, w.height() // 2))
    else:
        QTest.mouseClick(w, Qt.LeftButton)


def answer_unaided(win, choices: dict[str, tuple[bool, int]]) -> None:
    rows = win.unaided
    for label, (present, conf) in choices.items():
        click(rows.present_btn[label] if present else rows.absent_btn[label])
        click(rows.score[label].buttons[conf - 1])


def answer_aided(win, choices: dict[str, tuple[bool, int, int]]) -> None:
    """label -> (agree, confidence, rating index 0..2 used when the model calls it present)."""
    rows = win.aided
    for label, (agree, conf, rating) in choices.items():
        click(rows.agree_btn[label] if agree else rows.disagree_btn[label])
        click(rows.score[label].buttons[conf - 1])
        if label in rows.rating_btn:
            click(rows.rating_btn[label][rating])


def widget_texts(root: QWidget) -> list[str]:
    """Every text a reader could see or hover in the window."""
    out = [root.windowTitle()]
    for w in root.findChildren(QWidget):
        if isinstance(w, (QLabel, QAbstractButton)):
            out.append(w.text())
        if isinstance(w, QAbstractSpinBox):
            out.append(w.text())
        out.append(w.toolTip())
        out.append(w.objectName())
    return [t for t in out if t]


PERCENT = re.compile(r"\d+(\.\d+)?\s*%")


def make_demo_study(db: str, demo_ct, outputs: dict, readers=("ann", "bob"), arms=("unaided", "aided"),
                    labels=None) -> StudyStore:
    """A study over the bundled demo CT series with the bundled models' stored outputs (computed once)."""
    from core.tasks.ct import ICH_LABELS

    labels = labels or ICH_LABELS
    store = StudyStore(db)
    store.create_study("demo", labels, arms=arms)
    ids = store.add_cases("demo", [str(demo_ct / name) for name in DEMO_CASES])
    store.add_readers("demo", readers)
    for cid, name in zip(ids, DEMO_CASES):
        o = outputs[name]
        store.add_model_outputs("demo", cid, {lab: o["probs"][lab] for lab in labels}, o["thresholds"],
                                o["name"], o["version"], o["sha256"], o["provider"])
    return store


def score_demo(demo_ct) -> dict:
    """The bundled ICH models on the three demo series, as score-cases stores them."""
    from core.io import load
    from core.study.scoring import lstm_thresholds
    from core.tasks import CTScorer

    scorer = CTScorer()
    out = {}
    for name in DEMO_CASES:
        r = scorer.score_ich(load(demo_ct / name))
        cnn, lstm = r.models[:2]  # the CNN and the BiLSTM (then the OOD model)
        out[name] = {"probs": r.series_probs, "thresholds": lstm_thresholds(scorer, r.labels),
                     "name": f"{cnn.name}+{lstm.name}", "version": f"{cnn.version}+{lstm.version}",
                     "sha256": f"{cnn.sha256}+{lstm.sha256}", "provider": lstm.provider}
    return out
