"""The reading window's aided step when the case is outside the CT models' training data: the model's stored
calls are greyed with the reason (never a red 'present'), the reader's answers stay theirs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from core.tasks import CTScorer
from tests.app.study.gui_helpers import answer_unaided, click, open_reading_window, make_demo_study, score_demo
from tests.screenshots import screenshot_path

ROOT = Path(__file__).resolve().parents[3]
DEMO_CT = ROOT / "resources" / "demo" / "ct"
LABELS = ("any", "intraventricular", "subdural")

pytestmark = pytest.mark.gui


@pytest.fixture
def store(tmp_path):
    s = make_demo_study(str(tmp_path / "study.sqlite"), DEMO_CT, score_demo(DEMO_CT), labels=LABELS)
    yield s
    s.close()


def test_aided_calls_are_greyed_with_the_reason_outside_the_training_data(qtbot, store):
    win = open_reading_window(qtbot, store)
    answer_unaided(win, {lab: (False, 3) for lab in LABELS})
    click(win.save_btn)
    click(win.next_btn)  # the aided step of the same case
    assert win.aided is not None and win.aided.ood_note.isHidden()
    vol = win.image.state.volume
    ich = CTScorer(threads=2).score_ich(vol)
    outside = replace(ich, ood=replace(ich.ood, in_distribution=False, score=2.0 * ich.ood.threshold,
                                       reason="outside the model's training data: not scored (distance 2.00 > 1.00)"))
    win._maps_ready((vol, outside))
    note = win.aided.ood_note
    assert not note.isHidden() and note.text().startswith("Outside the model's training data: not scored")
    for label in LABELS:
        p, call = win.aided.model_cells[label]
        assert "not scored" in call.text() and "#e0584f" not in call.text() and "8a8a8a" in p.styleSheet()
    win.resize(1400, 800)
    qtbot.wait(50)
    assert win._side_scroll.horizontalScrollBar().maximum() == 0  # every answer control visible without scrolling sideways
    assert win.grab().save(str(screenshot_path("reading_window_ood.png")))
    win.close()
