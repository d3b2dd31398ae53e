"""QC review window on a real batch run of the demo strips: table, sort/filter, detail views,
one-key ratings saved to SQLite at once, CSV export, screenshot."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.qc.store import RatingStore
from app.qc.window import QCWindow
from core.paths import demo_dir
from core.qc.engine import run_batch


@pytest.fixture
def results(tmp_path) -> Path:
    root = tmp_path / "in"
    root.mkdir()
    for n in ("good", "face_kept", "brain_cut"):
        shutil.copy(demo_dir() / "mri" / f"{n}.nii.gz", root / f"{n}.nii.gz")
    (root / "broken.nii").write_bytes(b"nope")
    out = tmp_path / "res.csv"
    run_batch(root, out, workers=1, progress=False, thumbs=False)
    return out


def test_table_rate_persist_export(qtbot, tmp_path, results):
    db = tmp_path / "qc.sqlite"
    win = QCWindow(results, RatingStore(db), reviewer="tester", render_3d=False)
    qtbot.addWidget(win)
    win.resize(1300, 760)
    win.show()
    assert win.proxy.rowCount() == 4
    # sorted by P(face), highest first: the face-kept strip is on top
    win.table.sortByColumn(2, Qt.DescendingOrder)
    assert win.proxy.index(0, 0).data() == "face_kept.nii.gz"
    win.filter.setText("brain_cut")
    assert win.proxy.rowCount() == 1
    win.filter.setText("")
    win.table.selectRow(0)
    assert win.mosaic.pixmap() is not None and not win.mosaic.pixmap().isNull()
    assert not win.cam.pixmap().isNull()
    win.note.setText("face clearly visible")
    qtbot.keyClick(win.table, Qt.Key_F)
    # saved at once, in a fresh connection to the same file
    latest = RatingStore(db).latest()
    (path, r), = latest.items()
    assert Path(path).name == "face_kept.nii.gz" and r.verdict == "face kept" and r.note == "face clearly visible" and r.reviewer == "tester"
    assert win.current_row() is not None and win.proxy.index(1, 0).data() == win.table.currentIndex().siblingAtColumn(0).data()
    out = win.export_csv(tmp_path / "export.csv")
    rows = {Path(r["path"]).name: r for r in csv.DictReader(open(out))}
    assert rows["face_kept.nii.gz"]["review"] == "face kept" and rows["good.nii.gz"]["review"] == ""
    scored = {Path(r["path"]).name: r for r in csv.DictReader(open(results))}
    assert rows["face_kept.nii.gz"]["p_face"] == scored["face_kept.nii.gz"]["p_face"]
    # reopening shows the saved rating
    win2 = QCWindow(results, RatingStore(db), render_3d=False)
    qtbot.addWidget(win2)
    reviews = {win2.model.item(i, 0).text(): win2.model.item(i, 5).text() for i in range(win2.model.rowCount())}
    assert reviews["face_kept.nii.gz"] == "face kept"


def test_front_view_render_shows_face_only_when_kept():
    from app.qc.render import render_front
    from core.io import load

    good = render_front(load(str(demo_dir() / "mri" / "good.nii.gz")), 200)
    face = render_front(load(str(demo_dir() / "mri" / "face_kept.nii.gz")), 200)
    lit = lambda im: (im.mean(axis=2) > 40).mean()  # noqa: E731  fraction of the view covered by surface
    assert lit(good) > 0.1  # a brain surface is drawn, not an empty frame
    assert lit(face) > lit(good) * 1.1  # the kept face and scalp cover more of the view
