"""`neuroreview qc-review RESULTS.csv`: the QC review window over a `neuroreview qc` results CSV."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("qc-review", help="review skull-strip QC results in a window and rate each file with one key")
    p.add_argument("csv", help="results CSV written by `neuroreview qc`, or a folder to run QC on first")
    p.add_argument("--out", default=None, help="with a folder: results CSV to write/resume (default FOLDER/qc_results.csv)")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--db", default=None, help="study database (SQLite file or postgresql+psycopg:// URL) that holds "
                   "the ratings with every other human read (default: studies.sqlite in the user data dir)")
    p.add_argument("--reviewer", default=None, help="your name: ratings are kept per reviewer (default: login name)")
    p.add_argument("--agreement", action="store_true",
                   help="print each file's ratings by every reviewer and the agreement between reviewers; no window")
    p.set_defaults(func=run)


def print_agreement(results_csv, db) -> int:
    """Every reviewer's newest verdict per file of the results CSV (found by content) and the agreement."""
    import csv
    from pathlib import Path

    from core.study import StudyStore
    from core.study.qc_ratings import QCRatings, agreement, file_sha256

    with open(results_csv, newline="") as fh:
        paths = [r["path"] for r in csv.DictReader(fh)]
    sha = {p: file_sha256(p) for p in paths if Path(p).is_file()}
    with StudyStore(db) as store:
        latest = QCRatings(store).latest(set(sha.values()))
    for p in paths:
        per = latest.get(sha.get(p, ""), {})
        who = "; ".join(f"{rv}: {r.verdict}" for rv, r in sorted(per.items())) or ("not rated" if p in sha else "file not found")
        print(f"{p}\t{who}")
    print(agreement({h: latest[h] for h in set(sha.values()) if h in latest}).text())
    return 0


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from core.errors import LoadError

    target = Path(args.csv)
    if target.is_dir():  # run (or resume) the batch first, with the usual progress bar and summary
        from core.qc.engine import discover, run_batch

        if not discover(target):
            raise LoadError("no .nii or .nii.gz files found", str(target))
        out = Path(args.out) if args.out else target / "qc_results.csv"
        print(run_batch(target, out, workers=args.workers).text())
        args.csv = str(out)
    elif not target.is_file():
        raise LoadError("results CSV not found", args.csv)
    if args.agreement:
        return print_agreement(args.csv, args.db)
    from PySide6.QtWidgets import QApplication

    from app.qc.window import QCWindow
    from core.study import StudyStore
    from core.study.qc_ratings import QCRatings

    app = QApplication.instance() or QApplication([])
    win = QCWindow(args.csv, QCRatings(StudyStore(args.db)), reviewer=args.reviewer)
    win.resize(1400, 800)
    win.show()
    return app.exec()
