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



PREFETCH_CHILD = """
import sys, pickle
from app.viewer.prefetch import Prefetch
out = []
for path in sys.argv[1:]:
    pf = Prefetch.start(path)
    out.append(None if pf is None else pf.wait())
sys.stdout.buffer.write(pickle.dumps(out))
"""


def prefetch_in_a_fresh_process(*paths) -> list:
    """Prefetch as `neuroreview view` uses it: forked from a process with no other thread yet (this test process
    runs Qt and ONNX Runtime threads, where forking is unsafe and Prefetch.start declines)."""
    import pickle

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    res = subprocess.run([sys.executable, "-c", PREFETCH_CHILD, *map(str, paths)], capture_output=True, cwd=root, timeout=300,
                         env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert res.returncode == 0, res.stderr.decode()[-2000:]
    return pickle.loads(res.stdout)


def test_prefetch_returns_the_same_volume_as_load(demo_volume):
    ((kind, vol),) = prefetch_in_a_fresh_process(phantom_ct_dir())
    assert kind == "volume"
    assert vol.shape == demo_volume.shape and np.array_equal(vol.voxels, demo_volume.voxels)
    assert np.allclose(vol.affine, demo_volume.affine) and vol.ids == demo_volume.ids and vol.window == demo_volume.window


def test_prefetch_reports_errors_and_several_series(tmp_path):
    shutil.copytree(demo_ct_dir(), tmp_path / "two" / "a")
    shutil.copytree(demo_dir() / "ct" / "normal", tmp_path / "two" / "b")
    (kind, msg), several = prefetch_in_a_fresh_process(tmp_path / "missing", tmp_path / "two")
    assert kind == "error" and str(tmp_path / "missing") in msg
    assert several == ("several", None)


def test_prefetch_declines_to_fork_a_process_that_runs_threads(tmp_path):
    import threading

    stop = threading.Event()
    t = threading.Thread(target=stop.wait, daemon=True)
    t.start()
    try:
        assert Prefetch.start(phantom_ct_dir()) is None  # the caller then loads in a thread, its normal path
    finally:
        stop.set()
        t.join()


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
