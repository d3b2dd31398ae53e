"""Evaluate the bundled CT models, as the app runs them (ONNX Runtime via core.tasks).

    python -m training.evaluate_ct --data DIR [--json out.json] [--write-cards]
    python -m training.evaluate_ct --cq500 DIR [--json out.json]

`--data`: an RSNA-format folder (stage_2_train/ + stage_2_train.csv, and bg_labels.csv for
laterality). Per-label AUC / sensitivity / specificity at slice and series level and the weighted
log loss, CNN alone vs CNN + BiLSTM (seed 002's Table 3 layout); basal-ganglia AUC of hemorrhage vs
none and laterality accuracy with Wilson 95% intervals, and every BG miss named with what it was
(hematoma size, calcification, other bleeds). Use a folder generated with a seed the models never
saw (e.g. `python -m training.synth ct --seed 4`). `--write-cards` stores the figures in the cards
as `metrics.unseen_generated_set` (the .onnx files, and so their sha256, are untouched).

`--cq500`: a CQ500 folder (reads.csv + one folder per subject); series-level ICH metrics against
the readers' majority (CQ500 has no slice labels and no basal-ganglia truth).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint
from tqdm import tqdm

from core.errors import NeuroReviewError
from core.io import load, scan
from core.models import ModelRegistry
from core.models.card import ModelCard
from core.tasks import CTScorer
from training.datasets.rsna import ICH_LABELS, read_labels
from training.metrics import auc, label_table, sens_spec, weighted_log_loss


def wilson(k: int, n: int) -> list[float] | None:
    return [float(v) for v in proportion_confint(k, n, method="wilson")] if n else None


def table3(y_slice, p_cnn, p_lstm, y_series, s_cnn, s_lstm) -> dict:
    """Seed 002's Table 3: per label, slice and series level, CNN alone vs CNN + BiLSTM."""
    return {
        "slice": {"cnn": label_table(y_slice, p_cnn, ICH_LABELS), "cnn_bilstm": label_table(y_slice, p_lstm, ICH_LABELS)},
        "series": {"cnn": label_table(y_series, s_cnn, ICH_LABELS), "cnn_bilstm": label_table(y_series, s_lstm, ICH_LABELS)},
        "weighted_log_loss_slice": {"cnn": weighted_log_loss(y_slice, p_cnn), "cnn_bilstm": weighted_log_loss(y_slice, p_lstm)},
    }


def print_table3(m: dict, levels: tuple[str, ...] = ("slice", "series")) -> None:
    f = lambda v: "  n/a" if v is None else f"{v:.3f}"  # noqa: E731
    print(f"\n{'label':<18}{'level':<8}{'AUC cnn':>9}{'AUC +LSTM':>11}{'Se cnn':>8}{'Se +LSTM':>10}{'Sp cnn':>8}{'Sp +LSTM':>10}{'n pos':>7}")
    for level in levels:
        for lab in ICH_LABELS:
            a, b = m[level]["cnn"][lab], m[level]["cnn_bilstm"][lab]
            print(f"{lab:<18}{level:<8}{f(a['auc']):>9}{f(b['auc']):>11}{f(a.get('sensitivity')):>8}{f(b.get('sensitivity')):>10}"
                  f"{f(a.get('specificity')):>8}{f(b.get('specificity')):>10}{b['n_positive']:>7}")
    if "weighted_log_loss_slice" in m:
        w = m["weighted_log_loss_slice"]
        print(f"weighted log loss (slice): CNN {w['cnn']:.4f}, CNN+BiLSTM {w['cnn_bilstm']:.4f}")


def bg_report(truth: list[str], p_hem: list[float], sides: list[str], info: list[dict]) -> dict:
    t, p, sd = np.array(truth), np.array(p_hem), np.array(sides)
    has = t != "none"
    n_h = int(has.sum())
    correct = int((sd[has] == t[has]).sum())
    wrong_side = int(((sd != "none") & (sd != t) & has).sum())
    calc = np.array([i["calcified"] for i in info], dtype=bool)
    ss = sens_spec(has, p)
    return {"n": len(t), "n_hemorrhage": n_h, "n_none": int((~has).sum()), "n_none_calcified": int((~has & calc).sum()),
            "auc_hemorrhage_vs_none": auc(has, p), "laterality_accuracy": correct / n_h if n_h else None,
            "laterality_correct": correct, "laterality_accuracy_ci95": wilson(correct, n_h), "wrong_side": wrong_side,
            "specificity_calcified": float(np.mean(p[~has & calc] < ss["threshold"])) if (~has & calc).any() else None,
            "n_false_positive_calcified": int((p[~has & calc] >= ss["threshold"]).sum()), **ss}


def evaluate_rsna(root: Path) -> dict:
    labels = read_labels(root / "stage_2_train.csv")
    bg = pd.read_csv(root / "bg_labels.csv").set_index("SeriesInstanceUID") if (root / "bg_labels.csv").exists() else None
    result = scan(root / "stage_2_train")
    scorer = CTScorer()
    y_sl, p_sl, c_sl, y_se, s_se, bg_true, bg_p, bg_side, bg_info = [], [], [], [], [], [], [], [], []
    for s in tqdm(result.series, desc="series", unit="series"):
        vol = load(root / "stage_2_train", series_uid=s.series_uid, scanned=result)
        ids = [Path(f).stem for f in vol.ids.files]
        if not all(i in labels.index for i in ids) or len(ids) != vol.shape[0]:
            print(f"skipped series {s.series_uid}: slices without labels or resampled on load")
            continue
        ich = scorer.score_ich(vol)
        y_sl.append(labels.loc[ids].to_numpy())
        p_sl.append(ich.slice_probs)
        c_sl.append(ich.cnn_slice_probs)
        y_se.append(y_sl[-1].max(axis=0))
        s_se.append([ich.series_probs[lab] for lab in ICH_LABELS])
        if bg is None:
            continue
        b = scorer.score_bg(vol)
        row = bg.loc[s.series_uid]
        truth = str(row["bg_side"])
        info = {"series": s.series_uid, "seed": int(row["seed"]) if "seed" in row else None,
                "calcified": bool(row["calcification"]) if "calcification" in row else False,
                "other_hemorrhage": [lab for j, lab in enumerate(ICH_LABELS[1:], 1) if y_se[-1][j]]}
        mpath = root / "masks" / f"{s.series_uid}.npz"
        if truth != "none" and mpath.exists():
            with np.load(mpath) as m:
                vox = m["bg_hematoma"].reshape(len(ids), -1).sum(axis=1)
            dz, dy, dx = (float(v) for v in vol.spacing)
            info["hematoma_slices"] = int((vox >= 20).sum())
            info["hematoma_ml"] = round(float(vox.sum()) * dx * dy * dz / 1000, 2)
            info["peak_slice"] = int(vox.argmax())
        info["peak_prob_slice"] = int((1 - b.slice_probs[:, 0]).argmax())
        bg_true.append(truth)
        bg_p.append(b.p_hemorrhage)
        bg_side.append(b.side)
        bg_info.append(info)
    ys, ps, cs = np.concatenate(y_sl), np.concatenate(p_sl), np.concatenate(c_sl)
    ye = np.array(y_se)
    pe_lstm = np.array(s_se)
    pe_cnn = np.stack([c.max(axis=0) for c in c_sl])
    report = {"source": str(root), "series": len(ye), "slices": len(ys), "table3": table3(ys, cs, ps, ye, pe_cnn, pe_lstm)}
    if bg_true:
        report["bg"] = bg_report(bg_true, bg_p, bg_side, bg_info)
        report["bg"]["misses"] = [dict(i, truth=t, called=sd, p_hemorrhage=round(p, 4))
                                  for t, p, sd, i in zip(bg_true, bg_p, bg_side, bg_info) if t != sd]
    return report


def evaluate_cq500(root: Path) -> dict:
    from training.datasets.cq500 import load_cq500, series_for

    subjects = load_cq500(root, ICH_LABELS)
    scorer = CTScorer()
    y, p_lstm, p_cnn, used, skipped = [], [], [], [], []
    for subj in tqdm(subjects, desc="subjects", unit="subject"):
        try:
            result, s = series_for(subj)
            vol = load(subj.folder, series_uid=s.series_uid, scanned=result)
            ich = scorer.score_ich(vol)
        except NeuroReviewError as exc:
            skipped.append({"subject": subj.name, "reason": str(exc)})
            print(f"skipped {subj.name}: {exc}")
            continue
        y.append(subj.labels)
        p_lstm.append([ich.series_probs[lab] for lab in ICH_LABELS])
        p_cnn.append(ich.cnn_slice_probs.max(axis=0))
        used.append({"subject": subj.name, "series": s.description, "slices": int(vol.shape[0])})
    if not y:
        raise SystemExit(f"no CQ500 subject under {root} could be scored")
    ye, pl, pc = np.array(y), np.array(p_lstm), np.array(p_cnn)
    return {"source": str(root), "subjects": len(ye), "truth": "majority of readers R1-R3 (>= 2 of 3)",
            "table3": {"series": {"cnn": label_table(ye, pc, ICH_LABELS), "cnn_bilstm": label_table(ye, pl, ICH_LABELS)}},
            "scored": used, "skipped": skipped}


def write_cards(report: dict, registry: ModelRegistry | None = None) -> None:
    """Store the figures as metrics.unseen_generated_set in the bundled cards (the .onnx is not touched)."""
    reg = registry or ModelRegistry()
    t3 = report["table3"]
    n = {"n_series": report["series"], "n_slices": report["slices"], "source": report["source"]}
    blocks = {
        "ich_cnn": {**n, "slice": t3["slice"]["cnn"], "series_max": t3["series"]["cnn"], "weighted_log_loss_slice": t3["weighted_log_loss_slice"]["cnn"]},
        "ich_bilstm": {**n, "slice": t3["slice"]["cnn_bilstm"], "series": t3["series"]["cnn_bilstm"],
                       "weighted_log_loss_slice": t3["weighted_log_loss_slice"]["cnn_bilstm"], "table3": t3},
    }
    if "bg" in report:
        blocks["bg_laterality"] = {**report["bg"], "source": report["source"]}
    for name, block in blocks.items():
        path = reg.card(name).path
        card = ModelCard.read(path)
        card.metrics["unseen_generated_set"] = block
        path.write_text(card.to_json() + "\n")
        print(f"wrote metrics.unseen_generated_set into {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", help="RSNA-format folder generated with an unseen seed")
    src.add_argument("--cq500", help="CQ500 folder: reads.csv and the subject folders")
    parser.add_argument("--json", default=None)
    parser.add_argument("--write-cards", action="store_true", help="store the figures in the cards (generated data only)")
    parser.add_argument("--cards-dir", default=None, help="folder of the cards to write (default: the bundled models)")
    args = parser.parse_args(argv)
    if args.cq500:
        report = evaluate_cq500(Path(args.cq500))
        print(f"{report['subjects']} CQ500 subjects scored, {len(report['skipped'])} skipped")
        print_table3(report["table3"], levels=("series",))
    else:
        report = evaluate_rsna(Path(args.data))
        print(f"{report['series']} series, {report['slices']} slices")
        print_table3(report["table3"])
        g = report.get("bg")
        if g:
            print(f"\nBG: {g['n']} series, {g['n_hemorrhage']} hematomas, {g['n_none']} without ({g['n_none_calcified']} calcified)")
            f = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
            ci = g["laterality_accuracy_ci95"] or [None, None]
            print(f"AUC hemorrhage vs none {f(g['auc_hemorrhage_vs_none'])}; laterality {g['laterality_correct']}/{g['n_hemorrhage']} = "
                  f"{f(g['laterality_accuracy'])} (95% CI {f(ci[0])}-{f(ci[1])}), wrong side {g['wrong_side']}")
            print(f"sensitivity {g.get('sensitivity')}, specificity {g.get('specificity')} {g.get('specificity_ci95')}, "
                  f"false positives among calcified {g['n_false_positive_calcified']}")
            for m in g["misses"]:
                print(f"  miss: {m}")
        if args.write_cards:
            write_cards(report, ModelRegistry([Path(args.cards_dir)]) if args.cards_dir else None)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
