"""Render docs/screenshots/viewer_3d.png (bone) and viewer_3d_brain.png (brain + blood) from the demo
hemorrhage CT in the 3D pane, anterior-oblique.

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m app.viewer.screenshot3d [OUT_DIR [CUT_SLICE]]
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(out_dir: str = "docs/screenshots", cut: str = "10") -> int:
    from PySide6.QtWidgets import QApplication

    from app.viewer.view3d import VolumeView3D
    from core.io import load
    from core.paths import demo_dir

    app = QApplication.instance() or QApplication([])
    volume = load(str(demo_dir() / "ct" / "hemorrhage"))
    view = VolumeView3D()
    view.resize(720, 760)
    view.show()
    app.processEvents()
    view.set_volume(volume, "bone")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # azimuth > 0 turns the camera towards the patient's left, < 0 towards the right (the subdural side)
    cut = int(cut)  # the axial slice the bone view is cut at
    for preset, azimuth, elevation, z, name in (("bone", 30, 45, cut, "viewer_3d.png"), ("brain", -30, 10, None, "viewer_3d_brain.png")):
        view.set_preset(preset)
        view.set_cut(z)
        view.reset_camera(azimuth, elevation)
        app.processEvents()
        pix = view.grab()
        view.paint_over(pix, view)  # grab() cannot see the OpenGL surface
        pix.save(str(out / name))
        print(f"wrote {out / name}")
    view.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
