"""The answer rows derive 'any' from the subtypes and say so (real widgets, real clicks): the unaided rows
set the answer, the aided rows set agree/disagree so that the final 'any' follows; both lock it."""

from __future__ import annotations

import pytest

from app.study.answers import AidedRows, UnaidedRows
from core.study import ModelFinding
from tests.app.study.gui_helpers import click

ICH = ("any", "epidural", "intraparenchymal", "intraventricular", "subarachnoid", "subdural")
pytestmark = pytest.mark.gui


def test_unaided_rows_any_absent_when_every_subtype_absent(qtbot):
    rows = UnaidedRows(ICH, "confidence")
    qtbot.addWidget(rows)
    rows.show()
    click(rows.present_btn["any"])
    for lab in ICH[1:-1]:
        click(rows.absent_btn[lab])
    assert rows.present_btn["any"].isChecked() and rows.derived_note.text() == ""  # one subtype still open
    click(rows.absent_btn["subdural"])
    assert rows.absent_btn["any"].isChecked() and not rows.present_btn["any"].isEnabled()
    assert rows.derived_note.text() == "any set to absent because every subtype absent"


def test_aided_rows_final_any_follows_the_subtypes(qtbot):
    def finding(lab, p):
        return ModelFinding(lab, p, 0.5, p >= 0.5, "m", "1", "a" * 64, "CPU", 1)

    findings = {lab: finding(lab, 0.1) for lab in ICH}  # the model calls nothing present
    rows = AidedRows(ICH, "confidence", findings)
    qtbot.addWidget(rows)
    rows.show()
    click(rows.agree_btn["any"])  # final any: absent
    click(rows.disagree_btn["subdural"])  # final subdural: present -> final any must be present
    assert rows.disagree_btn["any"].isChecked() and not rows.agree_btn["any"].isEnabled()
    assert rows.final_label["any"].text() == "present"
    assert rows.derived_note.text() == "final any set to present because subdural present"
    assert rows.answers()["any"].final_present and not rows.answers()["any"].agree
