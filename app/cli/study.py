"""`neuroreview study ...`: set up a reader study, score its cases, follow progress, export, read.

    study create NAME [--labels L1,L2] [--score-kind confidence|probability] [--arms unaided,aided] [...]
    study add-cases NAME FOLDER|CSV      study add-readers NAME R1 R2 ...      study import-truth NAME CSV
    study score-cases NAME [--rescore]   study status NAME [--json]            study list
    study audit NAME CASE_ID READER      (every read of a case by a reader, corrections included)
    study cases NAME --unblinded [--csv OUT]  (coordinator only: case IDs -> source series)
    study export NAME --format csv|xlsx|html|imrmc --out DIR                          study read NAME [--reader R]

Every subcommand takes --db FILE|URL (default: studies.sqlite in the user data dir, NEUROREVIEW_HOME
when set); a postgresql+psycopg:// URL shares one study between workstations.
"""

from __future__ import annotations

import argparse
import json
import sys

DB_HELP = ("SQLite file or database URL (postgresql+psycopg://user@host/db); "
           "default: studies.sqlite in the user data dir (NEUROREVIEW_HOME)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("study", help="reader studies: set up, score cases, status, export, read",
                       description="Reader studies: radiologists vs the model (research use only).")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", default=None, help=DB_HELP)
    ss = p.add_subparsers(dest="study_command", metavar="SUBCOMMAND")

    c = ss.add_parser("create", parents=[common], help="create a study")
    c.add_argument("name")
    c.add_argument("--labels", default=None,
                   help="comma-separated labels (default: the 6 ICH labels any,epidural,...,subdural)")
    c.add_argument("--score-kind", choices=("confidence", "probability"), default="confidence",
                   help="confidence 1-5 (default) or probability 0-100 with each answer")
    c.add_argument("--arms", default="unaided,aided", help="'unaided,aided' (default: sequential design) or 'unaided'")
    c.add_argument("--description", default="")
    c.add_argument("--reference-standard", default="", help="how the truth was established (goes into the report)")
    c.add_argument("--min-seconds", type=float, default=0.0,
                   help="minimum reading time per case before the unaided read can be saved (default 0: none)")
    c.set_defaults(func=create)

    a = ss.add_parser("add-cases", parents=[common], help="add cases from a folder (each CT series / NIfTI) or a CSV")
    a.add_argument("name")
    a.add_argument("source", help="folder (series discovery) or CSV with columns path[,case_id][,series_uid]")
    a.set_defaults(func=add_cases)

    r = ss.add_parser("add-readers", parents=[common], help="register readers")
    r.add_argument("name")
    r.add_argument("readers", nargs="+")
    r.set_defaults(func=add_readers)

    t = ss.add_parser("import-truth", parents=[common], help="import ground truth: case_id or path + one 0/1 column per label")
    t.add_argument("name")
    t.add_argument("csv")
    t.set_defaults(func=import_truth)

    s = ss.add_parser("score-cases", parents=[common], help="run the bundled models on every case and store the outputs")
    s.add_argument("name")
    s.add_argument("--rescore", action="store_true", help="score cases that already have outputs again")
    s.set_defaults(func=score)

    st = ss.add_parser("status", parents=[common], help="cases, readers, reads per arm, progress per reader")
    st.add_argument("name")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=status)

    au = ss.add_parser("audit", parents=[common], help="every read of a case by a reader, corrections included")
    au.add_argument("name")
    au.add_argument("case_id")
    au.add_argument("reader")
    au.set_defaults(func=audit)

    cs = ss.add_parser("cases", parents=[common],
                       help="coordinator only: the unblinded mapping of case IDs to their source series")
    cs.add_argument("name")
    cs.add_argument("--unblinded", action="store_true",
                    help="confirm you are the coordinator: the list shows where each pseudonymous case comes from")
    cs.add_argument("--csv", default=None, help="write the mapping to this CSV file instead of printing it")
    cs.set_defaults(func=cases)

    ls = ss.add_parser("list", parents=[common], help="studies in the database")
    ls.set_defaults(func=list_studies)

    e = ss.add_parser("export", parents=[common], help="write the comparison tables (CSV, XLSX) or the HTML report")
    e.add_argument("name")
    e.add_argument("--format", dest="fmt", choices=("csv", "xlsx", "html", "imrmc"), default="csv",
                   help="csv/xlsx tables, the html report, or imrmc: one iMRMC input file per label "
                        "(iMRMC desktop tool, RJafroc DfReadDataFile(format='iMRMC'))")
    e.add_argument("--out", required=True, help="folder to write into")
    e.set_defaults(func=export)

    rd = ss.add_parser("read", parents=[common], help="open the reading window")
    rd.add_argument("name", nargs="?", default=None, help="study (default: pick in the window)")
    rd.add_argument("--reader", default=None, help="your reader name (default: pick in the window)")
    rd.add_argument("--screenshot", default=None, help=argparse.SUPPRESS)
    rd.set_defaults(func=read)

    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])


def _store(args):
    from core.study import StudyStore

    return StudyStore(args.db)


def create(args) -> int:
    from core.tasks.ct import ICH_LABELS

    labels = [x.strip() for x in args.labels.split(",")] if args.labels else list(ICH_LABELS)
    with _store(args) as store:
        rec = store.create_study(args.name, labels, score_kind=args.score_kind, arms=args.arms.split(","),
                                 description=args.description, reference_standard=args.reference_standard,
                                 min_seconds=args.min_seconds)
        print(f"study {rec.name!r} created in {store.location}: labels {', '.join(rec.labels)}; "
              f"{rec.score_kind}; arms {', '.join(rec.arms)}"
              + (f"; at least {rec.min_seconds:g} s per case" if rec.min_seconds else ""))
    return 0


def add_cases(args) -> int:
    from pathlib import Path

    from core.errors import LoadError
    from core.study.sources import discover_cases, read_case_csv

    src = Path(args.source)
    if src.is_dir():
        found = discover_cases(src)
        items, skipped = found.cases, found.skipped
    elif src.is_file() and src.suffix.lower() == ".csv":
        items, skipped = read_case_csv(src), []
    elif src.is_file():
        raise LoadError("add-cases takes a folder or a .csv case list", str(src))
    else:
        raise LoadError("no such file or folder", str(src))
    with _store(args) as store:
        added = store.add_cases(args.name, [(c.path, c.case_id, c.series_uid) for c in items])
        total = len(store.cases(args.name))
    for line in skipped:
        print(f"  skipped {line}")
    print(f"{len(added)} case(s) added ({len(items) - len(added)} already in the study); study {args.name!r} "
          f"has {total} case(s)" + (f": {added[0]}..{added[-1]}" if added else ""))
    return 0


def add_readers(args) -> int:
    with _store(args) as store:
        added = store.add_readers(args.name, args.readers)
        print(f"{len(added)} reader(s) added; readers: {', '.join(store.readers(args.name))}")
    return 0


def import_truth(args) -> int:
    from pathlib import Path

    from core.study.sources import read_truth_csv

    with _store(args) as store:
        info = store.study(args.name)
        case_ids = {c.path: c.case_id for c in store.cases(args.name)}
        rows, labels = read_truth_csv(args.csv, list(info.labels), case_ids)
        n = store.import_truth(args.name, rows, source=Path(args.csv).name)
        missing = [lab for lab in info.labels if lab not in labels]
        cases = len({r[0] for r in rows})
    print(f"{n} truth value(s) for {cases} case(s), labels {', '.join(labels)}"
          + (f" (no column for {', '.join(missing)})" if missing else ""))
    return 0


def score(args) -> int:
    from core.study.scoring import score_cases

    def show(res, i, n):
        msg = f"error: {res.error}" if res.error else f"scored in {res.seconds:.1f} s"
        if res.in_distribution is False:  # stored with the verdict: the calls of this case are not findings
            msg += "; " + (res.ood_reason or "outside the model's training data: not scored")
        print(f"[{i}/{n}] {res.case_id} {msg}", flush=True)

    with _store(args) as store:
        outcomes = score_cases(store, args.name, rescore=args.rescore, progress=show)
    failed = [o for o in outcomes if o.error]
    outside = [o for o in outcomes if o.in_distribution is False]
    print(f"{len(outcomes) - len(failed)} case(s) scored, {len(failed)} failed"
          + (f", {len(outside)} outside the model's training data (stored as not scored)" if outside else "")
          + ("" if outcomes else " (every case already has model outputs; --rescore to redo)"))
    return 2 if failed else 0


def status(args) -> int:
    with _store(args) as store:
        st = store.status(args.name)
    if args.json:
        print(json.dumps(st, indent=2))
        return 0
    print(f"study {st['study']}: {st['cases']} case(s), labels {', '.join(st['labels'])}, {st['score_kind']}, "
          f"arms {', '.join(st['arms'])}")
    print(f"  truth for {st['cases_with_truth']} case(s); model outputs for {st['cases_scored']} case(s)")
    if st["cases_scored"]:
        line = (f"  outside the model's training data: {st['cases_outside_training_data']} case(s)"
                + (f" ({', '.join(st['cases_outside'])}): their model calls are not findings and the export counts "
                   f"them apart" if st["cases_outside"] else ""))
        if st["cases_scored_without_verdict"]:
            line += (f"; {st['cases_scored_without_verdict']} case(s) scored without a stored verdict "
                     f"(score-cases --rescore stores one)")
        print(line)
    print("  reads per arm: " + ", ".join(f"{a} {n}" for a, n in st["reads_per_arm"].items())
          + (f"; {st['corrections']} correction(s)" if st["corrections"] else ""))
    for name, p in st["progress"].items():
        arms = ", ".join(f"{a} {p[a]}" for a in st["arms"])
        print(f"  {name}: {p['done']} of {p['total']} case(s) finished ({arms})")
    if not st["readers"]:
        print("  no readers yet (neuroreview study add-readers)")
    return 0


def audit(args) -> int:
    with _store(args) as store:
        trail = store.audit_trail(args.name, args.case_id, args.reader)
    if not trail:
        print(f"{args.reader} has no read of {args.case_id}")
    for r in trail:
        state = "current" if r.current else f"superseded by read {r.superseded_by}"
        fix = f", corrects read {r.supersedes}" if r.supersedes else ""
        print(f"read {r.read_id} {r.arm} committed {r.committed_at:%Y-%m-%d %H:%M:%S} UTC, {r.seconds:.0f} s{fix} ({state})")
        for lab, a in r.answers.items():
            score = f"confidence {a.confidence}" if a.confidence is not None else f"probability {a.probability:g}"
            extra = ""
            if lab in r.agreements:
                g = r.agreements[lab]
                extra = f"; model {'present' if g['model_present'] else 'absent'}, {'agree' if g['agree'] else 'disagree'}"
            if lab in r.ratings:
                extra += f"; heat map {r.ratings[lab]}"
            print(f"  {lab:<18} {'present' if a.present else 'absent':<8} {score}{extra}")
    return 0


def cases(args) -> int:
    """Case ID -> path (and series UID): what the exports and readers never see. Refused without --unblinded
    so that it is never printed by accident on a reading workstation."""
    from core.study import StudyError

    if not args.unblinded:
        raise StudyError("`study cases` prints the unblinded mapping of case IDs to source series (coordinator "
                         "only, never for readers): add --unblinded to confirm")
    with _store(args) as store:
        rows = store.cases(args.name)
    if args.csv:
        import csv
        from pathlib import Path

        out = Path(args.csv)
        with open(out, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["case_id", "path", "series_uid"])
            w.writerows([c.case_id, c.path, c.series_uid or ""] for c in rows)
        print(f"{len(rows)} case(s) of study {args.name!r} written to {out} (UNBLINDED: keep it from the readers)")
        return 0
    print(f"UNBLINDED case list of study {args.name!r} (coordinator only; keep it from the readers)")
    for c in rows:
        print(f"{c.case_id}\t{c.path}" + (f"\t{c.series_uid}" if c.series_uid else ""))
    return 0


def list_studies(args) -> int:
    with _store(args) as store:
        names = store.studies()
        print(f"{store.location}: " + (", ".join(names) if names else "no studies"))
    return 0


def export(args) -> int:
    from pathlib import Path

    from core.study.export import export_study
    from core.study.frames import load_frames

    with _store(args) as store:
        frames = load_frames(store, args.name)
    paths = export_study(frames, args.fmt, Path(args.out))
    for p in paths:
        print(p)
    return 0


def read(args) -> int:
    from app.study.window import run_reading_app

    return run_reading_app(args.db, args.name, args.reader, screenshot=args.screenshot)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(0)
