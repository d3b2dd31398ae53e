"""`python -m training.synth mri`: skull-stripped T1 NIfTI files plus BET-BSE's label_file.csv."""

from __future__ import annotations

import argparse
import csv
import time
from multiprocessing import Pool
from pathlib import Path

from tqdm import tqdm

_TEMPLATE = None


def _template():
    global _TEMPLATE
    if _TEMPLATE is None:
        from training.synth.mri import load_template

        _TEMPLATE = load_template()
    return _TEMPLATE


def _subject_job(job: tuple) -> list[list]:
    subject, strips, out, settings = job
    from training.synth.mri import make_mri_head, strip, write_nifti

    head = make_mri_head(subject, _template())
    rows = []
    for k in range(strips):
        setting = settings[k % len(settings)] if settings else None
        s = strip(head, subject * 100 + k, setting)
        name = f"SYN{subject:05d}_strip{k + 1}.nii.gz"
        write_nifti(s, Path(out) / name)
        rows.append([name, "Yes" if s.face_label else "No", "Yes" if s.brain_loss_label else "No",
                     f"SYN{subject:05d}", s.setting, f"{s.offset_mm:.2f}", f"{s.face_kept_frac:.4f}", f"{s.brain_lost_frac:.4f}"])
    return rows


def run_mri(args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    _template()  # builds/caches the reference brain mask once, before workers fork
    n_subjects = -(-args.n // args.strips)
    # the last subject gets only the strips still needed: exactly --n volumes on disk, each with its label row
    jobs = [(args.seed * 10_000 + i, min(args.strips, args.n - i * args.strips), str(out), tuple(args.settings or ()))
            for i in range(n_subjects)]
    t0 = time.perf_counter()
    written = 0
    with open(out / "label_file.csv", "w", newline="") as lf, open(out / "qc_measurements.csv", "w", newline="") as mf:
        labels, meas = csv.writer(lf), csv.writer(mf)
        labels.writerow(["Filename", "Recognizable-Facial-Feature", "Brain-Feature-Loss"])
        meas.writerow(["Filename", "Subject", "setting", "offset_mm", "face_kept_frac", "brain_lost_frac"])
        results = Pool(args.workers).imap(_subject_job, jobs) if args.workers > 1 else map(_subject_job, jobs)
        for rows in tqdm(results, total=len(jobs), desc="MRI subjects", unit="subject"):
            for r in rows:
                labels.writerow(r[:3])
                meas.writerow([r[0], *r[3:]])
                written += 1
            lf.flush()
            mf.flush()
    dt = time.perf_counter() - t0
    print(f"wrote {written} stripped volumes ({n_subjects} subjects) to {out} in {dt:.0f} s ({n_subjects / dt * 60:.1f} subjects/min)")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("mri", help="skull-stripped T1 MRI with QC labels, BET-BSE format")
    p.add_argument("--n", type=int, default=60, help="number of stripped volumes")
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--strips", type=int, default=3, help="strips per subject (BET-BSE stripped each scan several ways)")
    p.add_argument("--settings", nargs="*", choices=["good", "tight", "loose"], help="cycle these settings instead of drawing")
    p.add_argument("--workers", type=int, default=1)
    p.set_defaults(func=run_mri)
    _register_real(sub)


# ----------------------------------------------------------------------------- real heads, real tools

def run_mri_real(args: argparse.Namespace) -> int:
    """Strips of the real-head library (training.synth.mri_heads) by real tools, label_file.csv with a
    third column (Not-Skull-Stripped) and qc_measurements.csv (head, group, recipe, measured fractions)."""
    import numpy as np

    from training.synth.mri_heads import load_library
    from training.synth.mri_strips import LABEL_COLUMNS, labels_of, make_strips, render, write_nifti

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    written = 0
    with open(out / "label_file.csv", "w", newline="") as lf, open(out / "qc_measurements.csv", "w", newline="") as mf:
        labels, meas = csv.writer(lf), csv.writer(mf)
        labels.writerow(["Filename", *LABEL_COLUMNS])
        meas.writerow(["Filename", "Subject", "group", "kind", "face_kept_frac", "brain_lost_frac", "scalp_kept_frac", "recipe"])
        for hi, head in enumerate(load_library()):  # hi: the head's place in the whole library (same draws with --heads)
            if args.heads and head.name not in args.heads:
                continue
            rng = np.random.default_rng(args.seed * 1000 + hi)
            strips = [s for s in make_strips(head, rng, args.unit, tuple(args.kinds) if args.kinds else None)
                      if not args.kinds or s.kind in args.kinds]
            for k, s in enumerate(tqdm(strips, desc=head.name, unit="strip")):
                r = render(head, s, rng, random_size=args.random_size)
                name = f"{head.name}_strip{k + 1:03d}.nii.gz"
                write_nifti(r, out / name)
                f, b, n = labels_of(r.fractions)
                labels.writerow([name, *("Yes" if v else "No" for v in (f, b, n))])
                meas.writerow([name, head.name, head.group, s.kind, *(f"{r.fractions[k2]:.4f}" for k2 in ("face_kept", "brain_lost", "scalp_kept")), r.recipe])
                lf.flush()  # per strip: a strip takes seconds to minutes, so a kill loses at most the one being written
                mf.flush()
                written += 1
    print(f"wrote {written} strips of real heads to {out} in {time.perf_counter() - t0:.0f} s")
    return 0


def _register_real(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("mri-real", help="strips of real heads by real tools (BET, deepbet, cuts, defacing), BET-BSE format")
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--unit", type=int, default=1, help="scale the number of strips per head")
    p.add_argument("--heads", nargs="*", default=None, help="library head names (default: all)")
    p.add_argument("--kinds", nargs="*", default=None, help="only these strip kinds (good, deepbet, cut, bet, loose_face, unstripped, defaced)")
    p.add_argument("--random-size", action="store_true",
                   help="write each strip at a brain volume drawn from 1000-2100 ml (stop 15's candidates; 2.2.0 was trained without)")
    p.set_defaults(func=run_mri_real)
