"""Contradictory reads are refused by the store (every read passes it: window, API, scripts) on SQLite
and PostgreSQL; the pure rules behind it and the derivation the reading window uses."""

from __future__ import annotations

import datetime as dt

import pytest

from core.study import AidedAnswer, Answer, ReaderSession, StudyError, StudyStore
from core.study.consistency import contradictions, derived_parent
from tests.core.study.db_fixtures import db_url  # noqa: F401 (fixture)

ICH = ("any", "epidural", "intraparenchymal", "intraventricular", "subarachnoid", "subdural")
NOW = dt.datetime(2026, 1, 1)


def test_rules():
    ok = {lab: False for lab in ICH}
    assert contradictions(ICH, ok) == []
    bad = {**ok, "intraparenchymal": True}
    assert contradictions(ICH, bad) == ["any: absent contradicts intraparenchymal: present "
                                        "(a subtype present means any is present)"]
    assert contradictions(ICH, {**ok, "any": True}) == [
        "any: present contradicts every subtype absent (epidural, intraparenchymal, intraventricular, "
        "subarachnoid, subdural)"]
    # with only some subtypes in the study, "any present" alone is a valid answer (an unasked subtype)
    assert contradictions(("any", "subdural"), {"any": True, "subdural": False}) == []
    assert contradictions(("any", "subdural"), {"any": False, "subdural": True}) != []
    assert contradictions(("epidural", "subdural"), {"epidural": True, "subdural": False}) == []  # no parent
    assert derived_parent(ICH, {"subdural": True}) == {"any": True}
    assert derived_parent(ICH, {"subdural": False}) == {}  # other subtypes unanswered: nothing follows yet
    assert derived_parent(ICH, {lab: False for lab in ICH[1:]}) == {"any": False}
    assert derived_parent(("any", "subdural"), {"subdural": False}) == {}


@pytest.fixture
def store(db_url):  # noqa: F811
    s = StudyStore(db_url)
    s.create_study("s", ICH)
    for cid in s.add_cases("s", ["/c/1", "/c/2"]):
        s.add_model_outputs("s", cid, {lab: 0.9 if lab in ("any", "subdural") else 0.1 for lab in ICH}, 0.5,
                            "m", "1", "a" * 64)
    s.add_readers("s", ["ann"])
    yield s
    s.close()


def test_contradictory_unaided_read_refused_and_nothing_saved(store):
    session = ReaderSession(store, "s", "ann")
    case = session.current_case()
    answers = {lab: Answer(False, 3) for lab in ICH}
    answers["intraparenchymal"] = Answer(True, 4)
    with pytest.raises(StudyError, match="contradictory answers: any: absent contradicts intraparenchymal"):
        session.save_unaided(answers)
    assert store.reads_of("s") == []  # nothing of the refused read reached the store
    answers["any"] = Answer(True, 4)
    session.save_unaided(answers)
    assert [r.case_id for r in store.reads_of("s")] == [case.case_id]


def test_contradictory_final_answers_refused(store):
    session = ReaderSession(store, "s", "ann")
    session.save_unaided({lab: Answer(lab in ("any", "subdural"), 3) for lab in ICH})
    findings = session.model_findings()
    final = {lab: lab == "subdural" for lab in ICH}  # any absent, subdural present: contradictory

    def aided(f):
        return {lab: AidedAnswer(f[lab] == findings[lab].present, f[lab], 3,
                                 rating="correct" if findings[lab].present else None) for lab in ICH}

    with pytest.raises(StudyError, match="final answers: contradictory answers: any: absent"):
        session.save_aided(aided(final))
    final["any"] = True
    session.save_aided(aided(final))
    assert [r.arm for r in store.reads_of("s")] == ["unaided", "aided"]
