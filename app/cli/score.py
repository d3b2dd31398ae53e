"""`neuroreview score [PATH]`: ICH and basal-ganglia scores of a head CT series."""

from __future__ import annotations

import argparse
import json
import time

from app.cli.options import add_modality_argument


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("score", help="score a head CT series for intracranial hemorrhage and BG laterality")
    p.add_argument("path", nargs="?", default=None, help="DICOM folder/file or NIfTI (default: the bundled demo CT)")
    p.add_argument("--series", default=None, help="SeriesInstanceUID when the folder holds several")
    p.add_argument("--json", action="store_true", help="machine-readable output with per-slice probabilities")
    p.add_argument("--sr", default=None, metavar="OUT.dcm", help="also write the results as a DICOM SR (TID 1500) for the PACS")
    add_modality_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.errors import InputError
    from core.io import load
    from core.paths import demo_ct_dir
    from core.tasks import CTScorer
    from core.tasks.dispatch import analyses_for

    t0 = time.perf_counter()
    path = args.path or str(demo_ct_dir())
    vol = load(path, series_uid=args.series, modality=args.modality)
    t_load = time.perf_counter() - t0
    found = analyses_for(vol)  # the one dispatch decision (core.tasks.dispatch)
    if found.kind == "mr":
        raise InputError("no CT model applies: this is an MRI volume (its skull-strip QC runs with `neuroreview qc`)", path,
                         code="no-model-applies")
    if found.kind is None:
        raise InputError(found.reason, path, code="no-model-applies")
    scorer = CTScorer()
    ich = scorer.score_ich(vol)
    bg = scorer.score_bg(vol)
    total = time.perf_counter() - t0
    if args.sr:
        import sys

        from core.pacs.results import write_sr

        # with --json stdout stays pure JSON, so the note goes to stderr; otherwise it is ordinary output
        print(f"wrote DICOM SR {write_sr(vol, ich, bg, args.sr)[0]}", file=sys.stderr if args.json else sys.stdout)
    ood = ich.ood  # one verdict for the volume, shared by both models
    if args.json:
        print(json.dumps({"path": path, "series_uid": vol.ids.series_uid, "slices": vol.shape[0],
                          "warnings": [w.to_dict() for w in vol.warnings], "ich": ich.to_dict(), "bg": bg.to_dict(),
                          "in_distribution": bool(ood.in_distribution),
                          "ood": {"score": float(ood.score), "threshold": float(ood.threshold), "reason": ood.reason},
                          "load_s": t_load, "total_s": total,
                          "intended_use": "research only, not for clinical use"}, indent=2))
        return 0
    print_text(path, vol, ich, bg)
    print(f"time: load {t_load:.2f} s, total {total:.2f} s")
    return 0


def ood_line(ood) -> str:
    """The scorer's verdict as one line that starts with "outside the model's training data: not scored"."""
    from core.tasks.ct import OUTSIDE

    reason = ood.reason if ood.reason.startswith(OUTSIDE) else f"{OUTSIDE} ({ood.reason})"
    return f"{reason}; OOD score {ood.score:.3g} > threshold {ood.threshold:.3g}"


def print_text(path: str, vol, ich, bg) -> None:
    """The human-readable report. Flags are the scorer's (`ICHResult.flagged()`: card thresholds); outside the
    training distribution it names no finding at all."""
    print(f"{path}: {vol.shape[0]} slices, spacing {vol.spacing[0]:.2g} mm  (research use only, not for clinical use)")
    for w in vol.warnings:
        print(f"  warning {w}")
    m, ood = ich.models[0], ich.ood
    if ich.slabs is not None:
        print(f"  {ich.slabs.describe()}: the models learned 4-7 mm reconstructions")
    if not ood.in_distribution:
        print(ood_line(ood))
        print(f"  models {m.name} {m.version} + {ich.models[1].name} {ich.models[1].version}, {bg.model.name} {bg.model.version}: no finding is "
              "reported for this series (--json has the raw probabilities)")
        return
    print(f"intracranial hemorrhage ({m.name} {m.version} + {ich.models[1].name} {ich.models[1].version}, {m.device}: {m.provider}); "
          f"in the training distribution (OOD score {ood.score:.3g} <= {ood.threshold:.3g})")
    if ich.grid is not None and ich.grid.shift != (0, 0):
        dx, dy = ich.grid.shift
        print(f"  read head-centred, as the series model was fitted: the slices moved {dx:+d}, {dy:+d} pixels on the 256 model grid")
    flagged = ich.flagged()
    print(f"  {'label':<18} {'series':>6}  {'flag':<8}  most likely slice   single-slice CNN, no series context (not a flag)")
    for lab in ich.labels:
        top, cnn_top = ich.most_likely_slice(lab), ich.most_likely_slice(lab, single_slice=True)
        print(f"  {lab:<18} {ich.series_probs[lab]:6.3f}  {'POSITIVE' if flagged[lab] else '':<8}  {top + 1:>17}   "
              f"max {float(ich.cnn_slice_probs[cnn_top, ich.labels.index(lab)]):.3f} on slice {cnn_top + 1}")
    print(f"basal-ganglia hemorrhage ({bg.model.name} {bg.model.version}, {bg.model.device}): "
          f"P(hemorrhage) {bg.p_hemorrhage:.3f}, " + (
              "side not reported: the loader could not verify left/right (see the geometry-unverified warning)" if bg.side == "unverified"
              else f"side {bg.side} (left {bg.series_probs['left']:.3f}, right {bg.series_probs['right']:.3f})")
          + (f"; {bg.note}" if getattr(bg, "note", "") else ""))
