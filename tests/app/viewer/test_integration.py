"""The whole window with the AI panels: they dock after the first image, each opened series is scored in
the background (the GUI keeps answering), G shows the Grad-CAM, J / Shift+J go to the finding's most likely
image, an MRI gets the QC model's two scores."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from core.paths import demo_dir
from tests.app.viewer.qt_helpers import show_active


@pytest.fixture
def full_viewer(qtbot, settings):
    from app.viewer.main_window import ViewerWindow

    win = ViewerWindow(settings=settings, layout="2x2", panels=True, view3d=False)
    qtbot.addWidget(win)
    win.resize(1400, 900)
    show_active(qtbot, win)
    yield win
    win.close()


def test_panels_dock_score_in_background_and_show_gradcam(full_viewer, qtbot):
    win = full_viewer
    assert not win.panels and not win.actions["findings.run"].isEnabled()  # nothing AI before the first image
    with qtbot.waitSignal(win.volumeLoaded, timeout=60000):
        win.open_demo()
    qtbot.waitUntil(lambda: bool(win.panels), timeout=20000)
    assert win.findings_dock.isVisible() and win.actions["overlay.gradcam"].isEnabled()
    # while the models run in their thread, the window still scrolls
    z0 = win.state.cursor[0]
    QTest.keyClick(win, Qt.Key_Up)
    assert win.state.cursor[0] == z0 + 1
    qtbot.waitUntil(lambda: win.state.ich is not None, timeout=180000)
    assert win.state.ich.flagged()["any"] and win.state.bg is not None  # the demo's inserted blood (its subdural is a known 0.3 miss)
    win.panels["overlay"].label.setCurrentIndex(win.panels["overlay"].label.findData("subdural"))
    QTest.keyClick(win, Qt.Key_G)
    ov = win.state.overlay
    assert ov.kind == "gradcam" and ov.label == "subdural" and ov.data is not None and ov.data.shape == win.state.volume.shape
    assert win.views["axial"].overlay.isVisible()
    assert "ich_cnn" in ov.legend
    # J: the chosen finding's most likely image (series model); Shift+J: the single-slice CNN's peak
    k = win.state.ich.labels.index("subdural")
    QTest.keyClick(win, Qt.Key_J)
    assert win.state.cursor[0] == int(win.state.ich.slice_probs[:, k].argmax())
    QTest.keyClick(win, Qt.Key_J, Qt.ShiftModifier)
    assert win.state.cursor[0] == int(win.state.ich.cnn_slice_probs[:, k].argmax())

    with qtbot.waitSignal(win.volumeLoaded, timeout=60000):
        win.open_path(str(demo_dir() / "mri" / "face_kept.nii.gz"))
    qtbot.waitUntil(lambda: win.state.qc is not None, timeout=180000)
    qc = win.state.qc
    assert 0.0 <= qc.p_face <= 1.0 and 0.0 <= qc.p_brain_loss <= 1.0
    assert qc.flags["face"]  # the loose strip keeps the face (resources/demo/labels.json)
    text = win.info.toPlainText()
    assert "Skull-strip QC" in text and f"{qc.p_face:.3f}" in text
