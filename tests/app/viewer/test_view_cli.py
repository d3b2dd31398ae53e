"""`neuroreview view --screenshot`: a real process renders the window headless and exits."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from PySide6.QtGui import QImage

from core.paths import demo_ct_dir


def run_view(*args: str, tmp_path) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", NEUROREVIEW_HOME=str(tmp_path / "home"))
    return subprocess.run([sys.executable, "-m", "app", "view", *args], capture_output=True, text=True, env=env, timeout=600)


def png_rgb(path) -> np.ndarray:
    img = QImage(str(path)).convertToFormat(QImage.Format_RGB888)
    h, w = img.height(), img.width()
    buf = np.frombuffer(img.constBits(), dtype=np.uint8, count=img.bytesPerLine() * h).reshape(h, img.bytesPerLine())
    return buf[:, : w * 3].reshape(h, w, 3).copy()  # the QImage dies with this frame


def test_screenshot_renders_the_demo_at_the_asked_size(tmp_path, qapp):
    out = tmp_path / "shot.png"
    res = run_view("--screenshot", str(out), "--layout", "1x1", "--preset", "subdural", "--slice", "15",
                   "--size", "900x640", tmp_path=tmp_path)
    assert res.returncode == 0, res.stderr
    assert f"wrote {out}" in res.stdout
    rgb = png_rgb(out)
    assert rgb.shape == (640, 900, 3)
    grey = rgb.mean(axis=2)
    assert grey.std() > 30  # a head on black, not a blank frame
    # the middle of the image pane is brain (mid grey in the subdural window), not background
    h, w = grey.shape
    centre = grey[h // 2 - 5:h // 2 + 5, w // 3 - 5:w // 3 + 5]
    assert 30 < np.median(centre) < 200
    # the user's settings were not touched by a screenshot
    assert not (tmp_path / "home" / "viewer.ini").exists()


def test_screenshot_of_a_missing_path_is_one_line_naming_it(tmp_path, qapp):
    missing = tmp_path / "nowhere"
    res = run_view(str(missing), "--screenshot", str(tmp_path / "x.png"), tmp_path=tmp_path)
    assert res.returncode == 2
    assert str(missing) in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "x.png").exists()


def test_bad_overlay_argument_is_refused(tmp_path, qapp):
    res = run_view(str(demo_ct_dir()), "--screenshot", str(tmp_path / "x.png"), "--overlay", "heatmap", tmp_path=tmp_path)
    assert res.returncode == 2 and "gradcam:LABEL" in res.stderr


def test_screenshot_with_gradcam_waits_for_scoring(tmp_path, qapp):
    out = tmp_path / "cam.png"
    res = run_view("--screenshot", str(out), "--layout", "1x1", "--preset", "subdural", "--slice", "15",
                   "--overlay", "gradcam:subdural", "--size", "900x640", tmp_path=tmp_path)
    assert res.returncode == 0, res.stderr
    rgb = png_rgb(out).astype(int)
    pane = rgb[:, : int(rgb.shape[1] * 0.6)]
    coloured = (pane[..., 0] - pane[..., 2]) > 40  # the heat map's warm colours over grey CT
    assert coloured.sum() > 500


def test_findings_screenshot_shows_the_findings_even_with_loader_warnings(tmp_path, qapp):
    """Issue 15: --findings on a series with loader warnings used to show the Series tab."""
    import argparse
    import shutil

    from app.cli import view
    from core.paths import phantom_ct_dir

    series = tmp_path / "gap"
    shutil.copytree(phantom_ct_dir(), series)
    files = sorted(p for p in series.iterdir() if p.suffix == ".dcm")
    files[len(files) // 2].unlink()  # a missing slice: the loader warns and interpolates
    parser = argparse.ArgumentParser()
    view.register(parser.add_subparsers())
    args = parser.parse_args(["view", str(series), "--findings", "--screenshot", str(tmp_path / "f.png"), "--layout", "1x1"])
    win = view.screenshot_window(args, None, (1400, 900), tmp_path / "viewer.ini")
    try:
        assert win.state.volume.warnings and win.state.ich is not None
        assert not win.findings_dock.visibleRegion().isEmpty()  # the findings tab is in front
        assert win.info_dock.visibleRegion().isEmpty()
    finally:
        win.close()


def _view_args(*argv: str):
    import argparse

    from app.cli import view

    parser = argparse.ArgumentParser()
    view.register(parser.add_subparsers())
    return parser.parse_args(["view", *argv])


def test_slice_counts_images_from_one_as_the_views_do(tmp_path, qapp):
    """`score` says "image 12"; `view --slice 12` must open that image, not the one after it."""
    from app.cli import view
    from core.paths import phantom_ct_dir

    args = _view_args(str(phantom_ct_dir()), "--slice", "1", "--screenshot", str(tmp_path / "s.png"), "--layout", "1x1")
    win = view.screenshot_window(args, None, (900, 640), tmp_path / "viewer.ini")
    try:
        assert win.state.cursor[0] == 0
        last = win.state.volume.shape[0]
    finally:
        win.close()
    args = _view_args(str(phantom_ct_dir()), "--slice", str(last), "--screenshot", str(tmp_path / "s.png"), "--layout", "1x1")
    win = view.screenshot_window(args, None, (900, 640), tmp_path / "viewer.ini")
    try:
        assert win.state.cursor[0] == last - 1
    finally:
        win.close()


def test_slice_outside_the_series_is_refused_not_clipped(tmp_path, qapp):
    from core.paths import phantom_ct_dir

    res = run_view(str(phantom_ct_dir()), "--slice", "9999", "--screenshot", str(tmp_path / "x.png"), tmp_path=tmp_path)
    assert res.returncode == 2 and "--slice 9999" in res.stderr and "axial images" in res.stderr, res.stderr
    assert "Traceback" not in res.stderr and not (tmp_path / "x.png").exists()
    res = run_view(str(phantom_ct_dir()), "--slice", "0", "--screenshot", str(tmp_path / "x.png"), tmp_path=tmp_path)
    assert res.returncode == 2 and "counted from 1" in res.stderr, res.stderr
