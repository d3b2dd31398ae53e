"""A reader in the real reading window, clicking slowly, printing each committed step (the SIGKILL test).

    python -m tests.app.study.gui_worker DB_URL READER
"""

from __future__ import annotations

import json
import sys

from PySide6.QtWidgets import QApplication

from app.study.window import ReadingWindow
from core.study import StudyStore
from tests.app.study.gui_helpers import answer_aided, answer_unaided, click


def main(db: str, reader: str) -> None:
    app = QApplication.instance() or QApplication([])
    store = StudyStore(db)
    win = ReadingWindow(store, "demo", reader, compute_maps=False)
    win.show()
    app.processEvents()
    while win.case is not None:
        labels = win.session.labels
        if win.unaided is not None:
            answer_unaided(win, {lab: (True, 3) for lab in labels})
        else:
            answer_aided(win, {lab: (True, 3, 0) for lab in labels})
        step = (win.case.case_id, win.case.arm)
        click(win.save_btn)
        print("saved " + json.dumps(step), flush=True)
        app.processEvents()
        import time

        time.sleep(0.3)
        click(win.next_btn)
        app.processEvents()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
