"""The oblique plane: at 0 degrees it is the axial slice through the crosshair, at 90 the coronal one with
linear interpolation between slices; the view shows it on Shift+O, tilts on . and , and the sagittal view
draws its trace."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.viewer.oblique import sample_oblique
from core.volume import Volume


def synthetic(shape=(20, 60, 60), spacing=(3.0, 0.5, 0.5)) -> Volume:
    rng = np.random.default_rng(7)
    aff = np.diag([spacing[2], spacing[1], spacing[0], 1.0])
    return Volume(voxels=rng.normal(0, 100, size=shape).astype(np.float32), affine=aff, modality="CT")


def test_zero_degrees_is_the_axial_slice_and_ninety_the_coronal():
    vol = synthetic()
    vox = vol.voxels
    cz, cy, cx = 10, 30, 30
    img, px = sample_oblique(vol, (cz, cy, cx), 0.0, size_mm=20.5 * 0.5, pixel_mm=0.5)
    n = img.shape[0]
    assert n == 21 and px == 0.5
    k = np.arange(n) - n // 2
    # right on screen = patient left (x decreasing), down = posterior (y decreasing)
    np.testing.assert_allclose(img, vox[cz][np.ix_(cy - k, cx - k)], rtol=1e-5, atol=1e-3)
    img90, _ = sample_oblique(vol, (cz, cy, cx), 90.0, size_mm=20.5 * 0.5, pixel_mm=0.5)
    zf = cz - k * 0.5 / 3.0  # down = inferior, 0.5 mm per row over 3 mm slices
    z0 = np.floor(zf).astype(int)
    w = (zf - z0)[:, None]
    cols = cx - k
    want = vox[z0][:, cy, :][:, cols] * (1 - w) + vox[z0 + 1][:, cy, :][:, cols] * w
    np.testing.assert_allclose(img90, want, rtol=1e-4, atol=1e-2)


def test_oblique_view_keys_and_sagittal_trace(demo_viewer, qtbot):
    win = demo_viewer
    assert not win.oblique_dock.isVisible()
    QTest.keyClick(win, Qt.Key_O, Qt.ShiftModifier)
    qtbot.waitUntil(lambda: win.oblique.image_data() is not None, timeout=10000)
    assert win.state.oblique_shown and win.views["sagittal"].oblique_line.isVisible()
    flat = win.oblique.image_data().copy()
    QTest.keyClick(win, Qt.Key_Period)
    QTest.keyClick(win, Qt.Key_Period)
    assert win.state.oblique_deg == 10.0
    qtbot.waitUntil(lambda: not np.array_equal(flat, win.oblique.image_data()), timeout=10000)
    assert "+10 deg" in win.oblique.label.text()
    xs, ys = win.views["sagittal"].oblique_line.getData()
    assert abs(ys[1] - ys[0]) > 0.1 * abs(xs[1] - xs[0])  # tilted, not horizontal
    QTest.keyClick(win, Qt.Key_Comma)
    assert win.state.oblique_deg == 5.0


def test_zero_degrees_follows_a_rotated_grid():
    """A tilt-corrected CT keeps its grid at the gantry angle: 0 degrees is still exactly its axial view."""
    vol = synthetic()
    t = np.radians(18.5)
    rot = np.array([[1, 0, 0], [0, np.cos(t), -np.sin(t)], [0, np.sin(t), np.cos(t)]])
    vol.affine = vol.affine.copy()
    vol.affine[:3, :3] = rot @ vol.affine[:3, :3]
    img, _ = sample_oblique(vol, (10, 30, 30), 0.0, size_mm=20.5 * 0.5, pixel_mm=0.5)
    k = np.arange(img.shape[0]) - img.shape[0] // 2
    np.testing.assert_allclose(img, vol.voxels[10][np.ix_(30 - k, 30 - k)], rtol=1e-4, atol=1e-2)
