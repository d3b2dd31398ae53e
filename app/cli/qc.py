"""`neuroreview qc FOLDER --out results.csv`: batch skull-strip QC of every NIfTI under FOLDER."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("qc", help="batch skull-strip QC (face kept / brain cut) of a folder of NIfTI files")
    p.add_argument("folder", help="folder searched recursively for .nii/.nii.gz (or one file)")
    p.add_argument("--out", required=True, help="results CSV; rows are appended as files finish, a rerun skips done files")
    p.add_argument("--workers", type=int, default=1, help="worker processes (each 1 inference thread)")
    p.add_argument("--report", default=None, help="also write a self-contained HTML report here")
    p.add_argument("--scheduler", default=None, help="dask.distributed scheduler address, e.g. tcp://host:8786")
    p.add_argument("--no-thumbs", action="store_true", help="skip thumbnails (report shows none)")
    p.set_defaults(func=run)


def row_line(r: dict) -> str:
    """One file's verdict, the three scores and the measures that explain them."""
    if r["status"] != "ok":
        return f"{r['path']}: unreadable: {r['error']}"
    scores = "  ".join(f"{k} {r[c] or '-'}" for k, c in (("P(face)", "p_face"), ("P(brain loss)", "p_brain_loss"),
                                                         ("P(not stripped)", "p_not_stripped")))
    return f"{r['path']}: {r['verdict'].upper()}  {scores}\n    {r['explanation']}"


def run(args: argparse.Namespace) -> int:
    from core.errors import LoadError
    from core.qc.engine import discover, run_batch

    if not discover(args.folder):
        raise LoadError("no .nii or .nii.gz files found", args.folder)
    print("skull-strip QC (research use only, not for clinical use)")
    rows: list[dict] = []
    summary = run_batch(args.folder, args.out, workers=args.workers, scheduler=args.scheduler, thumbs=not args.no_thumbs,
                        on_row=rows.append)
    for r in sorted(rows, key=lambda r: r["path"]):
        if len(rows) <= 30 or r["verdict"] != "pass":  # every file of a small batch, else what needs a look
            print(row_line(r))
    print(summary.text())
    print(f"results: {args.out}")
    if args.report:
        from core.qc.report import write_report

        write_report(args.out, args.report)
        print(f"report: {args.report}")
    return 1 if summary.errors else 0
