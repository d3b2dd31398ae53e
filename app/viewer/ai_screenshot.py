"""Screenshots of the AI panels for the docs, made the way a user gets there: the demo CT scored from
the findings panel (worker thread), the subdural row chosen, occlusion run for the current slice.

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m app.viewer.ai_screenshot [OUT_DIR] [--slice 16]

Writes OUT_DIR/viewer_findings_panel.png and OUT_DIR/viewer_overlay_panel.png (default docs/screenshots).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="screenshots of the findings and overlay panels on the demo CT")
    ap.add_argument("out", nargs="?", default="docs/screenshots")
    ap.add_argument("--slice", type=int, default=16, help="axial image, counted from 1 as the viewer counts them")
    args = ap.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication

    from app.viewer.findings import FindingsPanel
    from app.viewer.overlay_panel import OverlayPanel
    from app.viewer.state import ViewerState
    from core.io import load
    from core.paths import demo_dir

    app = QApplication.instance() or QApplication(["neuroreview"])
    state = ViewerState()
    state.set_volume(load(demo_dir() / "ct" / "hemorrhage"))
    findings, overlay = FindingsPanel(state), OverlayPanel(state)
    findings.resize(470, 700)
    overlay.resize(470, 560)
    findings.show()
    overlay.show()

    def wait(signal) -> str:
        loop, got = QEventLoop(), []
        signal.connect(lambda status: (got.append(status), loop.quit()))
        loop.exec()
        return got[0]

    findings.run()
    if (status := wait(findings.runner.finished)) != "done":
        raise SystemExit(f"scoring {status}: {findings.status.text()}")
    state.set_cursor(z=args.slice - 1)
    findings.select_label("subdural")
    overlay.run_occlusion("subdural")
    if (status := wait(overlay.occlusion_runner.finished)) != "done":
        raise SystemExit(f"occlusion {status}: {overlay.occlusion_status.text()}")
    for _ in range(5):
        app.processEvents()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, widget in (("viewer_findings_panel.png", findings), ("viewer_overlay_panel.png", overlay)):
        widget.grab().save(str(out / name))
        print(f"wrote {out / name}")
    findings.shutdown()
    overlay.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
