"""Viewer speed: time to show a new 512x512 slice with the window and a heat-map overlay applied, and
time from launching `neuroreview view` to the first image on screen.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/viewer.py [--steps 200] [--launches 5]

Slice step (a real window offscreen, demo head CT 30 x 512 x 512, overlay on every slice): each step
moves the axial slice through the `ViewerState` and lets Qt process the update, checking that the
view really painted (forcing a repaint inside the timing otherwise), so the time covers
slicing, windowing (ImageItem levels), the overlay LUT, the crosshair/text updates and painting.
Peers measured in the same run on the same data and widget size:
  * pyqtgraph ImageView.setImage per slice (levels fixed, no auto-range) + an overlay ImageItem;
  * a naive path: numpy window to uint8, numpy alpha blend of a colormapped overlay, QImage ->
    QPixmap scaled into a QLabel.
Issue 15 adds, on the same window: coronal slice steps with linear through-slice interpolation (4-5 mm slices
shown at about the 0.45-0.49 mm pixel size, 8-11 display rows per slice) against nearest neighbour, and axial
steps of a 10 mm MIP slab.
First image: `neuroreview view` (demo case) as a subprocess with NEUROREVIEW_REPORT_FIRST_PAINT=1,
from Popen to the line it prints when the axial view has painted its first slice; the peer is a
Python process that shows an empty PySide6 window and prints when it has painted (the floor).
Target (issue 5): <= 16 ms per slice, <= 1 s to the first image.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402


def smooth_map(shape, seed=0) -> np.ndarray:
    """A Grad-CAM-like map on the volume grid: smooth blobs in 0..1 (the drawing cost does not depend on values)."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    small = ndimage.gaussian_filter(rng.random((shape[0], 16, 16)).astype(np.float32), (0, 2, 2))
    small = (small - small.min()) / (small.max() - small.min())
    zoom = (1, shape[1] / 16, shape[2] / 16)
    return ndimage.zoom(small, zoom, order=1).astype(np.float32)


class PaintCounter:
    """Counts Paint events reaching a widget, to check every timed step really painted once."""

    def __init__(self, widget) -> None:
        from PySide6.QtCore import QEvent, QObject

        counter = self

        class _Filter(QObject):
            def eventFilter(self, obj, ev):  # noqa: N802
                if ev.type() == QEvent.Paint:
                    counter.n += 1
                return False

        self.n = 0
        self._filter = _Filter()
        widget.installEventFilter(self._filter)


def time_steps(step, painted_widget, n: int) -> list[float]:
    """Median-ready times of: change the slice, let Qt process the update (one real paint)."""
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    counter = PaintCounter(painted_widget)
    out = []
    for _ in range(10):  # warm-up
        step()
        app.processEvents()
    for _ in range(n):
        before = counter.n
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        app.processEvents()
        if counter.n == before:  # nothing painted yet: force it, inside the timing
            painted_widget.repaint()
        out.append((time.perf_counter() - t0, time.process_time() - c0))
        if counter.n == before:
            raise RuntimeError("a step did not paint")
    return out


def bench_ours(volume, overlay, n: int, layout: str, orientation: str = "axial", **mpr) -> list[float]:
    from app.viewer.main_window import ViewerWindow
    from app.viewer.settings import ViewerSettings

    with tempfile.TemporaryDirectory() as tmp:
        win = ViewerWindow(settings=ViewerSettings(Path(tmp) / "v.ini"), layout=layout, panels=False, view3d=False)
        win.set_volume(volume)
        if mpr:
            win.state.set_mpr(**mpr)
        win.set_active(orientation)
        win.state.set_preset("subdural")
        win.state.set_overlay(kind="gradcam", label="bench", data=overlay, opacity=0.5, threshold=0.2)
        win.resize(1100, 800)
        win.show()
        ax = win.views[orientation]
        times = time_steps(lambda: ax.step(1, wrap=True), ax.viewport(), n)
        assert ax.overlay.isVisible()
        if orientation == "axial":
            assert ax.image.image.shape == (512, 512)
        elif mpr.get("interp", "linear") == "linear":
            assert ax.image.image.shape[0] >= 5 * volume.shape[0]  # really interpolated through the slices
        win.close()
    return times


def bench_imageview(volume, overlay, n: int) -> list[float]:
    import pyqtgraph as pg

    from app.viewer.slice_view import overlay_lut
    from core.imaging.windows import PRESETS

    w = PRESETS["subdural"]
    imv = pg.ImageView()
    imv.resize(800, 800)
    ov = pg.ImageItem(axisOrder="row-major")
    ov.setLookupTable(overlay_lut("inferno", 0.2, 0.0, 1.0))
    ov.setOpacity(0.5)
    imv.getView().addItem(ov)
    imv.show()
    state = {"z": 0}

    def step() -> None:
        state["z"] = (state["z"] + 1) % volume.shape[0]
        z = state["z"]
        # ImageView is col-major by default: transpose views to show the same orientation
        imv.setImage(volume.voxels[z, ::-1, ::-1].T, autoRange=False, autoLevels=False, levels=(w.low, w.high),
                     autoHistogramRange=False)
        ov.setImage(overlay[z, ::-1, ::-1], autoLevels=False, levels=(0.0, 1.0))

    times = time_steps(step, imv.ui.graphicsView.viewport(), n)
    imv.close()
    return times


def bench_naive(volume, overlay, n: int) -> list[float]:
    import pyqtgraph as pg
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPixmap
    from PySide6.QtWidgets import QLabel

    from core.imaging.windows import PRESETS

    w = PRESETS["subdural"]
    lut = np.asarray(pg.colormap.get("inferno").getLookupTable(0.0, 1.0, 256, alpha=False), dtype=np.float32)
    label = QLabel()
    label.resize(800, 800)
    label.show()
    state = {"z": 0}

    def step() -> None:
        state["z"] = (state["z"] + 1) % volume.shape[0]
        z = state["z"]
        hu = volume.voxels[z, ::-1, ::-1]
        g = np.clip((hu - w.low) / w.width, 0, 1)[..., None] * 255.0
        m = overlay[z, ::-1, ::-1]
        col = lut[np.clip((m * 255).astype(np.int32), 0, 255)]
        a = np.where(m > 0.2, 0.5, 0.0)[..., None]
        rgb = np.ascontiguousarray(((1 - a) * g + a * col).astype(np.uint8))
        img = QImage(rgb.data, rgb.shape[1], rgb.shape[0], rgb.shape[1] * 3, QImage.Format_RGB888)
        label.setPixmap(QPixmap.fromImage(img).scaled(label.size(), Qt.KeepAspectRatio))

    times = time_steps(step, label, n)
    label.close()
    return times


FLOOR_SCRIPT = """
import sys
from PySide6.QtWidgets import QApplication, QLabel
class L(QLabel):
    done = False
    def paintEvent(self, ev):
        super().paintEvent(ev)
        if not self.done:
            self.done = True
            import time
            print(f"first-paint process cpu {time.process_time():.3f}s", flush=True)
            app.quit()
app = QApplication(sys.argv)
w = L("empty window")
w.resize(1400, 900)
w.show()
app.exec()
"""


def launch(cmd: list[str], env: dict) -> tuple[float, float, float]:
    """(wall seconds from Popen to the first-paint line, the process's own CPU seconds at that moment,
    CPU seconds of the process and its children (the prefetch) until it exits right after painting)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=ROOT)
    result = None
    try:
        for line in proc.stdout:
            if line.startswith("first-paint") and result is None:
                result = (time.perf_counter() - t0, float(line.split("process cpu")[1].strip().rstrip("s")))
        if result is None:
            raise RuntimeError(f"{cmd} exited without painting (code {proc.wait()})")
    finally:
        if proc.wait(timeout=120) is None:
            proc.terminate()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return result[0], result[1], total


def bench_launch(n: int, path: str | None = None) -> tuple[list, list]:
    ours, floor = [], []
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, NEUROREVIEW_REPORT_FIRST_PAINT="exit", NEUROREVIEW_HOME=home, QT_QPA_PLATFORM="offscreen")
        exe = Path(sys.executable).parent / "neuroreview"
        cmd = ([str(exe), "view"] if exe.exists() else [sys.executable, "-m", "app", "view"]) + ([path] if path else [])
        launch(cmd, env)  # warm the file cache once, as a user's second start
        for _ in range(n):
            ours.append(launch(cmd, env))
            floor.append(launch([sys.executable, "-c", FLOOR_SCRIPT], env))
    return ours, floor


def ms(values) -> str:
    """Wall-clock median (p90) and the process's CPU time median: on a shared machine the CPU time is
    the work itself, the wall time adds waiting for a core."""
    wall = [v[0] for v in values]
    cpu = [v[1] for v in values]
    return (f"wall {statistics.median(wall) * 1000:5.1f} ms (p90 {np.percentile(wall, 90) * 1000:5.1f}), "
            f"cpu {statistics.median(cpu) * 1000:5.1f} ms")


def med(values, k: int = 0) -> float:
    return statistics.median(v[k] for v in values)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--launches", type=int, default=5)
    ap.add_argument("--launch-path", default=None,
                    help="series to open in the start-up measurement (default: the bundled demo CT)")
    args = ap.parse_args()

    from PySide6.QtWidgets import QApplication

    from core.io import load
    from core.paths import demo_ct_dir

    app = QApplication.instance() or QApplication([])
    volume = load(demo_ct_dir())
    overlay = smooth_map(volume.shape)
    print(f"demo CT {volume.shape}, overlay on every slice, {args.steps} steps, platform {app.platformName()}")
    ours1 = bench_ours(volume, overlay, args.steps, "1x1")
    ours4 = bench_ours(volume, overlay, args.steps, "2x2")
    cor_lin = bench_ours(volume, overlay, args.steps, "1x1", "coronal", interp="linear")
    cor_nn = bench_ours(volume, overlay, args.steps, "1x1", "coronal", interp="nearest")
    cor_lin4 = bench_ours(volume, overlay, args.steps, "2x2", "coronal", interp="linear")
    mip = bench_ours(volume, overlay, args.steps, "1x1", "axial", slab_mm=10.0, slab_mode="mip")
    imv = bench_imageview(volume, overlay, args.steps)
    naive = bench_naive(volume, overlay, args.steps)
    m1 = med(ours1)
    print(f"new slice + window + overlay, ours 1x1 (axial alone): {ms(ours1)}")
    print(f"new slice + window + overlay, ours 2x2 (+ MPR lines) : {ms(ours4)}")
    print(f"coronal step, linear through slices, 1x1            : {ms(cor_lin)}  (nearest: {ms(cor_nn)}, "
          f"{med(cor_lin) / med(cor_nn):.2f}x)")
    print(f"coronal step, linear through slices, 2x2            : {ms(cor_lin4)}")
    print(f"axial step, 10 mm MIP slab, 1x1                     : {ms(mip)}")
    print(f"peer pyqtgraph ImageView.setImage + overlay item     : {ms(imv)}  -> ours {med(imv) / m1:.2f}x (wall), "
          f"{med(imv, 1) / med(ours1, 1):.2f}x (cpu)")
    print(f"peer naive numpy window/blend + QImage in a QLabel   : {ms(naive)}  -> ours {med(naive) / m1:.2f}x (wall), "
          f"{med(naive, 1) / med(ours1, 1):.2f}x (cpu)")
    worst = max(m1, med(cor_lin), med(cor_lin4), med(mip))
    print(f"target <= 16 ms (wall; worst of axial, linear coronal, MIP): {'met' if worst <= 0.016 else 'NOT met'} "
          f"({worst * 1000:.1f} ms); load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if args.launches:
        ours, floor = bench_launch(args.launches, args.launch_path)
        print(f"`neuroreview view {args.launch_path or ''}` to first image (median of {args.launches}): wall {med(ours):.2f} s "
              f"(runs {', '.join(f'{v[0]:.2f}' for v in ours)}); cpu of the viewer process {med(ours, 1):.2f} s, "
              f"of viewer + prefetch process {med(ours, 2):.2f} s (they run side by side on 2 cores)")
        print(f"peer: empty PySide6 window to first paint             : wall {med(floor):.2f} s, cpu {med(floor, 1):.2f} s")
        print(f"target <= 1 s (wall): {'met' if med(ours) <= 1.0 else 'NOT met'}; load average now {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
