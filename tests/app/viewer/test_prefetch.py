"""The launch path: the series named on the command line is read in a forked process while the window
is built; its volume, its error or 'several series' come back intact; `neuroreview view` paints."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from app.viewer.prefetch import Prefetch
from core.paths import demo_ct_dir, demo_dir, phantom_ct_dir



def test_prefetch_returns_the_same_volume_as_load(demo_volume):
    pf = Prefetch.start(phantom_ct_dir())
    assert pf is not None  # Linux has fork
    kind, vol = pf.wait()
    assert kind == "volume"
    assert vol.shape == demo_volume.shape and np.array_equal(vol.voxels, demo_volume.voxels)
    assert np.allclose(vol.affine, demo_volume.affine) and vol.ids == demo_volume.ids and vol.window == demo_volume.window


def test_prefetch_reports_errors_and_several_series(tmp_path):
    kind, msg = Prefetch.start(tmp_path / "missing").wait()
    assert kind == "error" and str(tmp_path / "missing") in msg
    shutil.copytree(demo_ct_dir(), tmp_path / "two" / "a")
    shutil.copytree(demo_dir() / "ct" / "normal", tmp_path / "two" / "b")
    assert Prefetch.start(tmp_path / "two").wait() == ("several", None)


def test_neuroreview_view_launch_paints_the_demo(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", NEUROREVIEW_HOME=str(tmp_path), NEUROREVIEW_REPORT_FIRST_PAINT="1")
    proc = subprocess.Popen([sys.executable, "-m", "app", "view", "--layout", "1x1"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert line.startswith("first-paint axial"), (line, proc.poll())
    finally:
        proc.terminate()
        proc.wait(timeout=60)
