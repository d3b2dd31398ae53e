"""Render docs/screenshots/study_reading.png (unaided step) and study_reading_aided.png (aided step):
the reading window on a study of the three demo CT series, scored by the bundled models.

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m app.study.screenshot [OUT_DIR]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path


def _wait(app, cond, timeout: float = 120.0) -> None:
    t0 = time.monotonic()
    while not cond():
        app.processEvents()
        time.sleep(0.02)
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(f"waited {timeout:.0f} s for {cond.__code__.co_names}")


def main(out_dir: str = "docs/screenshots") -> int:
    from PySide6.QtWidgets import QApplication

    from app.study.window import ReadingWindow
    from core.paths import demo_dir
    from core.study import StudyStore
    from core.study.scoring import score_cases

    app = QApplication.instance() or QApplication([])
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        store = StudyStore(Path(tmp) / "study.sqlite")
        store.create_study("ICH demo", ["any", "epidural", "intraparenchymal", "intraventricular", "subarachnoid",
                                        "subdural"], reference_standard="generator masks")
        ids = store.add_cases("ICH demo", [str(demo_dir() / "ct" / n) for n in ("normal", "bg_left", "hemorrhage")])
        hem = ids[2]
        readers = [f"reader {i}" for i in range(1, 20)]
        store.add_readers("ICH demo", readers)
        reader = next(r for r in readers if store.reading_order("ICH demo", r)[0] == hem)  # the demo case first
        score_cases(store, "ICH demo")
        win = ReadingWindow(store, "ICH demo", reader)
        win.resize(1500, 820)
        win.show()
        st = win.image.state
        _wait(app, lambda: st.volume is not None)  # the case loads in the background
        st.set_cursor(z=int(st.volume.shape[0] * 0.55))
        rows = win.unaided
        for lab, present, conf in (("any", True, 4), ("epidural", False, 4), ("intraparenchymal", False, 3),
                                   ("intraventricular", True, 3)):
            (rows.present_btn if present else rows.absent_btn)[lab].setChecked(True)
            rows.score[lab].set_value(conf)
        win._update_buttons()
        app.processEvents()
        win.grab().save(str(out / "study_reading.png"))
        for lab, present, conf in (("subarachnoid", False, 3), ("subdural", True, 5)):
            (rows.present_btn if present else rows.absent_btn)[lab].setChecked(True)
            rows.score[lab].set_value(conf)
        win._update_buttons()
        win.save()
        win.next_case()
        _wait(app, lambda: st.overlay.data is not None)
        a = win.aided
        for lab in ("any", "subdural", "intraventricular"):
            a.agree_btn[lab].click()
            a.score[lab].set_value(4)
            if lab in a.rating_btn:
                a.rating_btn[lab][0 if lab != "any" else 1].click()
        app.processEvents()
        win.grab().save(str(out / "study_reading_aided.png"))
        win.close()
        store.close()
    print(out / "study_reading.png", out / "study_reading_aided.png")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
