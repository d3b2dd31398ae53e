"""File > Query/Retrieve… against the real test PACS (Orthanc): search by patient ID, list the series,
retrieve with progress, and the viewer opens what arrived. Screenshot: docs/screenshots/query_retrieve.png."""

from __future__ import annotations

import os

import pydicom
import pytest

from core.pacs import client
from tests.core.pacs.helpers import DEMO, ROOT
from tests.screenshots import screenshot_path

pytestmark = [pytest.mark.gui, pytest.mark.orthanc]


def test_query_retrieve_opens_the_series_in_the_viewer(qtbot, tmp_path, monkeypatch):
    spec = os.environ.get("NEUROREVIEW_TEST_ORTHANC")
    if not spec:
        pytest.skip("NEUROREVIEW_TEST_ORTHANC is not set (scripts/test.sh starts a private Orthanc and sets it)")
    host, port, aet = spec.split(":")
    monkeypatch.setenv("NEUROREVIEW_HOME", str(tmp_path / "home"))
    from core.pacs.nodes import Node, PacsSettings

    settings = PacsSettings()
    settings.nodes["hospital-pacs"] = Node("hospital-pacs", aet, host, int(port))
    settings.listener.ae_title = "NRGUI"
    settings.save()
    files = sorted((DEMO / "normal").glob("*.dcm"))
    client.send(settings.nodes["hospital-pacs"], "NRGUI", files)
    src = pydicom.dcmread(files[0], stop_before_pixels=True)

    from app.viewer.main_window import ViewerWindow
    from app.viewer.settings import ViewerSettings

    viewer = ViewerWindow(settings=ViewerSettings(tmp_path / "viewer.ini"), layout="1x1", view3d=False, auto_score=False)
    qtbot.addWidget(viewer)
    viewer.show()
    dlg = viewer.open_query_retrieve()
    qtbot.addWidget(dlg)
    dlg.patient.setText(src.PatientID)
    dlg.search_button.click()
    assert [r["StudyInstanceUID"] for r in dlg.study_rows] == [src.StudyInstanceUID]
    qtbot.waitUntil(lambda: dlg.series.rowCount() >= 1, timeout=10000)
    i = next(k for k, r in enumerate(dlg.series_rows) if r["SeriesInstanceUID"] == src.SeriesInstanceUID)
    dlg.series.selectRow(i)
    steps = []
    dlg.progressed.connect(lambda d, t: steps.append((d, t)))
    with qtbot.waitSignal(dlg.retrieved, timeout=60000) as got:
        dlg.retrieve_button.click()
    folder, series_uid = got.args
    assert series_uid == src.SeriesInstanceUID and len(list(os.scandir(folder))) == len(files)
    assert steps and steps[-1] == (len(files), len(files)) and dlg.progress.value() == len(files)
    qtbot.waitUntil(lambda: viewer.state.volume is not None, timeout=30000)
    assert viewer.state.volume.ids.series_uid == src.SeriesInstanceUID
    out = screenshot_path("query_retrieve.png")
    dlg.resize(900, 560)
    qtbot.wait(50)
    assert dlg.grab().save(str(out))
    dlg.close()
    viewer.close()

    # the retrieved series is on the worklist; "Send results to PACS" puts SR (+ Grad-CAM) into its study
    from app.worklist.window import WorklistWindow

    win = WorklistWindow()
    qtbot.addWidget(win)
    win.show()
    assert [r.series_uid for r in win.rows] == [src.SeriesInstanceUID]
    win.table.selectRow(0)
    assert win.node_box.currentText() == "hospital-pacs"
    with qtbot.waitSignal(win.sendFinished, timeout=120000) as done:
        win.send_button.click()
    message, ok = done.args
    assert ok, message
    modalities = [s["Modality"] for s in client.find(settings.nodes["hospital-pacs"], "NRGUI", "SERIES",
                                                       study_uid=src.StudyInstanceUID)]
    assert "SR" in modalities
    win.close()
