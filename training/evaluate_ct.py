"""Evaluate the bundled CT models, as the app runs them (ONNX Runtime via core.tasks), on an
RSNA-format folder: per-label AUC / sensitivity / specificity at slice and series level, the
weighted log loss, and basal-ganglia AUC and laterality accuracy.

    python -m training.evaluate_ct --data DIR [--json out.json]

Use a folder generated with a seed the models never saw (e.g. `python -m training.synth ct --seed 2`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from core.io import load, scan
from core.tasks import CTScorer
from training.datasets.rsna import ICH_LABELS, read_labels
from training.metrics import auc, label_table, sens_spec, weighted_log_loss


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    root = Path(args.data)
    labels = read_labels(root / "stage_2_train.csv")
    bg = pd.read_csv(root / "bg_labels.csv").set_index("SeriesInstanceUID")
    result = scan(root / "stage_2_train")
    scorer = CTScorer()
    y_sl, p_sl, y_se, p_se, bg_true, bg_p, bg_side = [], [], [], [], [], [], []
    for s in tqdm(result.series, desc="series", unit="series"):
        vol = load(root / "stage_2_train", series_uid=s.series_uid, scanned=result)
        ids = [Path(f).stem for f in vol.ids.files]
        if not all(i in labels.index for i in ids):
            continue
        y = labels.loc[ids].to_numpy()
        ich = scorer.score_ich(vol)
        b = scorer.score_bg(vol)
        y_sl.append(y)
        p_sl.append(ich.slice_probs)
        y_se.append(y.max(axis=0))
        p_se.append([ich.series_probs[lab] for lab in ICH_LABELS])
        bg_true.append(str(bg.loc[s.series_uid, "bg_side"]))
        bg_p.append(b.p_hemorrhage)
        bg_side.append(b.side)
    ys, ps = np.concatenate(y_sl), np.concatenate(p_sl)
    ye, pe = np.array(y_se), np.array(p_se)
    truth = np.array(bg_true)
    has = truth != "none"
    report = {
        "series": len(ye), "slices": len(ys),
        "slice": label_table(ys, ps, ICH_LABELS), "series_level": label_table(ye, pe, ICH_LABELS),
        "weighted_log_loss_slice": weighted_log_loss(ys, ps),
        "bg": {"auc_hemorrhage_vs_none": auc(has, np.array(bg_p)), "n_hemorrhage": int(has.sum()),
               "laterality_accuracy": float(np.mean(np.array(bg_side)[has] == truth[has])) if has.any() else None,
               **sens_spec(has, np.array(bg_p))},
    }
    print(f"{report['series']} series, {report['slices']} slices")
    print(f"{'label':<18}{'slice AUC':>10}{'series AUC':>11}{'series Se':>10}{'series Sp':>10}{'n pos series':>13}")
    for lab in ICH_LABELS:
        a, b = report["slice"][lab], report["series_level"][lab]
        f = lambda v: "  n/a" if v is None else f"{v:.3f}"
        print(f"{lab:<18}{f(a['auc']):>10}{f(b['auc']):>11}{f(b.get('sensitivity')):>10}{f(b.get('specificity')):>10}{b['n_positive']:>13}")
    print(f"weighted log loss (slice) {report['weighted_log_loss_slice']:.4f}")
    g = report["bg"]
    print(f"BG: AUC {g['auc_hemorrhage_vs_none']}, laterality accuracy {g['laterality_accuracy']} over {g['n_hemorrhage']} hematomas, "
          f"sensitivity {g.get('sensitivity')}, specificity {g.get('specificity')}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
