"""The reading window never saves 'any: absent' with a subtype present: it sets 'any' from the subtypes,
locks it and says so on screen; the saved read is consistent (an unaided-only study: no scoring needed)."""

from __future__ import annotations

import pytest

from core.paths import demo_dir, phantom_ct_dir
from core.study import StudyStore
from tests.app.study.gui_helpers import answer_unaided, click, open_reading_window

LABELS = ("any", "intraventricular", "subdural")
pytestmark = pytest.mark.gui


@pytest.fixture
def store(tmp_path):
    s = StudyStore(str(tmp_path / "study.sqlite"))
    s.create_study("demo", LABELS, arms=("unaided",))
    s.add_cases("demo", [str(phantom_ct_dir()), str(demo_dir() / "ct" / "normal")])
    s.add_readers("demo", ["ann"])
    yield s
    s.close()


def test_any_follows_from_subtypes_and_says_so(qtbot, store):
    win = open_reading_window(qtbot, store)
    rows = win.unaided
    answer_unaided(win, {"any": (False, 3), "intraventricular": (False, 3)})
    assert rows.absent_btn["any"].isChecked() and rows.derived_note.text() == ""
    answer_unaided(win, {"subdural": (True, 4)})
    assert rows.present_btn["any"].isChecked() and not rows.absent_btn["any"].isEnabled()
    assert rows.derived_note.text() == "any set to present because subdural present"
    assert rows.derived_note.isVisible()
    click(rows.absent_btn["subdural"])  # change of mind: 'any' is the reader's own again
    assert rows.absent_btn["any"].isEnabled() and rows.derived_note.text() == ""
    click(rows.present_btn["subdural"])
    case = win.case.case_id
    click(win.save_btn)
    read = store.audit_trail("demo", case, "ann")[0]
    assert read.answers["any"].present and read.answers["subdural"].present
