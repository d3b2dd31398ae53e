"""The 2-D views in a real main window (offscreen): rendered pixels follow the window presets, keys and
the wheel scroll, Shift+drag links the views, right drag changes W/L, the ruler measures in mm,
anisotropic voxels keep their aspect, and the overlay draws and toggles."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from core.imaging.windows import PRESETS, apply_window
from tests.app.viewer.qt_helpers import click, drag, grab_rgb, wheel

BRAIN_VOXEL = (15, 300, 200)  # left frontal white/grey matter of the demo case, away from the crosshair


def rendered_grey(win, orientation, zyx):
    """Grey value drawn at a voxel centre on a view."""
    view = win.views[orientation]
    rgb = grab_rgb(view)
    p = view.widget_pos(zyx)
    r, g, b = (int(v) for v in rgb[p.y(), p.x()])
    assert abs(r - g) <= 1 and abs(g - b) <= 1, f"not grey at {zyx}: {(r, g, b)}"
    return g


def expected_range(volume, window, zyx):
    """apply_window of the voxel's 3x3 in-plane neighbourhood (the screen samples the nearest voxel)."""
    z, y, x = zyx
    patch = apply_window(volume.voxels[z, y - 1:y + 2, x - 1:x + 2], window).astype(int)
    return patch.min() - 1, patch.max() + 1


def test_preset_keys_change_rendered_pixels(demo_viewer, demo_volume, qtbot):
    win = demo_viewer
    win.state.set_cursor(z=BRAIN_VOXEL[0])
    hu = float(demo_volume.voxels[BRAIN_VOXEL])
    assert 15 < hu < 50, "fixture voxel should be brain parenchyma"
    seen = {}
    for key, name in ((Qt.Key_1, "brain"), (Qt.Key_2, "subdural"), (Qt.Key_4, "bone"), (Qt.Key_5, "stroke")):
        QTest.keyClick(win, key)
        assert win.state.preset == name
        lo, hi = expected_range(demo_volume, PRESETS[name], BRAIN_VOXEL)
        grey = rendered_grey(win, "axial", BRAIN_VOXEL)
        assert lo <= grey <= hi, f"{name}: drew {grey}, apply_window gives {lo + 1}..{hi - 1}"
        seen[name] = grey
        assert f"W {PRESETS[name].width:.0f}  L {PRESETS[name].level:.0f}" in win.views["coronal"].labels["tr"].text()
    assert seen["brain"] != seen["subdural"] != seen["bone"]
    # 0: the file's own window (the demo DICOM has one)
    QTest.keyClick(win, Qt.Key_0)
    assert win.state.preset == "dicom" and win.state.window == demo_volume.window
    assert "DICOM" in win.views["axial"].labels["tr"].text()


def test_keys_and_wheel_scroll(demo_viewer, qtbot):
    win = demo_viewer
    win.set_active("axial")
    win.state.set_cursor(z=5)
    QTest.keyClick(win, Qt.Key_Up)
    assert win.state.cursor[0] == 6
    QTest.keyClick(win, Qt.Key_Down)
    QTest.keyClick(win, Qt.Key_Down)
    assert win.state.cursor[0] == 4
    QTest.keyClick(win, Qt.Key_PageUp)
    assert win.state.cursor[0] == 14
    QTest.keyClick(win, Qt.Key_End)
    assert win.state.cursor[0] == 29
    QTest.keyClick(win, Qt.Key_PageUp)  # clamps
    assert win.state.cursor[0] == 29
    QTest.keyClick(win, Qt.Key_Home)
    assert win.state.cursor[0] == 0
    ax = win.views["axial"]
    before = ax.image.image.copy()
    wheel(ax, QPoint(ax.width() // 2, ax.height() // 2), +1)
    wheel(ax, QPoint(ax.width() // 2, ax.height() // 2), +1)
    assert win.state.cursor[0] == 2
    assert "Image 3 of 30" in ax.labels["tl"].text()  # 1-based, as PACS numbers images
    assert not np.array_equal(before, ax.image.image)
    # the wheel over the coronal view scrolls coronal slices (the y index) and makes it active
    cor = win.views["coronal"]
    y0 = win.state.cursor[1]
    wheel(cor, QPoint(cor.width() // 2, cor.height() // 2), -3)
    assert win.state.cursor[1] == y0 - 3 and win.active == "coronal"  # one slice per notch
    # Ctrl+wheel zooms instead of scrolling
    z0, r0 = win.state.cursor, cor.vb.viewRange()
    wheel(cor, QPoint(cor.width() // 2, cor.height() // 2), +1, Qt.ControlModifier)
    assert win.state.cursor == z0 and cor.vb.viewRange() != r0


def test_shift_drag_moves_crosshair_in_other_views(demo_viewer, qtbot):
    win = demo_viewer
    ax, cor, sag = (win.views[o] for o in ("axial", "coronal", "sagittal"))
    start, target = (15, 256, 256), (15, 200, 330)
    win.state.set_cursor(*start)
    drag(qtbot, ax, ax.widget_pos(start), ax.widget_pos(target), Qt.LeftButton, Qt.ShiftModifier)
    z, y, x = win.state.cursor
    assert z == 15 and abs(y - 200) <= 1 and abs(x - 330) <= 1
    assert cor._index == y and sag._index == x  # the other views now show the planes through the cursor
    # their vertical/horizontal lines sit on the new position
    assert cor.vline.value() == pytest.approx(cor.plane.to_display(win.state.cursor)[0])
    assert sag.vline.value() == pytest.approx(sag.plane.to_display(win.state.cursor)[0])
    # Shift+click on the sagittal view moves the axial slice
    click(qtbot, sag, sag.widget_pos((22, y, x)), Qt.LeftButton, Qt.ShiftModifier)
    assert win.state.cursor[0] == 22 and win.views["axial"]._index == 22


def test_right_drag_adjusts_window(demo_viewer, qtbot):
    win = demo_viewer
    QTest.keyClick(win, Qt.Key_1)
    ax = win.views["axial"]
    c = QPoint(ax.width() // 2, ax.height() // 2)
    drag(qtbot, ax, c, c + QPoint(100, 0), Qt.RightButton)
    w1 = win.state.window
    assert w1.width > 80 + 20 and abs(w1.level - 40) < 1 and win.state.preset is None
    drag(qtbot, ax, c, c + QPoint(0, 60), Qt.RightButton)
    w2 = win.state.window
    assert w2.level > 40 + 10 and w2.width == pytest.approx(w1.width)
    assert f"W {w2.width:.0f}  L {w2.level:.0f}" in ax.labels["tr"].text() and "Custom" in ax.labels["tr"].text()
    assert ax.image.levels[0] == pytest.approx(w2.low) and ax.image.levels[1] == pytest.approx(w2.high)


def test_ruler_measures_millimetres(demo_viewer, demo_volume, qtbot):
    win = demo_viewer
    ax = win.views["axial"]
    QTest.keyClick(win, Qt.Key_M)
    assert ax.measuring and "RULER" in ax.labels["br"].text()
    a, b = (15, 250, 150), (15, 250, 350)  # 200 voxels along x
    drag(qtbot, ax, ax.widget_pos(a), ax.widget_pos(b), Qt.LeftButton)
    lengths = ax.rulers_mm()
    assert len(lengths) == 1
    dx = demo_volume.spacing[2]
    assert lengths[0] == pytest.approx(200 * dx, abs=3 * dx)  # a screen pixel is ~1 voxel here
    assert win.state.cursor[1:] == (256, 256)  # measuring does not move the crosshair
    QTest.keyClick(win, Qt.Key_Escape)  # leaves the tool, the measurement stays (it is stored per series)
    assert not ax.measuring and len(ax.rulers_mm()) == 1
    QTest.keyClick(win, Qt.Key_Delete)
    assert ax.rulers_mm() == [] and win.state.annotations == []


def test_hover_shows_hu_and_voxel(demo_viewer, demo_volume):
    ax = demo_viewer.views["axial"]
    x_mm, y_mm = ax.plane.to_display(BRAIN_VOXEL)
    demo_viewer.state.set_cursor(z=BRAIN_VOXEL[0])
    ax.hover_at(x_mm, y_mm)
    z, y, x = BRAIN_VOXEL
    text = ax.labels["bl"].text()
    assert f"HU {demo_volume.voxels[z, y, x]:.0f}" in text and f"(z {z}, y {y}, x {x})" in text


def test_orientation_labels_and_aspect(demo_viewer, demo_volume):
    win = demo_viewer
    ax, cor, sag = (win.views[o] for o in ("axial", "coronal", "sagittal"))
    # radiological: patient left on image right, anterior up; sagittal: anterior on the left
    assert [ax.labels[k].text() for k in ("left", "right", "top", "bottom")] == ["R", "L", "A", "P"]
    assert [cor.labels[k].text() for k in ("left", "right", "top", "bottom")] == ["R", "L", "S", "I"]
    assert [sag.labels[k].text() for k in ("left", "right", "top", "bottom")] == ["A", "P", "S", "I"]
    # 5 mm slices: the coronal image is as tall on screen as 30 x 5 mm, not 30 pixels
    nz, ny, nx = demo_volume.shape
    dz, dy, dx = demo_volume.spacing
    top, bottom = cor.widget_pos((nz - 1, 256, 0)), cor.widget_pos((0, 256, 0))
    left, right = cor.widget_pos((0, 256, nx - 1)), cor.widget_pos((0, 256, 0))
    ratio = (bottom.y() - top.y()) / (right.x() - left.x())
    assert ratio == pytest.approx(((nz - 1) * dz) / ((nx - 1) * dx), rel=0.03)
    # image right is patient left (x decreasing)
    assert cor.widget_pos((0, 0, 10)).x() > cor.widget_pos((0, 0, 400)).x()


def test_overlay_draws_follows_slice_and_toggles(demo_viewer, demo_volume, qtbot):
    win = demo_viewer
    QTest.keyClick(win, Qt.Key_1)
    data = np.zeros(demo_volume.shape, dtype=np.float32)
    z, y, x = BRAIN_VOXEL
    data[z, y - 20:y + 20, x - 20:x + 20] = 0.6  # one slice only; inferno(0.6) is orange-red
    win.state.set_cursor(z=z)
    grey = rendered_grey(win, "axial", BRAIN_VOXEL)
    win.state.set_overlay(kind="gradcam", label="subdural", data=data, cmap="inferno", opacity=0.5, threshold=0.2)
    r, g, b = (int(v) for v in grab_rgb(win.views["axial"])[win.views["axial"].widget_pos(BRAIN_VOXEL).y(),
                                                             win.views["axial"].widget_pos(BRAIN_VOXEL).x()])
    assert r > b + 40, f"expected an orange map blended over grey {grey}, got {(r, g, b)}"
    assert "Grad-CAM: subdural" in win.views["axial"].labels["br"].text()
    # the map follows the slice: on the next slice (zero map) the pixel is grey again
    QTest.keyClick(win, Qt.Key_Up)
    p = win.views["axial"].widget_pos((z + 1, y, x))
    r, g, b = (int(v) for v in grab_rgb(win.views["axial"])[p.y(), p.x()])
    assert abs(r - g) <= 1 and abs(g - b) <= 1
    QTest.keyClick(win, Qt.Key_Down)
    # coronal view through the same voxel shows the map too
    win.state.set_cursor(y=y)
    cp = win.views["coronal"].widget_pos(BRAIN_VOXEL)
    r, g, b = (int(v) for v in grab_rgb(win.views["coronal"])[cp.y(), cp.x()])
    assert r > b + 40
    # O hides it everywhere; O again shows it
    QTest.keyClick(win, Qt.Key_O)
    assert win.state.overlay.visible is False
    assert rendered_grey(win, "axial", BRAIN_VOXEL) == grey
    QTest.keyClick(win, Qt.Key_O)
    ap = win.views["axial"].widget_pos(BRAIN_VOXEL)
    r, g, b = (int(v) for v in grab_rgb(win.views["axial"])[ap.y(), ap.x()])
    assert r > b + 40
    # below the threshold the map is transparent
    win.state.set_overlay(threshold=1.5, vmax=2.0)
    assert rendered_grey(win, "axial", BRAIN_VOXEL) == grey


def test_cine_plays_and_stops(demo_viewer, qtbot):
    win = demo_viewer
    win.set_active("axial")
    z0 = win.state.cursor[0]
    QTest.keyClick(win, Qt.Key_Space)
    assert win.cine.isActive()
    qtbot.waitUntil(lambda: win.state.cursor[0] != z0, timeout=2000)
    QTest.keyClick(win, Qt.Key_Space)
    assert not win.cine.isActive()


def test_touchpad_wheel_deltas_add_up_to_one_slice_per_notch(demo_viewer):
    ax = demo_viewer.views["axial"]
    demo_viewer.state.set_cursor(z=10)
    c = QPoint(ax.width() // 2, ax.height() // 2)
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    for _ in range(4):  # 4 x 30 = one notch
        ev = QWheelEvent(QPointF(c), QPointF(ax.viewport().mapToGlobal(c)), QPoint(0, 0), QPoint(0, 30),
                         Qt.NoButton, Qt.NoModifier, Qt.NoScrollPhase, False)
        QApplication.sendEvent(ax.viewport(), ev)
    assert demo_viewer.state.cursor[0] == 11
