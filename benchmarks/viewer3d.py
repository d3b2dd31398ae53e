"""3D pane responsiveness: opening the demo head CT (30 x 512 x 512) in the 2x2 layout of the real
viewer window with the VTK pane, measured with a 10 ms QTimer that records the gaps between its ticks
(the longest gap is the longest time the GUI was frozen).

    .venv/bin/python benchmarks/viewer3d.py [--repeats 3]

Ours: `ViewerWindow.set_volume` (what the loader hands over); the 3D pane prepares the voxels on a
worker thread, draws a preview-quality first frame, and refines to still quality after an idle delay.
Reported: longest GUI stall from opening to the first 3D frame, time to the first 3D frame, time to
the refined frame, and the longest stall including the refine (one still-quality render: with
software OpenGL this is the remaining cost, paid only once the user is idle; an idle refine that
overran STILL_BUDGET_S makes the next ones cast fewer rays, so later repeats are cheaper).
Peer in the same run (what set_volume did before): the same preparation and a full-quality render,
both on the GUI thread, in the same pane. Prints medians and the ratios.
QT_QPA_PLATFORM defaults to offscreen (OSMesa); set QT_QPA_PLATFORM=xcb under xvfb-run for the X window.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


class Ticker:
    """A 10 ms timer; the longest gap between ticks (and the ends) is the longest event-loop stall."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.ticks: list[float] = []
        self.timer = QTimer()
        self.timer.timeout.connect(lambda: self.ticks.append(time.perf_counter()))

    def start(self) -> float:
        self.ticks.clear()
        self.timer.start(10)
        return time.perf_counter()

    def stall(self, t0: float, t1: float) -> float:
        inside = [t for t in self.ticks if t0 <= t <= t1]
        pts = [t0, *inside, t1]
        return max(b - a for a, b in zip(pts, pts[1:]))


def wait_until(app, cond, timeout_s: float = 300.0) -> float:
    t_end = time.perf_counter() + timeout_s
    while not cond():
        if time.perf_counter() > t_end:
            raise TimeoutError("3D pane did not finish in time")
        app.processEvents()
        time.sleep(0.002)
    return time.perf_counter()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    from PySide6.QtWidgets import QApplication

    from app.viewer.main_window import ViewerWindow
    from app.viewer.settings import ViewerSettings
    from app.viewer.view3d import prepare
    from core.io import load
    from core.paths import demo_ct_dir

    app = QApplication.instance() or QApplication([])
    vol = load(demo_ct_dir())
    tmp = tempfile.TemporaryDirectory()
    win = ViewerWindow(settings=ViewerSettings(Path(tmp.name) / "v.ini"), layout="2x2", panels=False, auto_score=False)
    win.resize(1600, 1000)
    win.show()
    app.processEvents()
    assert win.pane3d.ensure(), win.pane3d.error
    view = win.pane3d.view
    ticker = Ticker()
    ours_stall, ours_first, ours_refined, ours_stall_all, preview_s, still_s = [], [], [], [], [], []
    sync_stall, sync_first, isd = [], [], []
    for _ in range(args.repeats):
        # ours: the real open path
        view.set_volume(None)
        n = len(view.renders)
        t0 = ticker.start()
        win.set_volume(vol, str(demo_ct_dir()))
        t_first = wait_until(app, lambda: view.first_frame_s is not None)
        t_ref = wait_until(app, lambda: view.quality == "still" and len(view.renders) > n and view.renders[-1][0] == "still")
        ticker.timer.stop()
        ours_stall.append(ticker.stall(t0, t_first))
        ours_stall_all.append(ticker.stall(t0, t_ref))
        ours_first.append(t_first - t0)
        ours_refined.append(t_ref - t0)
        preview_s.append(next(s for q, s in view.renders[n:] if q == "preview"))
        still_s.append(view.renders[-1][1])
        isd.append(view._still_isd)
        # peer: preparation and a still-quality render on the GUI thread (the old set_volume)
        t0 = ticker.start()
        view.set_volume(None)
        view._generation += 1
        view._volume = vol
        view._on_prepared(prepare(vol, view._generation))  # builds the pipeline (its preview frame counted too)
        view._render("full")
        app.processEvents()
        t1 = time.perf_counter()
        ticker.timer.stop()
        sync_stall.append(ticker.stall(t0, t1))
        sync_first.append(t1 - t0)
        view.set_volume(None)
    med = statistics.median
    w, h = view.vtk_widget.GetRenderWindow().GetSize()
    print(f"demo CT {vol.shape}, 3D pane {w}x{h} px, {view.vtk_widget.GetRenderWindow().GetClassName()}, "
          f"{args.repeats} repeats, load average {os.getloadavg()[0]:.2f}")
    print(f"ours: longest GUI stall to the first 3D frame {med(ours_stall) * 1000:.0f} ms; first 3D frame after "
          f"{med(ours_first):.2f} s (preview render {med(preview_s) * 1000:.0f} ms); refined after {med(ours_refined):.2f} s "
          f"(still render {med(still_s):.2f} s, longest stall including it {med(ours_stall_all):.2f} s; "
          f"per repeat {', '.join(f'{x:.2f}' for x in ours_stall_all)} s, ray spacing after {isd[-1]:.2f} px)")
    print(f"peer (prepare + full-quality render on the GUI thread): longest GUI stall {med(sync_stall):.2f} s; "
          f"first 3D frame after {med(sync_first):.2f} s")
    print(f"stall to first frame: ours/peer = {med(ours_stall) / med(sync_stall):.3f}; "
          f"first frame: ours/peer = {med(ours_first) / med(sync_first):.2f}")
    win.close()
    app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
