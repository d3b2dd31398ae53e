"""QC review ratings in the study store (SQLite and PostgreSQL): keyed by reviewer and file content, every
reviewer's rating kept, append-only, agreement between reviewers, and ratings that survive a moved folder."""

from __future__ import annotations

import shutil

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from core.study import StudyError, StudyStore
from core.study.qc_ratings import QCRatings, agreement, file_sha256
from tests.core.study.db_fixtures import db_url  # noqa: F401 (fixture)


@pytest.fixture
def store(db_url):  # noqa: F811
    s = StudyStore(db_url)
    yield s
    s.close()


@pytest.fixture
def files(tmp_path):
    d = tmp_path / "batch"
    d.mkdir()
    out = {}
    for i, name in enumerate(("a", "b", "c", "d")):
        (d / f"{name}.nii.gz").write_bytes(bytes([i]) * (1000 + i))
        out[name] = d / f"{name}.nii.gz"
    return out


def test_two_reviewers_kept_apart_and_history_append_only(store, files, db_url):  # noqa: F811
    q = QCRatings(store)
    q.rate(files["a"], "pass", "ann", note="fine")
    q.rate(files["a"], "face kept", "bob")
    q.rate(files["a"], "brain cut", "ann")  # ann changes her mind: a new row, the old one stays
    with StudyStore(db_url) as other:  # saved at once: another connection sees it
        latest = QCRatings(other).latest()
    per = latest[file_sha256(files["a"])]
    assert {rv: r.verdict for rv, r in per.items()} == {"ann": "brain cut", "bob": "face kept"}
    hist = q.history(file_sha256(files["a"]))
    assert [(r.reviewer, r.verdict) for r in hist] == [("ann", "pass"), ("bob", "face kept"), ("ann", "brain cut")]
    assert hist[0].note == "fine" and hist[0].path == str(files["a"])
    for sql in ("UPDATE qc_ratings SET verdict = 'pass'", "DELETE FROM qc_ratings"):
        with pytest.raises(DatabaseError, match="append-only"), store.engine.begin() as c:
            c.execute(text(sql))
    assert len(q.history(file_sha256(files["a"]))) == 3
    with pytest.raises(StudyError, match="verdict must be one of"):
        q.rate(files["a"], "great", "ann")
    with pytest.raises(StudyError, match="needs a reviewer"):
        q.rate(files["a"], "pass", " ")
    with pytest.raises(StudyError, match="cannot read the file"):
        q.rate(files["a"].parent / "gone.nii.gz", "pass", "ann")


def test_ratings_survive_a_moved_folder(store, files, tmp_path):
    q = QCRatings(store)
    q.rate(files["a"], "pass", "ann")
    q.rate(files["b"], "face kept", "ann")
    moved = shutil.move(str(files["a"].parent), tmp_path / "elsewhere" / "batch")
    shas = [file_sha256(p) for p in sorted((tmp_path / "elsewhere" / "batch").iterdir())]
    latest = q.latest(shas)
    assert {k: v["ann"].verdict for k, v in latest.items()} == {shas[0]: "pass", shas[1]: "face kept"}
    assert moved


def test_agreement_between_reviewers(store, files):
    q = QCRatings(store)
    for name, ann, bob in (("a", "pass", "pass"), ("b", "face kept", "face kept"), ("c", "pass", "brain cut"),
                           ("d", "brain cut", "brain cut")):
        q.rate(files[name], ann, "ann")
        q.rate(files[name], bob, "bob")
    ag = agreement(q.latest())
    assert (ag.reviewers, ag.n_files, ag.n_agree) == (["ann", "bob"], 4, 3)
    # Cohen's kappa by hand: po = 3/4; ann pass 2, face 1, cut 1; bob pass 1, face 1, cut 2 -> pe = (2+1+2)/16
    po, pe = 3 / 4, (2 * 1 + 1 * 1 + 1 * 2) / 16
    assert ag.kappa.kappa == pytest.approx((po - pe) / (1 - pe), abs=1e-12)
    assert "3 of 4 files rated by two or more agree (75%), Cohen's kappa" in ag.text()
    q.rate(files["a"], "pass", "cy")  # a third reviewer on one file only: counted, Fleiss needs all on a file
    ag3 = agreement(q.latest())
    assert ag3.n_files == 4 and ag3.reviewers == ["ann", "bob", "cy"] and ag3.kappa is None
    assert agreement({}).text().startswith("agreement: no file rated by two reviewers yet")
