"""The reading window's aided step takes the out-of-distribution verdict that score-cases stored with the model's
outputs: a real abdomen-like CT series (outside the CT models' training data) shows its calls greyed with the
stored reason at once, without scoring the volume again; a stored 'inside' verdict is not overridden by the live one."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from core.study import StudyStore
from core.study.scoring import score_cases
from tests.app.study.gui_helpers import answer_unaided, click, open_reading_window
from tests.core.study.test_model_ood import write_abdomen
from tests.screenshots import screenshot_path

ROOT = Path(__file__).resolve().parents[3]
DEMO_CT = ROOT / "resources" / "demo" / "ct"
LABELS = ("any", "intraparenchymal", "subdural", "bg_hemorrhage")

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def scorer():
    from core.tasks import CTScorer

    return CTScorer(threads=2)


def _study(db: str, case: Path, scorer) -> StudyStore:
    store = StudyStore(db)
    store.create_study("demo", LABELS)
    store.add_cases("demo", [str(case)])
    store.add_readers("demo", ["ann"])
    (o,) = score_cases(store, "demo", scorer=scorer)
    assert o.error is None
    return store


def test_the_stored_verdict_greys_the_calls_of_a_case_outside_the_training_data(qtbot, tmp_path, scorer):
    store = _study(str(tmp_path / "s.sqlite"), write_abdomen(tmp_path / "abdomen"), scorer)
    stored = store.model_outputs("demo", "C001")
    assert all(f.outside for f in stored.values())
    win = open_reading_window(qtbot, store, maps=False)  # no live scoring at all: only the stored verdict
    answer_unaided(win, {lab: (False, 3) for lab in LABELS})
    click(win.save_btn)
    click(win.next_btn)  # the aided step
    rows = win.aided
    assert rows is not None and win._runner is None and win.verdict_stored
    note = rows.ood_note
    assert not note.isHidden() and note.text().startswith("Outside the model's training data: not scored")
    assert "skull bone" in note.text() or "distance" in note.text()  # the stored reason, as the scorer gave it
    for label in LABELS:
        p, call = rows.model_cells[label]
        assert "not scored" in call.text() and "#e0584f" not in call.text() and "8a8a8a" in p.styleSheet()
    assert not rows.rating  # the calls are no findings: no heat map to rate (the store does not ask for one either)
    win.resize(1400, 800)
    qtbot.wait(50)
    assert win.grab().save(str(screenshot_path("reading_window_stored_ood.png")))
    win.close()
    store.close()


def test_a_stored_inside_verdict_is_not_overridden_by_the_live_one(qtbot, tmp_path, scorer):
    store = _study(str(tmp_path / "s.sqlite"), DEMO_CT / "normal", scorer)
    assert all(f.in_distribution is True for f in store.model_outputs("demo", "C001").values())
    win = open_reading_window(qtbot, store, maps=False)
    answer_unaided(win, {lab: (False, 3) for lab in LABELS})
    click(win.save_btn)
    click(win.next_btn)
    assert win.aided is not None and win.aided.ood_note.isHidden() and win.verdict_stored
    vol = win.image.state.volume
    ich = scorer.score_ich(vol)
    live_outside = replace(ich, ood=replace(ich.ood, in_distribution=False, reason="far from every training slice"))
    win._maps_ready((vol, live_outside))  # the heat-map scoring's verdict: the stored one decides
    assert win.aided.ood_note.isHidden()
    assert all("not scored" not in call.text() for _, call in win.aided.model_cells.values())
    win.close()
    store.close()
