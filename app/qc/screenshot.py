"""Render docs/screenshots/qc_table.png (the review window on a batch run of the demo strips, two reviewers)
and qc_report.png (the HTML report as headless Chromium shows it, when Chromium is installed).

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m app.qc.screenshot [OUT_DIR]
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def main(out_dir: str = "docs/screenshots") -> int:
    from PySide6.QtWidgets import QApplication

    from app.qc.window import QCWindow
    from core.study import StudyStore
    from core.study.qc_ratings import QCRatings
    from core.paths import demo_dir
    from core.qc.engine import run_batch
    from core.qc.report import write_report

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "batch"
        for site in ("siteA", "siteB"):
            (root / site).mkdir(parents=True)
            for n in ("good", "face_kept", "brain_cut"):
                shutil.copy(demo_dir() / "mri" / f"{n}.nii.gz", root / site / f"{site}_{n}.nii.gz")
        (root / "siteB" / "siteB_truncated.nii.gz").write_bytes((demo_dir() / "mri" / "good.nii.gz").read_bytes()[:5000])
        res = Path(tmp) / "results.csv"
        run_batch(root, res, workers=1, progress=False)
        report = write_report(res, Path(tmp) / "report" / "qc_report.html")
        store = StudyStore(Path(tmp) / "r.sqlite")
        for name, verdict in (("face_kept", "face kept"), ("good", "unsure")):  # a second reviewer, already done
            QCRatings(store).rate(root / "siteA" / f"siteA_{name}.nii.gz", verdict, "second reviewer")
        win = QCWindow(res, QCRatings(store), reviewer="demo")
        win.resize(1500, 820)
        win.show()
        win.table.selectRow(0)
        win.rate_current("face kept")
        win.table.selectRow(2)
        win.rate_current("pass")
        win.table.selectRow(1)
        win.mosaic.step(1, 12)  # a reviewer looking a few slices higher in the middle axial tile
        app.processEvents()
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        win.grab().save(str(Path(out_dir) / "qc_table.png"))
        win.close()
        browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
        if browser:
            subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                            "--window-size=1400,1500", f"--screenshot={Path(out_dir).resolve() / 'qc_report.png'}",
                            report.resolve().as_uri()], check=True, capture_output=True, timeout=120)
        else:
            print("no Chromium: qc_report.png not rendered")
    print(f"wrote {out_dir}/qc_table.png" + (" and qc_report.png" if browser else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:]))
