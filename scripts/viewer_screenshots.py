"""Issue 15's viewer screenshots into docs/screenshots/ (real windows, offscreen):

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/viewer_screenshots.py [GE_CT_FOLDER]

series browser of a two-series study, tag viewer, corner text normal and anonymised, an ROI with its
statistics on the real GE CT (default ../shared/data/ct-ge-head-tilt, else the bundled demo CT), coronal MPR
linear beside nearest neighbour, a 10 mm MIP, the oblique view. Settings and measurements go to a temporary NEUROREVIEW_HOME.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "docs" / "screenshots"


def main() -> int:
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QPainter, QPixmap
    from PySide6.QtWidgets import QApplication

    from app.viewer.main_window import ViewerWindow
    from app.viewer.settings import ViewerSettings
    from core.io import load
    from core.paths import demo_ct_dir, demo_dir, phantom_ct_dir

    app = QApplication.instance() or QApplication([])
    ge = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data" / "ct-ge-head-tilt"
    if not ge.is_dir():
        ge = demo_ct_dir()
    tmp = Path(tempfile.mkdtemp())
    OUT.mkdir(parents=True, exist_ok=True)

    def window(layout="2x2", size=(1500, 950)) -> ViewerWindow:
        win = ViewerWindow(settings=ViewerSettings(tmp / "viewer.ini"), layout=layout, panels=False, view3d=False)
        win.resize(*size)
        win.show()
        app.processEvents()
        return win

    def settle(win, ms=300) -> None:
        import time

        end = time.monotonic() + ms / 1000
        while time.monotonic() < end:
            app.processEvents()
        win.repaint()
        app.processEvents()

    def save(pix, name: str) -> None:
        path = OUT / name
        pix.save(str(path))
        print(f"wrote {path}")

    # 1. series browser: a two-series study (the phantom CT and the bundled real normal CT)
    import shutil

    study = tmp / "study"
    shutil.copytree(phantom_ct_dir(), study / "phantom")
    shutil.copytree(demo_dir() / "ct" / "normal", study / "normal")
    win = window()
    loaded = []
    win.volumeLoaded.connect(lambda: loaded.append(1))
    win.open_path(str(study))
    while not loaded or win.browser.thumbnails_ready() < 2:
        app.processEvents()
    settle(win)
    save(win.grab(), "viewer_series_browser.png")
    win.close()

    # 2-5. the real GE CT: corner text normal / anonymised, tag viewer, ROI statistics
    vol = load(ge)
    win = window("1x1", (1100, 900))
    win.set_volume(vol, str(ge))
    win.finish_loading()
    z = vol.shape[0] // 2
    win.state.set_cursor(z=z)
    settle(win)
    save(win.views["axial"].grab(), "viewer_corner_text.png")
    win.state.set_corner(anonymised=True)
    settle(win)
    save(win.views["axial"].grab(), "viewer_corner_text_anonymised.png")
    win.state.set_corner(anonymised=False)
    ax = win.views["axial"]
    p = ax.plane
    x0, y0 = p.to_display((z, 330, 330))
    x1, y1 = p.to_display((z, 300, 290))
    ax.add_measurement("ellipse", [(x0, y0), (x1, y1)])
    fx, fy = p.to_display((z, 230, 170))
    ax.add_measurement("freehand", [(fx, fy), (fx + 18, fy - 4), (fx + 24, fy + 12), (fx + 8, fy + 20), (fx - 3, fy + 10)])
    rx0, ry0 = p.to_display((z, 120, 380))
    rx1, ry1 = p.to_display((z, 120, 130))
    ax.add_measurement("ruler", [(rx0, ry0), (rx1, ry1)])
    win.measure_dock.raise_()
    settle(win)
    save(win.grab(), "viewer_roi_real_ct.png")
    tv = win.show_tags()
    tv.search.setText("kernel")
    tv.resize(900, 420)
    settle(win)
    save(tv.grab(), "viewer_tag_viewer_search.png")
    tv.search.setText("")
    settle(win)
    save(tv.grab(), "viewer_tag_viewer.png")
    tv.close()
    win.close()

    # 6. coronal MPR: nearest beside linear, and 7. a 10 mm MIP beside the single slice (no measurements here)
    tmp = Path(tempfile.mkdtemp())
    win = window("1x1", (800, 700))
    win.set_volume(vol, str(ge))
    win.finish_loading()
    win.set_active("coronal")
    win.state.set_cursor(z=z, y=vol.shape[1] // 2 + 20)
    shots = []
    for interp in ("nearest", "linear"):
        win.state.set_mpr(interp=interp)
        settle(win)
        shots.append(win.views["coronal"].grab())
    save(side_by_side(shots, QPixmap, QPainter, QPointF), "viewer_mpr_nearest_vs_linear.png")
    win.set_active("axial")
    shots = []
    for slab in (0.0, 10.0):
        win.state.set_mpr(slab_mm=slab, slab_mode="mip")
        settle(win)
        shots.append(win.views["axial"].grab())
    save(side_by_side(shots, QPixmap, QPainter, QPointF), "viewer_mip_10mm.png")
    win.close()

    # 8. the oblique view (+15 degrees) beside the 2x2 layout, its trace on the sagittal view
    win = window("2x2", (1600, 950))
    win.set_volume(vol, str(ge))
    win.finish_loading()
    win.state.set_cursor(z=z)
    win.toggle_oblique()
    win.state.set_oblique(15.0)
    settle(win, 800)
    save(win.grab(), "viewer_oblique.png")
    win.close()
    return 0


def side_by_side(pixmaps, QPixmap, QPainter, QPointF):  # noqa: N803 (Qt classes passed in)
    w = sum(p.width() for p in pixmaps) + 4 * (len(pixmaps) - 1)
    h = max(p.height() for p in pixmaps)
    out = QPixmap(w, h)
    out.fill()
    painter = QPainter(out)
    x = 0
    for p in pixmaps:
        painter.drawPixmap(QPointF(x, 0), p)
        x += p.width() + 4
    painter.end()
    return out


if __name__ == "__main__":
    raise SystemExit(main())
