"""`neuroreview score-slices FOLDER`: the ICH CNN's six labels for each head CT slice image in a folder.

    neuroreview score-slices FOLDER [--window brain] [--rotate 0|90|180|270] [--labels CSV] [--out results.csv] [--json]

Images are PNG/JPEG exports already windowed (brain window by default), gray or RGB, any size; they are
padded to a square with air, never stretched. Orientation must be given: the model reads anterior up,
`--rotate` turns each image clockwise first (PHE-SICH exports need 90). DICOM files (one CT slice each, e.g.
RSNA's) are scored too, in HU and oriented by their header (`--window` and `--rotate` do not apply to them).
Unreadable images are reported by
name and skipped. With `--labels` (filename, 0/1 any hemorrhage) it prints n, the AUC with its DeLong 95% CI,
sensitivity/specificity at the card's threshold and the AUC of a shortcut baseline (soft-tissue fraction).
"""

from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("score-slices", help="score a folder of head CT slice images (8-bit PNG/JPEG, or DICOM) with the ICH CNN")
    p.add_argument("folder", help="folder of PNG/JPEG slice images or single-slice DICOM files (searched recursively)")
    p.add_argument("--window", default="brain", help="window the PNG/JPEG images were exported in (default: brain 80/40; DICOM files are in HU)")
    p.add_argument("--rotate", type=int, choices=(0, 90, 180, 270), default=0,
                   help="turn each PNG/JPEG clockwise by this many degrees first; the model reads anterior up (PHE-SICH: 90; DICOM files follow their header)")
    p.add_argument("--labels", default=None, metavar="CSV", help="CSV: filename, 0/1 any hemorrhage (header free-form)")
    p.add_argument("--out", default=None, metavar="CSV", help="write one row per image: filename, one column per label, OOD")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def _ci(a) -> str:
    return f"{a.auc:.3f} (95% CI {a.lo:.3f}-{a.hi:.3f}, DeLong)" if a.auc == a.auc else "n/a (needs >= 2 positives and 2 negatives)"


def _prop(p) -> str:
    return f"{p.value:.3f} ({p.k}/{p.n}; 95% CI {p.lo:.3f}-{p.hi:.3f})" if p.n else "n/a"


def run(args: argparse.Namespace) -> int:
    from core.imaging.pseudo_hu import window_of
    from core.tasks.ct import CTScorer
    from core.tasks.slice_images import evaluate, orientation_hint, read_labels_csv, score_slice_folder, write_csv

    try:
        window_of(args.window)
    except ValueError as exc:
        from core.errors import InputError

        raise InputError(str(exc)) from None
    truth = read_labels_csv(args.labels) if args.labels else None  # a bad labels file fails before the scoring
    res = score_slice_folder(args.folder, CTScorer(), window=args.window, rotate=args.rotate)
    for r in res.errors:
        print(f"error: {r.error} [{r.name}]", file=sys.stderr)
    hint = orientation_hint(res.rows, args.rotate, res.turned_threshold)
    if hint:
        print(f"warning: {hint}", file=sys.stderr)
    ignored = [f"--{k} {v}" for k, v, default in (("rotate", args.rotate, 0), ("window", args.window, "brain")) if v != default]
    if res.n_dicom and ignored:
        verb = "does" if len(ignored) == 1 else "do"
        print(f"warning: {' and '.join(ignored)} {verb} not apply to the {res.n_dicom} DICOM file(s): they are in HU and oriented by their header",
              file=sys.stderr)
    if args.out:
        write_csv(res, args.out)
    ev = evaluate(res, truth) if truth is not None else None
    scored = res.scored
    n_out = sum(1 for r in scored if not r.in_distribution)
    if args.json:
        out = {"folder": res.folder, "model": res.model, "window": res.window, "rotate": res.rotate, "labels": list(res.labels),
               "thresholds": res.thresholds, "ood_threshold": res.ood_threshold, "orientation_warning": hint,
               "images": [{"filename": r.name, "kind": r.kind, "probs": r.probs, "ood_score": r.ood_score, "in_distribution": r.in_distribution}
                          for r in scored],
               "errors": [{"filename": r.name, "error": r.error} for r in res.errors],
               "intended_use": "research only, not for clinical use"}
        if ev is not None:
            out["evaluation"] = _evaluation_dict(ev)
        print(json.dumps(out, indent=2))
        return 0 if scored else 2
    dicom = f" ({res.n_dicom} DICOM in HU)" if res.n_dicom else ""
    print(f"{res.folder}: {len(scored)} image(s) scored{dicom}, {len(res.errors)} unreadable; {res.model}, window {res.window}, "
          f"rotate {res.rotate}  (research use only, not for clinical use)")
    if n_out:
        print(f"  {n_out} image(s) outside the model's training data (OOD score > {res.ood_threshold:.3g}): not scored as findings")
    if scored and ev is None:
        thr = res.thresholds.get("any", 0.5)
        flagged = sum(1 for r in scored if r.in_distribution and r.probs["any"] >= thr)
        print(f"  any hemorrhage at P >= {thr:.3f} (card threshold): {flagged} image(s) flagged among {len(scored) - n_out} in distribution")
    if args.out:
        print(f"  wrote {args.out}")
    if ev is not None:
        _print_evaluation(ev)
    return 0 if scored else 2


def _print_evaluation(ev) -> None:
    m = ev.metrics
    print(f"evaluation against the labels (any hemorrhage), n = {ev.n} ({ev.n_pos} positive, {ev.n - ev.n_pos} negative)")
    print(f"  AUC            {_ci(ev.auc)}")
    print(f"  at the card threshold P >= {ev.threshold:.3f}: sensitivity {_prop(m.sensitivity)}, specificity {_prop(m.specificity)}")
    print(f"  shortcut baseline (soft-tissue fraction of the slice, {ev.shortcut_direction}): AUC {_ci(ev.shortcut_auc)}")
    if ev.n_out_of_distribution:
        print(f"  {ev.n_out_of_distribution} labelled image(s) are outside the training data (counted above as scored)")
        if ev.in_distribution_auc is not None:
            print(f"  AUC on in-distribution images only: {_ci(ev.in_distribution_auc)}")
    if ev.unmatched_labels:
        print(f"  {len(ev.unmatched_labels)} labelled name(s) with no scored image, e.g. {ev.unmatched_labels[0]}")
    if ev.unlabelled:
        print(f"  {ev.unlabelled} scored image(s) without a label (left out)")


def _evaluation_dict(ev) -> dict:
    def num(v: float) -> float | None:  # JSON has no NaN (an AUC with < 2 positives or negatives)
        return None if v != v else v

    def auc(a):
        return None if a is None else {"auc": num(a.auc), "lo": num(a.lo), "hi": num(a.hi), "n_pos": a.n_pos, "n_neg": a.n_neg}

    def prop(p):
        return {"value": num(p.value), "k": p.k, "n": p.n, "lo": num(p.lo), "hi": num(p.hi)}

    m = ev.metrics
    return {"n": ev.n, "n_pos": ev.n_pos, "threshold": ev.threshold, "auc": auc(ev.auc),
            "sensitivity": prop(m.sensitivity), "specificity": prop(m.specificity),
            "tp": m.tp, "fp": m.fp, "tn": m.tn, "fn": m.fn,
            "shortcut": {"name": "soft-tissue fraction", "direction": ev.shortcut_direction, **auc(ev.shortcut_auc)},
            "n_out_of_distribution": ev.n_out_of_distribution, "in_distribution_auc": auc(ev.in_distribution_auc),
            "unmatched_labels": len(ev.unmatched_labels), "unlabelled": ev.unlabelled}
