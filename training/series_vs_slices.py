"""Series scores of the bundled CT models on validation series: the BiLSTM's series output beside the CNN's own
slice maximum, per label (AUC over series, and how many positive series each reaches at the card thresholds).

    python -m training.series_vs_slices [--split val] [--shared ../shared/data] [--inserted 5]

Why: on the bleed demo (0.7.1) the CNN gives the inserted subdural up to 0.91 on single slices while the BiLSTM's
series output is 0.205, and the BiLSTM lifts intraparenchymal to 0.95 from a CNN maximum of 0.64 (stop 19). The
BiLSTM learnt series from CT-ICH (2 training patients with a subdural) and PHE-SICH (every series an
intraparenchymal bleed, ventricular extension unlabelled). Whether a series rule should lean on the CNN for some
labels is a question for validation series, which this prints; the demo is a check, not a choice.
Reads the exported ONNX models as the app does. Validation phantoms are included (the series thresholds are fitted
on them too); --split test is for after a choice only. --inserted K adds, per bleed-free CT-ICH series of the split,
K series with one subdural and K with one epidural through contiguous slices (training.ct_data.insert_series): real
validation has no subdural series, so this is the only series-level subdural figure on real anatomy.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from core.imaging.pseudo_hu import window8_to_hu
from core.models.registry import ModelRegistry
from core.tasks.ct import CTScorer
from training.ct_post import series_label
from training.datasets.rsna import ICH_LABELS
from training.evaluate_real import auc_block
from training.judge_series import BOTH, INSERTS, POOLED, STABILITY  # the report's set names are the ones the keep rule reads
from training.series_outputs import bilstm_inputs, series_scores  # noqa: F401  (bilstm_inputs: re-exported for callers)


def table(y: np.ndarray, bil: np.ndarray, cnn: np.ndarray, series_thr: dict, slice_thr: dict) -> dict:
    out = {}
    for j, lab in enumerate(ICH_LABELS):
        a, b = auc_block(y[:, j], bil[:, j], series_thr.get(lab, 0.5)), auc_block(y[:, j], cnn[:, j], slice_thr.get(lab, 0.5))
        out[lab] = {"positives": int((y[:, j] == 1).sum()), "n": int((y[:, j] >= 0).sum()), "bilstm": a, "cnn_max": b}
    return out


def inserted_series(series, per_series: int, seed: int = 19, both: int = 0, max_fraction: float = 0.6) -> list:
    """Bleed-free CT-ICH series untouched, plus per_series subdural and per_series epidural series inserts of each
    (each insert keyed apart: "<series>+<kind><k>"; its patient stays "<patient>+<kind>"), and `both` series of
    each with an epidural and a subdural on opposite sides (kind "both"). With both=0 and max_fraction 0.6 the
    draws are those of every earlier run, so a seed repeats its series exactly."""
    from dataclasses import replace

    from core.imaging.pseudo_hu import hu_to_window8
    from training.ct_data.insert_series import insert_both_extra_axial_series, insert_extra_axial_series

    rng = np.random.default_rng(seed)
    out = []
    for s in series:
        if s.source != "ct-ich" or s.labels[:, 0].max() != 0 or (s.labels < 0).any():
            continue
        out.append(s)
        hus = window8_to_hu(s.img).hu
        for kind in ("subdural", "epidural"):
            for k in range(per_series):
                res = insert_extra_axial_series(hus, kind, rng, max_fraction=max_fraction)
                if res is None:
                    continue
                labels = np.zeros_like(s.labels)
                labels[res[1], 0] = labels[res[1], ICH_LABELS.index(kind)] = 1
                out.append(replace(s, img=hu_to_window8(res[0]), labels=labels, key=f"{s.key}+{kind}{k}", patient=f"{s.patient}+{kind}"))
        for k in range(both):
            two = insert_both_extra_axial_series(hus, rng, max_fraction=max_fraction)
            if two is None:
                continue
            labels = np.zeros_like(s.labels)
            labels[two[1], ICH_LABELS.index("epidural")] = 1
            labels[two[2], ICH_LABELS.index("subdural")] = 1
            labels[two[1] | two[2], 0] = 1
            out.append(replace(s, img=hu_to_window8(two[0]), labels=labels, key=f"{s.key}+both{k}", patient=f"{s.patient}+both"))
    return out


def only_inserted(series: list) -> list:
    """inserted_series returns the untouched series too: the inserts alone."""
    return [s for s in series if "+" in s.patient]


FRESH_PHANTOM_BASE = 950000  # stop 20: a validation block no model or choice saw before


def pooled_extra_axial(inserted: list, both: list) -> list:
    """The single-kind and both-kind insert sets as one set, each untouched series once.

    Why (stop 21): the both-kind set alone has as many negatives as bleed-free validation series (6): one clean
    series ranked above five bleeds costs ~0.03 of AUC, so an AUC guard on it is noise. Pooled, an epidural's
    negatives are the clean series and every subdural-only insert (and the other way round): ~36 per label."""
    seen = {s.key for s in inserted}
    return list(inserted) + [s for s in both if s.key not in seen]


def stability(series: list, px: int, scorer: CTScorer, cache: Path | None, thresholds: dict[str, float], centre: bool = False) -> dict:
    """Per label, over series, how far the BiLSTM's series probability moves when the head sits px pixels elsewhere
    in the field of view (training.series_jitter.stability_positions): the median and 90th percentile of max - min,
    and the fraction of series whose call at the card threshold flips between positions (what a user sees; a range
    alone is small wherever a model stays far from its threshold, stop 23). With centre, each position is re-centred
    (training.head_centre) after its shift, as a centring front end would see it."""
    from training.head_centre import centred
    from training.series_jitter import decision_flips, series_ranges, stability_positions

    def positions(s):
        return [centred(p) for p in stability_positions(s, px)] if centre else stability_positions(s, px)

    probs = np.stack([series_scores(positions(s), scorer, cache)[1] for s in series])  # [series, 5, 6]
    r = series_ranges(probs)
    flips = decision_flips(probs, np.array([thresholds.get(lab, 0.5) for lab in ICH_LABELS]))
    out: dict = {"n_series": len(series), "shift_px": px, "centred": centre}
    for j, lab in enumerate(ICH_LABELS):
        out[lab] = {"median_range": float(np.median(r[:, j])), "p90_range": float(np.percentile(r[:, j], 90)),
                    "flip_rate": float(flips[:, j].mean())}
    return out


def main(argv: list[str] | None = None) -> int:
    from training.ct_real import load_all

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default="../shared/data")
    ap.add_argument("--cache", default="/tmp/nr_cache")
    ap.add_argument("--split", default="val", choices=["val", "test"])
    ap.add_argument("--inserted", type=int, default=0, metavar="K", help="also K subdural and K epidural series inserts per bleed-free CT-ICH series")
    ap.add_argument("--seed", type=int, default=19, help="insert seed of --inserted")
    ap.add_argument("--models", default=None, help="a folder of CT models instead of the bundled ones (e.g. training.bilstm_refit's DIR/models)")
    ap.add_argument("--both", type=int, default=0, metavar="K",
                    help="also a set of K series per bleed-free CT-ICH series with an epidural and a subdural on opposite "
                         "sides (its own draws: insert seed + 1000, so the --inserted set is the same with or without it); "
                         "with --inserted, also both sets pooled (\"ct-ich extra-axial pooled\")")
    ap.add_argument("--fresh-phantoms", type=int, default=0, metavar="N",
                    help="also N validation phantom series no training or earlier choice used (seeds --fresh-base + i; the "
                         "400000 block is the unseen generated test set)")
    ap.add_argument("--fresh-base", type=int, default=FRESH_PHANTOM_BASE,
                    help="first seed of --fresh-phantoms (950000-950059 judged stop 20's S3: use 950100 or later next)")
    ap.add_argument("--stability", type=int, default=0, metavar="PX",
                    help="also read the split's CT-ICH series and the --inserted set's inserts at 5 positions (untouched, "
                         "shifted PX pixels to +x, -x, +y, -y) and report per label the median over series of the "
                         "series probability's max - min and how often the call at the card threshold flips (\"ct-ich series stability\", rule 7 of training.judge_series)")
    ap.add_argument("--centre", action="store_true",
                    help="a probe, not the app's path: move the head to the middle of the grid (one offset per series, "
                         "training.head_centre) before every reading, the stability positions after their shift")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    series, splits = load_all(Path(args.shared), Path(args.cache))
    scorer = CTScorer(ModelRegistry([Path(args.models)]) if args.models else ModelRegistry())
    series_thr = {k: float(v) for k, v in scorer.model("ich_bilstm").card.thresholds.items()}
    slice_thr = {k: float(v) for k, v in scorer.model("ich_cnn").card.thresholds.items()}
    sets = {source: [s for s in series if s.source == source and splits.get(s.patient) == args.split] for source in ("ct-ich", "phe-sich", "phantom")}
    if args.inserted:
        sets[INSERTS] = inserted_series(sets["ct-ich"], args.inserted, args.seed)
    if args.both:
        sets[BOTH] = inserted_series(sets["ct-ich"], 0, args.seed + 1000, both=args.both)  # with the untouched
        if args.inserted:
            sets[POOLED] = pooled_extra_axial(sets[INSERTS], sets[BOTH])
    if args.fresh_phantoms:
        from training.ct_data.phantom import phantom_series

        sets["fresh phantom"] = phantom_series([args.fresh_base + i for i in range(args.fresh_phantoms)],
                                               Path(args.cache) / "phantom_fresh", workers=2)
    stability_set = sets["ct-ich"] + only_inserted(sets[INSERTS]) if args.stability and args.inserted else []
    if args.centre:
        from training.head_centre import centred

        sets = {name: [centred(s) for s in use] for name, use in sets.items()}
    report = {}
    for source, use in sets.items():
        if not use:
            continue
        y, bil, cnn, ctx = series_scores(use, scorer, Path(args.cache))
        print(f"\n{source} {args.split}: {len(use)} series{' (centred)' if args.centre else ''}")
        report[source] = rows = table(y, bil, cnn, series_thr, slice_thr)
        sy = np.concatenate([s.labels for s in use])
        rows["slices_with_series_context_any"] = auc_block(sy[:, 0], ctx[:, 0])
        print(f"  slices with series context, any: AUC {rows['slices_with_series_context_any']['auc']}")
        for lab, r in {k: v for k, v in rows.items() if k in ICH_LABELS}.items():
            a, b = r["bilstm"], r["cnn_max"]
            print(f"  {lab:<17} {r['positives']:>3}/{r['n']:<3} series  BiLSTM AUC {a['auc']}  Se {a.get('sensitivity')} Sp {a.get('specificity')}"
                  f"  |  CNN max AUC {b['auc']}  Se {b.get('sensitivity')} Sp {b.get('specificity')}")
    if args.stability:
        if not args.inserted:
            ap.error("--stability reads the --inserted set's inserts too: give --inserted K")
        report[STABILITY] = stability(stability_set, args.stability, scorer, Path(args.cache), series_thr, centre=args.centre)
        print(f"\n{STABILITY}: {report[STABILITY]['n_series']} series at 5 positions ({args.stability} px shifts), median max - min per label:")
        print("  " + "  ".join(f"{lab} {report[STABILITY][lab]['median_range']:.4f}" for lab in ICH_LABELS))
        print("  calls flipped between positions: " + "  ".join(f"{lab} {report[STABILITY][lab]['flip_rate']:.3f}" for lab in ICH_LABELS))
    if args.json:
        import json

        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
