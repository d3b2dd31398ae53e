"""The worklist window on a real worklist database filled by real scoring: order, live updates, a double
click opening the viewer with the findings, and a screenshot (docs/screenshots/worklist.png)."""

from __future__ import annotations

import time

import pydicom
import pytest

from core.pacs.triage import Triage
from core.pacs.worklist import InstanceInfo, Worklist
from tests.core.pacs.helpers import DEMO, ROOT
from tests.screenshots import screenshot_path

pytestmark = [pytest.mark.gui, pytest.mark.slow]
BASE = time.time() - 3600  # received an hour ago (the quiet period has passed)


def _note(wl: Worklist, case: str, now: float) -> str:
    files = sorted((DEMO / case).glob("*.dcm"))
    ds = pydicom.dcmread(files[0], stop_before_pixels=True)
    info = InstanceInfo(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.PatientID, str(ds.PatientName), "20261129", "CT",
                        f"demo {case}")
    for k in range(len(files)):
        wl.note_instance(info, str(DEMO / case), now=now + k * 0.01)
    return ds.SeriesInstanceUID


def test_worklist_orders_updates_live_and_opens_the_viewer(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROREVIEW_HOME", str(tmp_path / "home"))
    from app.viewer.main_window import ViewerWindow
    from app.viewer.settings import ViewerSettings
    from app.worklist.window import WorklistWindow

    wl = Worklist(tmp_path / "worklist.sqlite")
    triage = Triage(wl, quiet_s=0.0)
    for i, case in enumerate(("normal", "hemorrhage")):
        _note(wl, case, now=BASE + 60 * i)
    assert triage.run_due() == 2

    win = WorklistWindow(wl, refresh_ms=200, viewer_factory=lambda: ViewerWindow(
        settings=ViewerSettings(tmp_path / "viewer.ini"), layout="1x1", view3d=False))
    qtbot.addWidget(win)
    win.resize(1500, 420)
    win.show()
    assert win.table.rowCount() == 2
    key = [(not r.flagged_labels(), -r.p_any) for r in win.rows]
    assert key == sorted(key)  # flagged first, then by P(any)
    assert win.table.item(0, 1).text() == f"{win.rows[0].p_any:.3f}" and win.table.item(0, 4).text() == "n/a" or \
        win.rows[0].findings_obj().ood is not None

    # a new series arrives while the window is open: it appears without a restart, then gets its score
    new_uid = _note(wl, "bg_left", now=BASE + 300)
    qtbot.waitUntil(lambda: win.table.rowCount() == 3, timeout=5000)
    row = next(i for i, r in enumerate(win.rows) if r.series_uid == new_uid)
    assert win.table.item(row, 5).text() == "receiving" and win.table.item(row, 1).text() == "-"
    assert triage.run_due() == 1
    qtbot.waitUntil(lambda: any(r.series_uid == new_uid and r.status == "scored" for r in win.rows), timeout=5000)
    key = [(not r.flagged_labels(), -r.p_any) for r in win.rows]
    assert key == sorted(key)

    out = screenshot_path("worklist.png")
    qtbot.wait(50)
    assert win.grab().save(str(out))

    with qtbot.waitSignal(win.viewerOpened, timeout=5000) as opened:
        rect = win.table.visualItemRect(win.table.item(0, 7))
        from PySide6.QtCore import Qt
        from PySide6.QtTest import QTest

        QTest.mouseClick(win.table.viewport(), Qt.LeftButton, Qt.NoModifier, rect.center())
        QTest.mouseDClick(win.table.viewport(), Qt.LeftButton, Qt.NoModifier, rect.center())
    viewer = opened.args[0]
    qtbot.addWidget(viewer)
    qtbot.waitUntil(lambda: viewer.state.volume is not None, timeout=30000)
    assert viewer.state.volume.ids.series_uid == win.rows[0].series_uid
    qtbot.waitUntil(lambda: viewer.state.ich is not None, timeout=60000)  # the viewer scores it and shows findings
    assert viewer.state.ich.series_probs["any"] == pytest.approx(win.rows[0].p_any, abs=1e-4)
    viewer.close()
    win.close()
