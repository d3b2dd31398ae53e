"""Render docs/screenshots/viewer_3d.png (bone) and viewer_3d_brain.png (brain + blood) from the demo
hemorrhage CT in the 3D pane, anterior-oblique (face to the viewer, superior up, from the patient's
right and above: the view a radiologist expects of a skull).

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m app.viewer.screenshot3d [OUT_DIR [CUT_SLICE]]

CUT_SLICE (optional) cuts the bone view at that axial slice, keeping what is inferior.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(out_dir: str = "docs/screenshots", cut: str | None = None) -> int:
    from PySide6.QtWidgets import QApplication

    from app.viewer.view3d import DEFAULT_AZIMUTH, DEFAULT_ELEVATION, VolumeView3D
    from core.io import load
    from core.paths import demo_dir

    app = QApplication.instance() or QApplication([])
    volume = load(str(demo_dir() / "ct" / "hemorrhage"))
    view = VolumeView3D()
    view.resize(720, 760)
    view.show()
    app.processEvents()
    view.set_volume(volume, "bone")
    if not view.wait_ready():
        print(f"3D view not ready: {view.error}", file=sys.stderr)
        return 1
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # azimuth < 0 turns the camera towards the patient's right (the subdural side), elevation > 0 from above
    shots = (("bone", DEFAULT_AZIMUTH, DEFAULT_ELEVATION, None if cut is None else int(cut), "viewer_3d.png"),
             ("brain", DEFAULT_AZIMUTH, DEFAULT_ELEVATION, None, "viewer_3d_brain.png"))
    for preset, azimuth, elevation, z, name in shots:
        view.set_preset(preset)
        if not view.wait_ready():
            print(f"3D view not ready: {view.error}", file=sys.stderr)
            return 1
        view.set_cut(z)
        view.reset_camera(azimuth, elevation)
        app.processEvents()
        pix = view.grab()
        view.paint_over(pix, view)  # grab() cannot see the OpenGL surface; renders at still quality
        pix.save(str(out / name))
        print(f"wrote {out / name}")
    view.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
