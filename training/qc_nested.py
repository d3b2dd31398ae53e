"""Nested leave-one-real-head-out stacking for the skull-strip QC model (skullstrip_qc 2.2).

    python -m training.qc_nested --data DIRS --loho singles.npz --pairs pairs.npz --cache C --out nested.json
                                 [--write-card resources/models]

What 2.1 did: the stack (core.qc.stack) of outer fold H was fitted on the fold CNN's logits of its
own training volumes, i.e. in-sample logits, which are far more confident than the CNN is on a head
it never saw; its feature sets and ridge were chosen looking at the outer table; flags at 0.5. So
the held-out P(brain loss) shifted by head and no single threshold fitted (Se 0.00 on colin27).

Here, for outer fold H (H never seen in any form):
  * the CNN logits of every other head G come from the CNN trained without both H and G
    (training.qc_loho --pairs): out of fold, like the logits H itself gets from the CNN without H;
  * per output, the feature set and ridge are chosen from CANDIDATES by an inner leave-one-head-out
    over the other heads (fit on four, score the fifth), by the mean of the per-head AUC and the
    pooled AUC (a ranking that holds across heads, so a threshold can transfer);
  * the chosen stack is fitted on all the other heads' out-of-fold logits, and the flag threshold
    is the one that maximises Youden's J on their pooled inner predictions;
  * H is scored with the CNN trained without H, and its AUC, sensitivity and specificity at that
    fold's own threshold go into the card.
The shipped stack: the same choice by leave-one-head-out over all heads' out-of-fold logits (the
single-head folds), fitted on all of them; the shipped thresholds maximise Youden's J on the pooled
outer predictions (each head scored by the fold that never saw it). The shipped CNN is unchanged.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from core.qc.measures import Measures
from training.qc_stack import LABELS, apply, design, fit_logistic
from training.thresholds import youden_threshold

# Candidate inputs per output (names of core.qc.stack.features); the choice between them is nested.
_BL_INTRINSIC = ["plane_lost_pct", "plane_frac", "rim_bright", "rim_rel", "rim_dark", "dark_frac"]
CANDIDATES: dict[str, dict[str, list[str]]] = {
    "face": {
        "cnn": ["logit_face"],
        "v2.1": ["logit_face", "logit_not_stripped", "log_face_ml", "face_forward_mm", "log_inferior_ai_ml", "log_below_ml",
                 "log_kept_ml", "background_zero"],
        "frame": ["logit_face", "log_face_ml", "face_forward_mm", "log_inferior_ai_ml"],
    },
    "brain_loss": {
        "cnn": ["logit_brain_loss"],
        "v2.1": ["logit_brain_loss", "log_kept_ml"],
        "cnn+cut": ["logit_brain_loss", "plane_lost_pct", "plane_frac"],
        "cnn+rim": ["logit_brain_loss", "rim_bright", "rim_rel", "rim_dark", "dark_frac"],
        "cnn+cut+rim": ["logit_brain_loss", "plane_lost_pct", "rim_bright"],
        "cnn+intrinsic": ["logit_brain_loss", *_BL_INTRINSIC],
        "cnn+intrinsic+edge": ["logit_brain_loss", *_BL_INTRINSIC, "boundary_bright", "cut_plane"],
        "cnn+intrinsic+shape": ["logit_brain_loss", "logit_not_stripped", *_BL_INTRINSIC, "boundary_bright", "cut_plane",
                                "height_per_width", "length_per_width"],
        "cnn+intrinsic+kept": ["logit_brain_loss", *_BL_INTRINSIC, "log_kept_ml"],
        "intrinsic": [*_BL_INTRINSIC, "boundary_bright", "cut_plane"],
    },
    "not_stripped": {
        "cnn": ["logit_not_stripped"],
        "v2.1": ["logit_not_stripped", "logit_face", "log_kept_ml", "log_below_ml", "background_zero", "height_mm"],
        "cnn+bg": ["logit_not_stripped", "background_zero", "log_kept_ml"],
    },
}
RIDGES = (0.3, 3.0, 30.0)


def auc(t: np.ndarray, p: np.ndarray) -> float:
    t = t.astype(bool)
    if t.all() or not t.any():
        return float("nan")
    from training.qc import auc_score

    return auc_score(t, p)


def criterion(t: np.ndarray, p: np.ndarray, groups: np.ndarray) -> float:
    """Mean of the per-head AUCs (heads with both classes) and the pooled AUC."""
    per = [auc(t[groups == g], p[groups == g]) for g in np.unique(groups)]
    per = [a for a in per if a == a]
    return 0.5 * (float(np.mean(per)) if per else 0.0) + 0.5 * auc(t, p)


def _probs(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))


def loho_predictions(x: np.ndarray, t: np.ndarray, groups: np.ndarray, ridge: float) -> np.ndarray:
    """Each head's predictions from a stack fitted on the other heads (x: design rows, one per volume)."""
    out = np.full(len(t), np.nan)
    for g in np.unique(groups):
        te = groups == g
        tr = ~te
        if t[tr].min() == t[tr].max():
            continue
        out[te] = apply(fit_logistic(x[tr], t[tr], ridge), x[te])
    return out


def choose(probs: np.ndarray, measures: list[Measures], t: np.ndarray, groups: np.ndarray, label: str
           ) -> tuple[str, float, np.ndarray, list[dict]]:
    """The candidate (feature set, ridge) with the best leave-one-head-out criterion on these heads,
    its out-of-fold predictions, and every candidate's score."""
    scores = []
    best = None
    for name, feats in CANDIDATES[label].items():
        x = design(probs, measures, feats)
        for ridge in RIDGES:
            p = loho_predictions(x, t, groups, ridge)
            c = criterion(t, p, groups)
            scores.append({"features": name, "ridge": ridge, "score": round(c, 4)})
            if best is None or c > best[0] + 1e-9:
                best = (c, name, ridge, p)
    return best[1], best[2], best[3], scores


def nested(items_groups: np.ndarray, y: np.ndarray, measures: list[Measures], singles: dict, pairs: dict | None,
           only: tuple[str, ...] = LABELS) -> dict:
    """The nested leave-one-head-out table (module docstring) and each fold's choices.
    singles: fold name -> logits [N, 3] of every volume (CNN without that head);
    pairs: frozenset{H, G} -> logits [N, 3] (CNN without H and G). pairs=None: the other heads get
    the logits of H's own fold CNN, which trained on them (in sample, as in 2.1; H is still never
    seen, but the stack learns from over-confident logits)."""
    heads = sorted(singles)
    table, choices, pooled = {}, {}, {lab: np.full(len(y), np.nan) for lab in LABELS}
    for h in heads:
        te = items_groups == h
        inner = ~te
        # out-of-fold logits of every other head G: the CNN trained without H and G
        lg = singles[h].astype(np.float64).copy()
        for g in heads:
            if g != h and pairs is not None:
                lg[items_groups == g] = pairs[frozenset((h, g))][items_groups == g]
        probs = _probs(lg)
        table[h], choices[h] = {}, {}
        for j, lab in enumerate(LABELS):
            if lab not in only:
                continue
            t = y[:, j]
            m_in = [m for m, k in zip(measures, inner) if k]
            name, ridge, p_in, _ = choose(probs[inner], m_in, t[inner], items_groups[inner], lab)
            thr = youden_threshold(t[inner], p_in)
            feats = CANDIDATES[lab][name]
            model = fit_logistic(design(probs[inner], m_in, feats), t[inner], ridge)
            p_te = apply(model, design(probs[te], [m for m, k in zip(measures, te) if k], feats))
            pooled[lab][te] = p_te
            table[h][lab] = _metrics(t[te], p_te, thr)
            table[h][lab]["cnn_only_auc"] = round(auc(t[te], probs[te, j]), 4)
            choices[h][lab] = {"features": name, "ridge": ridge, "threshold": round(thr, 4)}
    return {"table": table, "choices": choices, "pooled": pooled}


def _metrics(t: np.ndarray, p: np.ndarray, thr: float) -> dict:
    t = t.astype(bool)
    pred = p >= thr
    a = auc(t, p)
    return {"n": int(len(t)), "n_positive": int(t.sum()), "auc": round(a, 4) if a == a else float("nan"),
            "threshold": round(thr, 4), "accuracy": round(float((pred == t).mean()), 4),
            "sensitivity": round(float(pred[t].mean()), 4) if t.any() else float("nan"),
            "specificity": round(float((~pred[~t]).mean()), 4) if (~t).any() else float("nan")}


def shipped(items_groups: np.ndarray, y: np.ndarray, measures: list[Measures], singles: dict, pooled: dict,
            only: tuple[str, ...] = LABELS) -> dict:
    """The shipped stack: candidate chosen by leave-one-head-out over all heads' out-of-fold logits,
    fitted on all of them; thresholds by Youden's J on the pooled outer (nested) predictions."""
    lg = np.zeros((len(y), 3))
    for g, v in singles.items():
        lg[items_groups == g] = v[items_groups == g]
    probs = _probs(lg)
    outputs, thresholds, chosen = {}, {}, {}
    for j, lab in enumerate(LABELS):
        if lab not in only:
            continue
        t = y[:, j]
        name, ridge, _, scores = choose(probs, measures, t, items_groups, lab)
        feats = CANDIDATES[lab][name]
        outputs[lab] = {"features": feats, **fit_logistic(design(probs, measures, feats), t, ridge)}
        thresholds[lab] = round(youden_threshold(t, pooled[lab]), 4)
        chosen[lab] = {"features": name, "ridge": ridge, "candidates": scores}
    stack = {"labels": list(LABELS), "outputs": outputs, "ridge": {lab: c["ridge"] for lab, c in chosen.items()},
             "what": "per output, P = sigmoid(intercept + coef . (features - mean) / std) on the CNN logits and the "
                     "deterministic measures (core.qc.stack); fitted on out-of-fold CNN logits of every real head "
                     "(each from the leave-one-head-out CNN that never saw it), features and ridge chosen by "
                     "leave-one-head-out over them (training.qc_nested)"}
    return {"stack": stack, "thresholds": thresholds, "chosen": chosen}


def at_threshold(y: np.ndarray, groups: np.ndarray, pooled: dict, thresholds: dict) -> dict:
    """Per held-out head, sensitivity/specificity of its nested predictions at the shipped thresholds."""
    out = {}
    for g in sorted(set(groups)):
        te = groups == g
        out[g] = {lab: {k: v for k, v in _metrics(y[te, j], pooled[lab][te], thresholds[lab]).items()
                        if k in ("sensitivity", "specificity", "threshold")} for j, lab in enumerate(LABELS) if lab in thresholds}
    return out


def main(argv: list[str] | None = None) -> int:
    from training.qc import drop_kinds, read_label_file
    from training.qc_stack import measure_items

    ap = argparse.ArgumentParser(prog="python -m training.qc_nested", description=__doc__)
    ap.add_argument("--data", nargs="+", required=True)
    ap.add_argument("--drop", nargs="*", default=[], metavar="FOLDER:KIND")
    ap.add_argument("--loho", required=True, help="training.qc_loho's .npz (one fold per head)")
    ap.add_argument("--pairs", required=True, help="training.qc_loho --pairs .npz (one fold per pair of heads)")
    ap.add_argument("--cache", default=None, help="NEUROREVIEW_CACHE (measures cached under qc_measures_v22)")
    ap.add_argument("--out", required=True, help="JSON: table, choices, shipped stack and thresholds")
    ap.add_argument("--write-card", default=None, metavar="DIR", help="put the shipped stack, thresholds and table in "
                    "DIR/skullstrip_qc.json (the ONNX network is kept; its metadata gets the new version)")
    ap.add_argument("--version", default="2.2.0")
    ap.add_argument("--note", default="", help="appended to the card's leave-one-head-out note (the data, what was kept)")
    ap.add_argument("--only", nargs="*", default=list(LABELS), choices=LABELS,
                    help="outputs to refit; the others keep the card's stack, threshold and table rows")
    args = ap.parse_args(argv)
    items = [it for folder in args.data for it in read_label_file(folder, drop_kinds(args.drop, folder))]
    files = [str(it.path) for it in items]
    groups = np.array([it.subject for it in items])
    y = np.stack([it.y for it in items]).astype(np.float64)
    with np.load(args.loho) as z:
        if [str(f) for f in z["files"]] != files:
            raise SystemExit("the single-head folds were made on other volumes (or another order)")
        singles = {str(f): z["logits"][k] for k, f in enumerate(z["folds"])}
    with np.load(args.pairs) as z:
        if [str(f) for f in z["files"]] != files:
            raise SystemExit("the pair folds were made on other volumes (or another order)")
        pairs = {frozenset(str(f).split("+")): z["logits"][k] for k, f in enumerate(z["folds"])}
    measures = measure_items([it.path for it in items], Path(args.cache) if args.cache else None)
    only = tuple(args.only)
    res = nested(groups, y, measures, singles, pairs, only)
    ship = shipped(groups, y, measures, singles, res["pooled"], only)
    out = {"table": res["table"], "choices": res["choices"], "shipped": ship,
           "at_shipped_thresholds": at_threshold(y, groups, res["pooled"], ship["thresholds"]),
           "pooled_auc": {lab: round(auc(y[:, j], res["pooled"][lab]), 4) for j, lab in enumerate(LABELS) if lab in only},
           "only": list(only), "note": args.note}
    Path(args.out).write_text(json.dumps(out, indent=1))
    for h, row in res["table"].items():
        print(f"{h:15s} " + "  ".join(f"{lab} {v['auc']:.3f} ({v['sensitivity']:.2f}/{v['specificity']:.2f} @{v['threshold']:.2f}) "
                                      f"[{res['choices'][h][lab]['features']} r{res['choices'][h][lab]['ridge']:g}]"
                                      for lab, v in row.items() if lab in only))
    print("shipped:", {lab: (c["features"], c["ridge"]) for lab, c in ship["chosen"].items()}, "thresholds", ship["thresholds"])
    print("held out at the shipped thresholds:", {h: {lab: (v["sensitivity"], v["specificity"]) for lab, v in r.items() if lab in only}
                                                   for h, r in out["at_shipped_thresholds"].items()})
    print("pooled AUC", out["pooled_auc"])
    if args.write_card:
        write_card(Path(args.write_card), out, args.version)
    return 0


def write_card(folder: Path, out: dict, version: str) -> None:
    from core.models.card import ModelCard
    from training.export import write_card as _write

    card = ModelCard.read(folder / "skullstrip_qc.json")
    only = out.get("only", list(LABELS))
    metrics = dict(card.metrics)
    old_table = card.metrics["leave_one_head_out"]
    metrics["leave_one_head_out_previous"] = {"version": card.version, "auc": {h: {lab: v[lab]["auc"] for lab in LABELS}
                                                                               for h, v in old_table.items()}}
    # refitted outputs: the new nested rows; the others keep the card's rows (and stack and threshold)
    metrics["leave_one_head_out"] = {h: {lab: (out["table"][h][lab] if lab in only else old_table[h][lab]) for lab in LABELS}
                                     for h in out["table"]}
    metrics["leave_one_head_out_choices"] = out["choices"]
    metrics["leave_one_head_out_at_shipped_thresholds"] = out["at_shipped_thresholds"]
    metrics["leave_one_head_out_pooled_auc"] = out["pooled_auc"]
    metrics["leave_one_head_out_note"] = NOTE + (" " + out["note"] if out.get("note") else "")
    extra = dict(card.extra)
    stack = dict(card.extra.get("stack") or {"labels": list(LABELS), "outputs": {}, "ridge": {}})
    stack["outputs"] = {lab: (out["shipped"]["stack"]["outputs"][lab] if lab in only else stack["outputs"][lab]) for lab in LABELS}
    stack["ridge"] = {lab: (out["shipped"]["stack"]["ridge"][lab] if lab in only else stack.get("ridge", {}).get(lab)) for lab in LABELS}
    stack["what"] = out["shipped"]["stack"]["what"] + (f"; refitted here: {', '.join(only)} (the others as in {card.version})"
                                                       if set(only) != set(LABELS) else "")
    extra["stack"] = stack
    extra["stack_selection"] = out["shipped"]["chosen"]
    extra["limitations"] = LIMITATIONS
    _write(card.onnx_path, name=card.name, task=card.task, version=version, labels=card.labels, intended_use=card.intended_use,
           input=card.input, outputs=card.outputs, training_data=card.training_data, metrics=metrics,
           thresholds={lab: (out["shipped"]["thresholds"][lab] if lab in only else card.thresholds.get(lab, 0.5)) for lab in LABELS},
           seed=card.seed, extra=extra)


NOTE = ("nested leave-one-real-head-out (training.qc_nested): for held-out head H, the CNN trained without H scores H; "
        "the stack is fitted on the other heads' out-of-fold CNN logits (each from the CNN trained without H and that "
        "head), its features and ridge chosen among fixed candidates by an inner leave-one-head-out over those heads, "
        "and H's threshold (Youden's J) on their pooled inner predictions; H is seen in no form, the measures' "
        "definitions and the candidate lists excepted (written while looking at the 2.1 table and at the strips' "
        "measures, not at this table). Fold CNNs: 20 epochs on the seed-0 strips and one set of defaced heads of the "
        "other heads; all of H's strips scored (both seeds). Each row: AUC, and sensitivity/specificity at the fold's "
        "own threshold; cnn_only_auc the fold CNN alone. leave_one_head_out_at_shipped_thresholds: the same held-out "
        "predictions at the shipped thresholds, which were chosen on them (Youden's J, pooled over all heads).")
LIMITATIONS = ("Trained on strips of 7 real T1 heads (6 head groups; 4 of them population averages): expect lower accuracy "
               "on T2/FLAIR, partial coverage, children or pathology. Face-kept labels rest on pydeface's face mask carried "
               "by affine registration. The brain-intrinsic measures and the candidate feature sets were written after "
               "seeing the 2.1 leave-one-head-out table; the choice among them is nested. Not for clinical use.")


if __name__ == "__main__":
    raise SystemExit(main())
