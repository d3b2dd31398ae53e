"""`neuroreview worklist [--json] [--gui]`: received series, flagged first, then by P(any ICH)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("worklist", help="list received series sorted by hemorrhage score (flagged first)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--db", default=None, help="worklist database (default <NEUROREVIEW_HOME>/worklist.sqlite)")
    p.add_argument("--gui", action="store_true", help="open the live worklist window")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json
    import time

    from core.pacs.findings import ood_text
    from core.pacs.worklist import Worklist

    wl = Worklist(args.db)
    if args.gui:
        from app.worklist.window import run_window

        return run_window(wl)
    rows = wl.rows()
    if args.json:
        print(json.dumps({"worklist": str(wl.path), "series": [r.to_dict() for r in rows],
                          "intended_use": "research only, not for clinical use"}, indent=2))
        return 0
    if not rows:
        print(f"worklist empty ({wl.path})")
        return 0
    print(f"{'received':<19} {'patient':<14} {'status':<10} {'P(any)':>7} {'flagged':<32} {'OOD':<10} series")
    for r in rows:
        f = r.findings_obj()
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.last_received))
        p = f"{r.p_any:.3f}" if r.p_any is not None else "-"
        ood = ood_text(f.ood) if f else "n/a"
        note = f"  ({r.error})" if r.error else ""
        print(f"{when:<19} {r.patient_id[:14]:<14} {r.status:<10} {p:>7} {','.join(r.flagged_labels()) or '-':<32} "
              f"{ood:<10} {r.description or r.series_uid}{note}")
    print("(research use only, not for clinical use)")
    return 0
