"""The main window: background opening (demo, NIfTI, several series, drag and drop), errors that name
the file and leave the window working, layouts remembered, the F1 sheet, recent files."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtTest import QTest

from app.viewer.keys import SHORTCUTS
from core.imaging.windows import auto_window
from core.paths import demo_ct_dir, demo_dir


def test_open_demo_in_background(viewer, qtbot, demo_volume):
    with qtbot.waitSignal(viewer.volumeLoaded, timeout=60000):
        QTest.keyClick(viewer, Qt.Key_D, Qt.ControlModifier)
        assert viewer.busy.isVisibleTo(viewer)  # the busy indicator shows while the thread loads
    vol = viewer.state.volume  # the bundled demo (the real GE CT with an inserted bleed)
    assert vol.ids.source == str(demo_ct_dir()) and vol.modality == "CT" and vol.shape[1:] == (512, 512)
    assert viewer.state.preset == "brain" and viewer.state.cursor == tuple(n // 2 for n in vol.shape)
    assert not viewer.busy.isVisibleTo(viewer)
    assert viewer.settings.recent[0] == str(demo_ct_dir())
    assert [a.text() for a in viewer.recent_menu.actions()][0] == str(demo_ct_dir())
    qtbot.waitUntil(lambda: viewer.first_paint_s is not None, timeout=5000)
    n = len(vol.warnings)  # the real demo's gantry tilt and uneven spacing are reported, not hidden
    assert (f"{n} loader warning(s)" if n else "no loader warnings") in viewer.warn_label.text()


def test_unreadable_input_gives_a_message_and_the_window_survives(viewer, qtbot, tmp_path, demo_volume):
    bad = tmp_path / "junk"
    bad.mkdir()
    (bad / "IM0001.dcm").write_bytes(b"this is not DICOM" * 20)
    with qtbot.waitSignal(viewer.loadFailed, timeout=30000) as sig:
        viewer.open_path(str(bad))
    assert "IM0001.dcm" in sig.args[0]
    assert viewer.error_box is not None and viewer.error_box.isVisible()
    assert "IM0001.dcm" in viewer.error_box.text() and str(bad) in viewer.error_box.text()
    viewer.error_box.close()
    with qtbot.waitSignal(viewer.loadFailed, timeout=30000) as sig:
        viewer.open_path(str(tmp_path / "does-not-exist"))
    assert "does-not-exist" in sig.args[0]
    viewer.error_box.close()
    # still works: open the demo, scroll
    with qtbot.waitSignal(viewer.volumeLoaded, timeout=60000):
        viewer.open_demo()
    viewer.activateWindow()  # what the window manager does when the message box closes
    qtbot.waitUntil(viewer.isActiveWindow, timeout=2000)
    z0 = viewer.state.cursor[0]
    QTest.keyClick(viewer, Qt.Key_Up)
    assert viewer.state.cursor[0] == z0 + 1


def test_nifti_opens_with_auto_window(viewer, qtbot, mri_volume):
    path = demo_dir() / "mri" / "good.nii.gz"
    with qtbot.waitSignal(viewer.volumeLoaded, timeout=60000):
        viewer.open_path(str(path))
    st = viewer.state
    assert st.volume.modality == "MR" and st.preset == "auto"
    assert st.window == auto_window(mri_volume.voxels)
    assert "Auto" in viewer.views["axial"].labels["tr"].text()
    QTest.keyClick(viewer, Qt.Key_0)  # no DICOM window in a NIfTI: auto
    assert st.preset == "auto"
    ax = viewer.views["axial"]
    ax.hover_at(*ax.plane.to_display(st.cursor))
    assert ax.labels["bl"].text().startswith("value ")
    assert [ax.labels[k].text() for k in ("left", "right", "top", "bottom")] == ["R", "L", "A", "P"]


def test_drop_a_folder_opens_it(viewer, qtbot):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(demo_ct_dir()))])
    ev = QDropEvent(QPointF(200, 200), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    with qtbot.waitSignal(viewer.volumeLoaded, timeout=60000):
        viewer.dropEvent(ev)
    assert viewer.state.volume is not None


def test_layout_switch_is_remembered(demo_viewer, qtbot, settings):
    from app.viewer.main_window import ViewerWindow

    win = demo_viewer
    assert win.layout_name == "2x2" and win.views["sagittal"].isVisible()
    QTest.keyClick(win, Qt.Key_L)
    assert win.layout_name == "1x1" and settings.layout == "1x1"
    assert win.views["axial"].isVisible() and not win.views["sagittal"].isVisible() and not win.pane3d.isVisible()
    # Tab makes the coronal view the active one, shown alone in 1x1
    QTest.keyClick(win, Qt.Key_Tab)
    assert win.active == "coronal" and win.views["coronal"].isVisible() and not win.views["axial"].isVisible()
    other = ViewerWindow(settings=settings, panels=False)
    qtbot.addWidget(other)
    assert other.layout_name == "1x1"
    QTest.keyClick(win, Qt.Key_L)
    assert settings.layout == "2x2" and win.views["axial"].isVisible() and win.pane3d.isVisible()


def test_f1_lists_every_key(demo_viewer, qtbot):
    from app.viewer.cheatsheet import key_text

    QTest.keyClick(demo_viewer, Qt.Key_F1)
    sheet = demo_viewer.cheatsheet
    qtbot.waitUntil(sheet.isVisible, timeout=2000)
    listed = sheet.keys_listed()
    for s in SHORTCUTS:
        assert key_text(s.key) in listed, s
    # and the menus carry the same shortcuts
    assert demo_viewer.actions["preset.subdural"].shortcut().toString() == "2"
    assert "Wheel" in listed and "Right drag" in listed
    sheet.close()


@pytest.mark.slow  # builds the real VTK volume rendering (~20 s on 2 busy cores)
def test_3d_pane_is_honest(demo_viewer, qtbot):
    """The 3-D pane either holds the VTK view or says why not; it never sits empty."""
    pane = demo_viewer.pane3d
    ok = pane.ensure()
    if ok:
        assert pane.view is not None
    else:
        assert "not available" in pane.placeholder.text() and pane.error


def test_shortcuts_are_unique():
    from app.viewer.keys import check_unique

    check_unique()
    keys = [s.key.lower() for s in SHORTCUTS]
    assert len(keys) == len(set(keys))


def test_keys_doc_is_current():
    """docs/viewer_keys.md is generated from keys.py; regenerate with `python -m app.viewer.keys`."""
    from pathlib import Path

    from app.viewer.keys import markdown

    doc = Path(__file__).resolve().parents[3] / "docs" / "viewer_keys.md"
    assert doc.read_text() == markdown()


def test_real_tilted_ct_shows_its_loader_warnings(viewer, qtbot, shared_data):
    """The real GE head CT (18.5 degree tilt, uneven spacing, a LICENSE file): it opens, and the window
    says what the loader did, in the status bar and the series panel."""
    with qtbot.waitSignal(viewer.volumeLoaded, timeout=120000):
        viewer.open_path(str(shared_data / "ct-ge-head-tilt"))
    vol = viewer.state.volume
    codes = {w.code.value for w in vol.warnings}
    assert {"gantry-tilt", "irregular-spacing", "skipped-file"} <= codes
    status = viewer.warn_label.text()
    assert "3 loader warning(s)" in status and "gantry-tilt" in status
    info = viewer.info.toPlainText()
    assert "gantry tilt 18.5 deg" in info and "LICENSE" in info
    assert viewer.views["axial"].labels["right"].text() == "L"
