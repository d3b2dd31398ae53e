"""`neuroreview qc-review RESULTS.csv --agreement`: every reviewer's verdict per file (found by content, so
after a move too) and the agreement, printed without a window."""

from __future__ import annotations

import csv

from app.cli import main
from core.study import StudyStore
from core.study.qc_ratings import QCRatings


def test_agreement_printed_per_file(tmp_path, capsys):
    a, b, c = (tmp_path / f"{n}.nii.gz" for n in "abc")
    for i, p in enumerate((a, b, c)):
        p.write_bytes(bytes([i]) * 100)
    db = str(tmp_path / "s.sqlite")
    with StudyStore(db) as s:
        q = QCRatings(s)
        q.rate(a, "pass", "ann")
        q.rate(a, "pass", "bob")
        q.rate(b, "face kept", "ann")
        q.rate(b, "brain cut", "bob")
    moved = tmp_path / "moved"
    moved.mkdir()
    a.rename(moved / "a.nii.gz")  # found by content at its new place
    res = tmp_path / "res.csv"
    with open(res, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "status"])
        for p in (moved / "a.nii.gz", b, c, tmp_path / "gone.nii.gz"):
            w.writerow([str(p), "ok"])
    assert main(["qc-review", str(res), "--db", db, "--agreement"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:4] == [f"{moved / 'a.nii.gz'}\tann: pass; bob: pass", f"{b}\tann: face kept; bob: brain cut",
                       f"{c}\tnot rated", f"{tmp_path / 'gone.nii.gz'}\tfile not found"]
    assert out[4].startswith("agreement: 2 reviewers, 1 of 2 files rated by two or more agree (50%)")
