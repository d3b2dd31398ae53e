"""The reading window from the keyboard alone: an unaided read of every finding is saved without a
single mouse event, the keys are in the F1 sheet, and the case loads off the GUI thread in three views."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.study.window import ReadingWindow
from app.viewer.keys import READ_ROW_KEYS, READ_SCORE_KEYS, READING_SHORTCUTS
from core.study import StudyStore
from core.paths import demo_dir, phantom_ct_dir
from tests.app.viewer.qt_helpers import show_active

LABELS = ("any", "intraventricular", "subdural")

pytestmark = pytest.mark.gui


class MouseCounter(QObject):
    """Counts mouse presses anywhere in the application (the read must need none)."""

    def __init__(self) -> None:
        super().__init__()
        self.presses = 0

    def eventFilter(self, obj, ev):  # noqa: N802
        if ev.type() in (QEvent.MouseButtonPress, QEvent.MouseButtonDblClick):
            self.presses += 1
        return False


@pytest.fixture
def store(tmp_path):
    """An unaided-only study of two bundled CT series (no model outputs needed)."""
    s = StudyStore(str(tmp_path / "study.sqlite"))
    s.create_study("demo", LABELS, arms=("unaided",))
    s.add_cases("demo", [str(phantom_ct_dir()), str(demo_dir() / "ct" / "normal")])
    s.add_readers("demo", ["ann", "bob"])
    yield s
    s.close()


def key(letter_or_key, modifier=Qt.NoModifier) -> None:
    """A key press as the reader makes it: to whatever widget has the keyboard focus."""
    QTest.keyClick(QApplication.focusWidget() or QApplication.activeWindow(), letter_or_key, modifier)


def test_keyboard_only_unaided_read_is_saved(qtbot, store):
    counter = MouseCounter()
    QApplication.instance().installEventFilter(counter)
    try:
        win = ReadingWindow(store, "demo", "ann", compute_maps=False)
        qtbot.addWidget(win)
        show_active(qtbot, win)
        qtbot.waitUntil(lambda: win.image.state.volume is not None, timeout=60000)  # loaded in the background
        assert all(v.isVisible() for v in win.image.views.values())  # axial, coronal, sagittal
        case = win.case.case_id
        # any: present 4 (Q P V); intraventricular: absent 2 (W A X); subdural: present 5 (E P B)
        for row, answer, score in (("Q", "P", "V"), ("W", "A", "X"), ("E", "P", "B")):
            key(row.lower())
            assert win.unaided.labels[win.key_row] == LABELS[READ_ROW_KEYS.index(row)]
            key(answer.lower())
            key(score.lower())
        key(Qt.Key_Up)  # scrolling the images on the way does not disturb the answers
        key("s")  # 10 mm MIP
        assert win.image.state.mpr.slab_mm == 10.0
        assert win.save_btn.isEnabled()
        key(Qt.Key_Return)
        assert win.saved
        with StudyStore(store.url) as other:
            trail = other.audit_trail("demo", case, "ann")
        assert [r.arm for r in trail] == ["unaided"]
        a = trail[0].answers
        assert (a["any"].present, a["any"].confidence) == (True, 4)
        assert (a["intraventricular"].present, a["intraventricular"].confidence) == (False, 2)
        assert (a["subdural"].present, a["subdural"].confidence) == (True, 5)
        key(Qt.Key_Return)  # Enter again goes on to the next case
        assert win.case.case_id != case and win.unaided is not None and not win.saved
        assert counter.presses == 0
    finally:
        QApplication.instance().removeEventFilter(counter)


def test_score_key_moves_to_the_next_unanswered_finding(qtbot, store):
    win = ReadingWindow(store, "demo", "bob", compute_maps=False)
    qtbot.addWidget(win)
    show_active(qtbot, win)
    key("w")
    key("a")
    key("z")
    assert win.key_row == 2  # subdural: the next one still open after intraventricular
    assert "subdural" in win.key_label.text()
    key(Qt.Key_Return)  # incomplete: not saved, the status line says what is missing
    assert not win.saved and "to answer" in win.status.text()


def test_f1_lists_the_reading_keys(qtbot, store):
    win = ReadingWindow(store, "demo", "ann", compute_maps=False)
    qtbot.addWidget(win)
    show_active(qtbot, win)
    key(Qt.Key_F1)
    sheet = win.cheatsheet
    assert sheet.isVisible() and len(sheet.keys_listed()) == len(READING_SHORTCUTS)
    texts = [sheet.table.item(i, 2).text() for i in range(sheet.table.rowCount())]
    assert any("Present" in t for t in texts) and any("Confidence 1" in t for t in texts)
    assert READ_SCORE_KEYS == "ZXCVB"


def test_aided_step_agree_and_confidence_on_keys(qtbot, tmp_path):
    """In the aided step P/A are agree/disagree and Z-B the final answer's confidence (ratings need the mouse)."""
    s = StudyStore(str(tmp_path / "aided.sqlite"))
    s.create_study("demo", LABELS, arms=("unaided", "aided"))
    (cid,) = s.add_cases("demo", [str(phantom_ct_dir())])
    s.add_readers("demo", ["ann"])
    # stored model output for the test case (the aided step shows whatever the store holds)
    s.add_model_outputs("demo", cid, {"any": 0.9, "intraventricular": 0.2, "subdural": 0.7}, 0.5, "ich_cnn", "test",
                        "0" * 64, "CPU")
    try:
        win = ReadingWindow(s, "demo", "ann", compute_maps=False)
        qtbot.addWidget(win)
        show_active(qtbot, win)
        for row, answer, score in (("q", "p", "c"), ("w", "a", "c"), ("e", "p", "c")):
            for k in (row, answer, score):
                key(k)
        key(Qt.Key_Return)
        key(Qt.Key_Return)
        assert win.aided is not None
        key("w")
        key("a")  # disagree with "intraventricular absent": the final answer becomes present
        key("b")
        rows = win.aided
        assert rows.disagree_btn["intraventricular"].isChecked() and rows.score["intraventricular"].value() == 5
    finally:
        s.close()
