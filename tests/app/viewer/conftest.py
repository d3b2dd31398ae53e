"""Viewer fixtures: the demo head CT loaded once, and a real main window (offscreen) with private settings."""

from __future__ import annotations

import pytest

from core.io import load
from tests.app.viewer.qt_helpers import show_active
from core.paths import demo_dir, phantom_ct_dir


@pytest.fixture(scope="session")
def demo_volume():
    return load(phantom_ct_dir())  # the generated phantom: its truth is exact (labels.json)


@pytest.fixture(scope="session")
def mri_volume():
    return load(demo_dir() / "mri" / "good.nii.gz")


@pytest.fixture
def settings(tmp_path):
    from app.viewer.settings import ViewerSettings

    return ViewerSettings(tmp_path / "viewer.ini")


@pytest.fixture
def viewer(qtbot, settings):
    """An empty main window, 2x2, without the AI panels and the VTK pane (tested on their own)."""
    from app.viewer.main_window import ViewerWindow

    win = ViewerWindow(settings=settings, layout="2x2", panels=False, view3d=False)
    qtbot.addWidget(win)
    win.resize(1200, 900)
    show_active(qtbot, win)
    yield win
    win.close()


@pytest.fixture
def demo_viewer(viewer, demo_volume, qtbot):
    viewer.set_volume(demo_volume, str(phantom_ct_dir()))
    qtbot.wait(10)
    return viewer
