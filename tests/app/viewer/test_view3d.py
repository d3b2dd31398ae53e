"""The 3D pane with real VTK (OSMesa under offscreen Qt, the X window under Xvfb): presets render what
they should where they should (patient space, anterior view), MR renders, close() is safe twice;
opening a volume never renders at still quality on the way (data prepared off the GUI thread, a
preview frame first, the refine only when idle and visible)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from app.viewer.presets3d import CT_PRESETS, brain_and_skull_mask, intracranial_mask, upsample_z
from core.volume import Volume, ras_affine


@pytest.fixture
def view(qtbot):
    from app.viewer.view3d import VolumeView3D

    v = VolumeView3D()
    qtbot.addWidget(v)
    v.resize(240, 250)
    v.show()
    qtbot.waitExposed(v)
    yield v
    v.close()


def show(view, volume, preset=None, qtbot=None):
    """set_volume, then wait (event loop running) until that volume's first frame is up."""
    view.set_volume(volume, preset)
    assert view.wait_ready(120), view.error


def lit(rgb: np.ndarray, thr: int = 30) -> np.ndarray:
    return rgb.max(axis=2) > thr


def blocks_ct() -> Volume:
    """Air with a bone block on the patient's right and superior, and a soft-tissue slab around it."""
    vox = np.full((40, 64, 64), -1000.0, np.float32)
    vox[5:35, 10:54, 10:54] = 30.0  # soft tissue
    vox[25:33, 28:36, 40:50] = 1500.0  # bone: high x (patient right), high z (superior)
    return Volume(vox, ras_affine((2.0, 2.0, 2.0), (-64.0, -64.0, -40.0)), "CT")


def test_bone_preset_renders_the_skull_in_patient_space(view, demo_volume):
    show(view, demo_volume, "bone")
    view.reset_camera(0, 0)  # straight anterior: the silhouette is width x height
    assert view.preset == "bone" and view.presets() == ["bone", "skin", "brain"]
    assert view.stride == 2  # 512 x 512 handed to the renderer at 256 x 256
    rgb = view.render_to_array()
    h, w, _ = rgb.shape
    assert (h, w) == (view.vtk_widget.height(), view.vtk_widget.width())
    mask = lit(rgb)
    corners = np.concatenate([rgb[:10, :10], rgb[:10, -10:], rgb[-10:, :10], rgb[-10:, -10:]]).reshape(-1, 3)
    assert corners.max() < 10  # black background
    assert 0.15 < mask.mean() < 0.8
    bone = rgb[mask].astype(float)
    assert bone.mean() > 120 and (bone.min(axis=1) / np.maximum(bone.max(axis=1), 1)).mean() > 0.6  # bright, near white
    # the silhouette has the skull's proportions in mm (spacing used: 5 mm slices, 0.45 mm pixels)
    ys, xs = np.nonzero(mask)
    idx = np.argwhere(demo_volume.voxels > 300)
    ras = demo_volume.index_to_world(idx[:: max(1, len(idx) // 20000)].astype(float))
    width_mm, height_mm = np.ptp(ras[:, 0]), np.ptp(ras[:, 2])
    ratio_img = (xs.max() - xs.min()) / (ys.max() - ys.min())
    assert ratio_img == pytest.approx(width_mm / height_mm, rel=0.15)
    assert abs((xs.min() + xs.max()) / 2 - w / 2) < 0.1 * w  # centred by reset_camera
    # cut at the middle axial slice: what was superior to it is gone from the anterior view
    view.set_cut(demo_volume.shape[0] // 2)
    ys_cut = np.nonzero(lit(view.render_to_array()))[0]
    assert view.cut == demo_volume.shape[0] // 2
    assert ys_cut.min() > ys.min() + 0.25 * (ys.max() - ys.min()) and ys_cut.max() >= ys.max() - 3
    view.set_cut(None)
    assert np.nonzero(lit(view.render_to_array()))[0].min() == pytest.approx(ys.min(), abs=3)


def test_anterior_view_has_patient_right_on_screen_left_and_superior_up(view):
    vol = blocks_ct()
    show(view, vol, "bone")
    cam = view.renderer.GetActiveCamera()
    pos, focal = np.array(cam.GetPosition()), np.array(cam.GetFocalPoint())
    d = pos - focal  # the default view: anterior-oblique, from the patient's right and above
    assert d[1] > 0 and d[0] > 0 and d[2] > 0 and d[1] > 1.5 * abs(d[0]) and cam.GetViewUp()[2] > 0.9
    rgb = view.render_to_array()
    ys, xs = np.nonzero(lit(rgb))
    assert len(xs) > 50
    h, w, _ = rgb.shape
    assert xs.mean() < w / 2  # bone on the patient's right: screen left, as when facing the patient
    assert ys.mean() < h / 2  # superior: up
    # shifting the affine's origin moves the volume in patient space, and reset_camera follows it
    moved = Volume(vol.voxels, ras_affine((2.0, 2.0, 2.0), (500.0, -300.0, 200.0)), "CT")
    show(view, moved, "bone")
    b = view.renderer.GetActiveCamera().GetFocalPoint()
    assert b[0] > 400 and b[1] < -200 and b[2] > 150
    ys2, xs2 = np.nonzero(lit(view.render_to_array()))
    assert abs(xs2.mean() - xs.mean()) < 0.05 * w and abs(ys2.mean() - ys.mean()) < 0.05 * h
    # the skin preset shows the soft tissue: a larger, skin-coloured silhouette
    view.set_preset("skin")
    skin = view.render_to_array()
    assert lit(skin).sum() > 2 * len(xs)
    px = skin[lit(skin)].astype(float)
    assert px[:, 0].mean() > px[:, 2].mean() + 20  # warm skin tone, not bone white


def test_presets_change_the_image_and_brain_shows_the_blood(view, demo_volume):
    show(view, demo_volume, "bone")
    view.reset_camera(0, 0)
    bone = view.render_to_array().astype(float)
    assert view.set_preset("skin") and view.preset == "skin"
    skin = view.render_to_array().astype(float)
    assert view.preset_box.currentData() == "skin"
    assert np.abs(skin - bone).mean() > 5
    assert lit(skin.astype(np.uint8)).sum() >= lit(bone.astype(np.uint8)).sum()  # the scalp is outside the skull
    view.set_preset("brain")
    assert view.wait_ready(60) and view.preset == "brain"  # the brain image may still be on the worker
    brain = view.render_to_array()
    assert np.abs(brain.astype(float) - skin).mean() > 5
    r, g = brain[..., 0].astype(float), brain[..., 1].astype(float)
    red = (r > 60) & (r > 1.6 * g)
    assert red.sum() > 200  # the subdural collection, drawn red
    # and on the side where the blood is: patient right is screen left in the anterior view
    hu = demo_volume.voxels
    blood = (hu > 55) & (hu < 90) & intracranial_mask(hu)
    x_blood = np.argwhere(blood)[:, 2].mean()
    x_head = np.argwhere(hu > 300)[:, 2].mean()
    xs = np.nonzero(red)[1]
    w = brain.shape[1]
    assert (xs.mean() < w / 2) == (x_blood > x_head)  # +x is patient right
    with pytest.raises(ValueError, match="unknown 3D preset"):
        view.set_preset("lungs")


def test_mr_volume_renders_with_its_own_preset(view, mri_volume, demo_volume):
    view.set_preset("brain")  # a CT preference
    show(view, mri_volume)
    assert view.presets() == ["mr"] and view.preset == "mr"
    rgb = view.render_to_array()
    assert 0.1 < lit(rgb).mean() < 0.9
    assert view.set_preset("bone") is False and view.preset == "mr"  # not offered for MR: kept for later
    show(view, demo_volume)
    assert view.preset == "bone"  # the last preference asked for


def test_interaction_rates_and_axial_plane_outline(view, demo_volume, qtbot):
    iren = view.vtk_widget.GetRenderWindow().GetInteractor()
    assert iren.GetDesiredUpdateRate() >= 10 and iren.GetStillUpdateRate() < 0.01
    show(view, demo_volume, "bone")
    before = view.render_to_array().astype(int)
    yellow = lambda im: (im[..., 0] > 200) & (im[..., 1] > 150) & (im[..., 2] < 80)  # noqa: E731
    head = lit(before)
    view.set_cursor((15, 256, 256))
    assert view.renders[-1][0] == "full"  # the outline waits for the event loop (scrolling coalesces)
    after = view.render_to_array().astype(int)
    ys, xs = np.nonzero(yellow(after) & ~yellow(before))
    assert len(xs) > 50
    # an outline around the head, seen from above-right: a quadrilateral, not a line across the pane
    hx = np.nonzero(head.any(axis=0))[0]
    w = after.shape[1]
    assert np.ptp(xs) < 0.9 * w and np.ptp(xs) < 1.7 * np.ptp(hx)  # a box around the head, seen obliquely
    assert np.ptp(ys) > 10
    # a slice higher up moves the outline up the screen (superior is up)
    view.set_cursor((25, 256, 256))
    ys_up = np.nonzero(yellow(view.render_to_array().astype(int)) & ~yellow(before))[0]
    assert ys_up.mean() < ys.mean() - 10
    view.set_cursor(None)
    assert yellow(view.render_to_array().astype(int)).sum() <= yellow(before).sum() + 5


def test_set_volume_returns_before_any_render_and_refines_when_idle(view, demo_volume, qtbot):
    """The freeze fix, checked by structure: set_volume only starts the worker; the first frame is a
    preview; the still-quality frame comes from the idle timer. Plus a generous responsiveness bound
    (a 10 ms timer must keep ticking: the old code blocked the event loop ~10 s here)."""
    n = len(view.renders)
    ticks: list[float] = []
    from PySide6.QtCore import QTimer

    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(10)
    t0 = time.perf_counter()
    with qtbot.waitSignal(view.ready, timeout=120000):
        view.set_volume(demo_volume, "bone")
        assert view.preparing and len(view.renders) == n and view.first_frame_s is None  # nothing rendered
    t1 = time.perf_counter()
    timer.stop()
    new = view.renders[n:]
    assert new and all(q == "preview" for q, _ in new) and view.quality == "preview"
    gaps = np.diff([t0, *ticks, t1])
    assert gaps.max() < 1.5, f"event loop stalled {gaps.max():.2f} s while the 3D pane prepared the volume"
    with qtbot.waitSignal(view.refined, timeout=60000):
        pass
    assert view.renders[-1][0] == "still" and view.quality == "still"
    # dragging the camera draws previews again; the refine follows when idle
    style = view.vtk_widget.GetRenderWindow().GetInteractor().GetInteractorStyle()
    style.InvokeEvent("StartInteractionEvent")
    view.vtk_widget.GetRenderWindow().Render()
    assert view.renders[-1][0] == "preview"
    style.InvokeEvent("EndInteractionEvent")
    with qtbot.waitSignal(view.refined, timeout=60000):
        pass


def test_hidden_pane_never_renders_and_a_newer_volume_wins(view, demo_volume, mri_volume, qtbot):
    view.hide()
    n = len(view.renders)
    view.set_volume(mri_volume)
    view.set_volume(demo_volume, "skin")  # arrives before the MR is prepared: the MR result is dropped
    qtbot.waitUntil(lambda: not view.preparing, timeout=120000)
    qtbot.wait(2 * 700)  # longer than the refine delay
    assert len(view.renders) == n and view.first_frame_s is None  # hidden (1x1 layout): no frame at all
    assert view.presets() == ["bone", "skin", "brain"] and view.preset == "skin"
    with qtbot.waitSignal(view.ready, timeout=60000):
        view.show()
    assert view.renders[n][0] == "preview" and lit(view.render_to_array()).mean() > 0.1


def test_close_twice_is_safe(qtbot, demo_volume):
    from app.viewer.view3d import VolumeView3D

    v = VolumeView3D()
    qtbot.addWidget(v)
    v.resize(200, 200)
    v.show()
    v.set_volume(demo_volume)  # closed while the worker prepares: waited for, its result ignored
    v.close()
    v.close()
    v.set_volume(demo_volume)  # ignored once closed, no crash
    with pytest.raises(RuntimeError, match="closed"):
        v.render_to_array()


def test_presets_data_and_brain_mask():
    for p in CT_PRESETS.values():
        vals = [c[0] for c in p.colors]
        assert vals == sorted(vals) and [o[0] for o in p.opacity] == sorted(o[0] for o in p.opacity)
    # a bone ring: inside is kept (minus the eroded rim), outside and the scalp go to air, bone stays
    hu = np.full((3, 80, 80), -1000.0, np.float32)
    yy, xx = np.mgrid[:80, :80]
    r = np.hypot(yy - 40, xx - 40)
    hu[:, r < 34] = 40.0  # scalp
    hu[:, r < 30] = 1500.0  # skull
    hu[:, r < 26] = 35.0  # brain
    mask = intracranial_mask(hu)
    assert mask[1, 40, 40] and not mask[1, 40, 75] and not mask[1, 40, 12]  # centre in, scalp and bone out
    keep = brain_and_skull_mask(hu)
    assert keep[1, 40, 40] and keep[1, 40, 12] and not keep[1, 40, 7]  # brain, bone kept; scalp not
    # thick slices: the display grid passes through the original slices when not smoothed
    vox = np.random.default_rng(0).normal(size=(5, 8, 8)).astype(np.float32)
    up = upsample_z(vox, 3, profile=0, inplane_sigma=0)
    assert up.shape == (13, 8, 8) and np.allclose(up[::3], vox, atol=1e-5)
