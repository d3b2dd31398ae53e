"""`neuroreview qc-review RESULTS.csv`: the QC review window over a `neuroreview qc` results CSV."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("qc-review", help="review skull-strip QC results in a window and rate each file with one key")
    p.add_argument("csv", help="results CSV written by `neuroreview qc`")
    p.add_argument("--db", default=None, help="SQLite file or database URL for ratings (default: user data dir)")
    p.add_argument("--reviewer", default=None, help="name saved with each rating (default: login name)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from core.errors import LoadError

    if not Path(args.csv).is_file():
        raise LoadError("results CSV not found", args.csv)
    from PySide6.QtWidgets import QApplication

    from app.qc.store import RatingStore
    from app.qc.window import QCWindow

    app = QApplication.instance() or QApplication([])
    win = QCWindow(args.csv, RatingStore(args.db), reviewer=args.reviewer)
    win.resize(1400, 800)
    win.show()
    return app.exec()
