"""Evaluate the bundled CT models on the real test patients (never used for any choice), through
ONNX Runtime and core.tasks exactly as the app scores, and store the figures in the cards.

    python -m training.evaluate_real --shared ../shared/data [--write-cards] [--figure docs/ct_reliability.png]

Per real set: slice-level AUC of "any" with its DeLong 95% CI, sensitivity and specificity at the
card's threshold (Wilson CIs), the same on mid-brain slices only, and the shortcut check: the AUC of
a trivial baseline (the slice's soft-tissue fraction) beside the model's. CT-ICH adds per-subtype AUCs
with patient counts and the series (patient) level through the BiLSTM. Calibration: ECE and a
reliability diagram. OOD: the share of real test slices the guard calls outside.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from core.imaging.pseudo_hu import window8_to_hu
from core.models.registry import ModelRegistry
from core.study.stats import auc_delong, wilson
from core.tasks.ct import ICH_LABELS, CTScorer
from training.ct_data.insert import anatomy
from training.ct_data.phantom import SliceSeries
from training.ct_data.real import load_ct_ich, load_phe_sich, load_splits

MID_BRAIN_FRACTION = 0.18  # intracranial share of the slice at the level of the ventricles and basal ganglia


def soft_tissue_fraction(img8: np.ndarray) -> float:
    """The shortcut: share of the slice neither air nor saturated (a proxy of the slice's level)."""
    return float(((img8 > 0) & (img8 < 255)).mean())


def mid_brain(img8: np.ndarray) -> bool:
    an = anatomy(window8_to_hu(img8).hu)
    return an is not None and an.intracranial.mean() >= MID_BRAIN_FRACTION


def auc_block(y: np.ndarray, p: np.ndarray, thr: float | None = None) -> dict:
    known = y >= 0
    y, p = y[known].astype(int), p[known]
    out: dict = {"n": int(len(y)), "positives": int(y.sum())}
    if 0 < y.sum() < len(y):
        a = auc_delong(y, p)
        out.update(auc=round(float(a.auc), 4), auc_ci=[round(float(a.lo), 4), round(float(a.hi), 4)])
    else:
        out.update(auc=None, auc_ci=None)
    if thr is not None:
        tp, fn = int(((p >= thr) & (y == 1)).sum()), int(((p < thr) & (y == 1)).sum())
        tn, fp = int(((p < thr) & (y == 0)).sum()), int(((p >= thr) & (y == 0)).sum())
        se, sp = wilson(tp, tp + fn), wilson(tn, tn + fp)
        out.update(threshold=thr, sensitivity=round(se.value, 4), sensitivity_ci=[round(se.lo, 4), round(se.hi, 4)],
                   specificity=round(sp.value, 4), specificity_ci=[round(sp.lo, 4), round(sp.hi, 4)], tp=tp, fn=fn, tn=tn, fp=fp)
    return out


def ece(y: np.ndarray, p: np.ndarray, bins: int = 10) -> tuple[float, list]:
    known = y >= 0
    y, p = y[known], p[known]
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(p, edges) - 1, 0, bins - 1)
    rows, e = [], 0.0
    for b in range(bins):
        sel = idx == b
        if sel.any():
            e += abs(y[sel].mean() - p[sel].mean()) * sel.mean()
            rows.append((float(p[sel].mean()), float(y[sel].mean()), int(sel.sum())))
    return float(e), rows


def evaluate_set(name: str, series: list[SliceSeries], scorer: CTScorer, thresholds: dict) -> tuple[dict, np.ndarray, np.ndarray]:
    imgs = np.concatenate([s.img for s in series])
    y = np.concatenate([s.labels for s in series])
    pts = np.concatenate([[s.patient] * len(s.img) for s in series])
    probs, ood = [], []
    for i in range(0, len(imgs), 64):
        r = scorer.score_slices(window8_to_hu(imgs[i:i + 64]).hu)
        probs.append(r.probs)
        ood.append(r.ood.slice_scores)
    p = np.concatenate(probs)
    ood_s = np.concatenate(ood)
    mid = np.array([mid_brain(im) for im in imgs])
    base = np.array([soft_tissue_fraction(im) for im in imgs])
    res = {"patients": len(series), "patients_with_blood": int(sum((s.labels[:, 0] > 0).any() for s in series)), "slices": int(len(imgs)),
           "any": auc_block(y[:, 0], p[:, 0], thresholds["any"]),
           "any_mid_brain": auc_block(y[mid, 0], p[mid, 0], thresholds["any"]),
           "shortcut_baseline_soft_tissue_fraction": auc_block(y[:, 0], base),
           "shortcut_baseline_mid_brain": auc_block(y[mid, 0], base[mid]),
           "ood_slices_outside": round(float(np.mean(ood_s > 1.0)), 4),
           "ood_series_median_max": round(float(max(np.median(o) for o in np.split(ood_s, np.cumsum([len(s.img) for s in series])[:-1]))), 3)}
    e, rows = ece(y[:, 0], p[:, 0])
    res["ece_any"] = round(e, 4)
    res["reliability_any"] = rows
    subtypes = {}
    for j, lab in enumerate(ICH_LABELS[1:], start=1):
        known = y[:, j] >= 0
        if not known.any():
            continue
        n_pat = len({pt for pt, yy in zip(pts, y[:, j]) if yy > 0})
        subtypes[lab] = {**auc_block(y[:, j], p[:, j], thresholds.get(lab, 0.5)), "patients_with_label": n_pat}
    res["subtypes"] = subtypes
    return res, y, p


def series_level(series: list[SliceSeries], scorer: CTScorer) -> dict:
    """Patient-level scores through CNN + BiLSTM on the ordered slices (CT-ICH: whole series)."""
    from training.series_outputs import series_scores

    y, p, _, slice_p = series_scores(series, scorer)
    thr = {k: float(v) for k, v in scorer.model("ich_bilstm").card.thresholds.items()}
    out = {lab: auc_block(y[:, j], p[:, j], thr.get(lab, 0.5)) for j, lab in enumerate(ICH_LABELS)}
    # the BiLSTM's per-slice output: each slice scored with its series around it (a series-only reading:
    # slice images without order go through the CNN alone, the figures above)
    sy = np.concatenate([s.labels for s in series])
    out["slices_with_series_context"] = {lab: auc_block(sy[:, j], slice_p[:, j]) for j, lab in enumerate(ICH_LABELS)}
    return out


def evaluate_generated(series: list[SliceSeries], scorer: CTScorer) -> dict:
    """The unseen generated set (phantom seeds the models never saw): per-label slice AUC (CNN) and series AUC (BiLSTM)."""
    imgs = np.concatenate([s.img for s in series])
    y = np.concatenate([s.labels for s in series])
    p = np.concatenate([scorer.score_slices(window8_to_hu(imgs[i:i + 64]).hu).probs for i in range(0, len(imgs), 64)])
    slice_level = {lab: auc_block(y[:, j], p[:, j]) for j, lab in enumerate(ICH_LABELS)}
    return {"series": len(series), "slices": int(len(imgs)), "slice_cnn": slice_level, "series_bilstm": series_level(series, scorer)}


def inserted_set(series: list[SliceSeries], per_kind: int, seed: int = 4, kinds: tuple[str, ...] | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """The generated held-out set grounded in real anatomy: each subtype inserted (training.ct_data.insert) into
    bleed-free slices of the given patients' series without any hemorrhage, beside as many of those slices untouched.
    Returns (uint8 images [n, 256, 256], labels [n, 6], number of usable backgrounds). Shared by this evaluation
    (test patients) and training.compare_val (validation patients), so both read the same construction.
    kinds: the insert kinds (default KINDS; a variant such as subdural_thin carries its LABEL_OF_KIND label)."""
    from core.imaging.pseudo_hu import hu_to_window8
    from training.ct_data.insert import KINDS, LABEL_OF_KIND, insert_lesion

    rng = np.random.default_rng(seed)
    clean = [s.img[z] for s in series if s.labels[:, 0].max() == 0 for z in range(len(s.img))]
    hus = [window8_to_hu(im).hu for im in clean]
    usable = [i for i, hu in enumerate(hus) if anatomy(hu) is not None]
    imgs, ys = [], []
    for i in rng.choice(usable, size=min(len(usable), per_kind), replace=False):
        imgs.append(clean[i])
        ys.append(np.zeros(len(ICH_LABELS), np.float32))
    for kind in kinds or KINDS:
        done = 0
        for i in rng.permutation(usable):
            if done == per_kind:
                break
            res = insert_lesion(hus[i], kind, rng)
            if res is None:
                continue
            imgs.append(hu_to_window8(res[0]))
            y = np.zeros(len(ICH_LABELS), np.float32)
            y[0] = y[ICH_LABELS.index(LABEL_OF_KIND.get(kind, kind))] = 1
            ys.append(y)
            done += 1
    return np.stack(imgs), np.stack(ys), len(usable)


def evaluate_inserted(series: list[SliceSeries], scorer: CTScorer, per_kind: int, seed: int = 4) -> dict:
    """inserted_set into the given (test) patients, scored as the app scores slices.
    Per label, the negatives are every slice without that label (untouched slices and the other subtypes)."""
    x, y, n_usable = inserted_set(series, per_kind, seed)
    p = np.concatenate([scorer.score_slices(window8_to_hu(x[i:i + 64]).hu).probs for i in range(0, len(x), 64)])
    return {"backgrounds": f"{n_usable} intracranial slices of {sum(s.labels[:, 0].max() == 0 for s in series)} bleed-free CT-ICH test patients",
            "slices": int(len(x)), "per_kind": per_kind, "seed": seed,
            "slice_cnn": {lab: auc_block(y[:, j], p[:, j]) for j, lab in enumerate(ICH_LABELS)}}


def print_inserted(g: dict, split: str) -> None:
    print(f"lesions inserted into real {split} anatomy: {g['slices']} slices ({g['backgrounds']})")
    for lab, a in g["slice_cnn"].items():
        print(f"  {lab:<17} slice AUC {a['auc']} {a['auc_ci']} ({a['positives']}/{a['n']})")


def replace_inserted_block(card, block: dict, note: str = "") -> None:
    """Put a new metrics.inserted_in_real_test_anatomy into ich_cnn's card, the block it replaces kept under
    `_previous` (one level deep) with a note, and the new block saying which model measured it. Why: the
    before/after of a model or generator change is what the next reader of the card compares."""
    old = card.metrics.get("inserted_in_real_test_anatomy")
    block = {**block, "measured_with": f"{card.name} {card.version}"}
    if old is not None:
        was = old.get("measured_with", "an earlier ich_cnn")
        block["_previous"] = {**{k: v for k, v in old.items() if k != "_previous"}, "note": note or f"the previous measurement ({was})"}
    card.metrics["inserted_in_real_test_anatomy"] = block


def inserted_only(args, shared: Path, cache: Path) -> int:
    """The inserted set alone (after a change of the insert code): printed, and with --write-cards put into
    ich_cnn's card as metrics.inserted_in_real_test_anatomy, the previous block kept under `_previous`."""
    ctich = load_ct_ich(shared / "ct-ich", cache / "real")
    splits = load_splits(ctich)
    g = evaluate_inserted([s for s in ctich if splits[s.patient] == args.split], CTScorer(ModelRegistry()), args.inserted or 60)
    print_inserted(g, args.split)
    if args.write_cards and args.split == "test":
        from training.ct_data.insert import MIN_VISIBLE_MM2, VISIBLE_HU

        card = ModelRegistry().card("ich_cnn")
        old = card.metrics.get("inserted_in_real_test_anatomy")
        g["visibility_rule"] = f"an insert counts only where it brightens >= {MIN_VISIBLE_MM2:g} mm2 of the brain window by >= {VISIBLE_HU:g} HU"
        note = args.previous_note or ("before the visibility rule: many inserts were flecks no reader could see"
                                      if old is not None and "visibility_rule" not in old else "")
        replace_inserted_block(card, g, note)
        card.path.write_text(card.to_json() + "\n")
        print(f"wrote metrics.inserted_in_real_test_anatomy into {card.path}")
    return 0


def ge_series_check(shared: Path, scorer: CTScorer) -> dict | None:
    """The real GE head CT in HU (no acute blood), scored as the app scores a series: what a bleed-free real
    series gets. Its bleed-free slices were in training (a real negative), so this is a check, not a held-out figure."""
    from core.io import load

    folder = shared / "ct-ge-head-tilt"
    if not folder.is_dir():
        return None
    vol = load(folder)
    ich, bg = scorer.score_ich(vol), scorer.score_bg(vol)
    return {"series": "ct-ge-head-tilt (GE HiSpeed, BSD-2-Clause), in the training split as a real negative",
            "series_probs": {k: round(float(v), 4) for k, v in ich.series_probs.items()},
            "flagged": [k for k, v in ich.flagged().items() if v], "bg_p_hemorrhage": round(float(bg.p_hemorrhage), 4), "bg_side": bg.side,
            "ood": ich.ood.to_dict()}


def reliability_figure(blocks: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5), dpi=110)
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfect calibration")
    for name, b in blocks.items():
        rows = b["reliability_any"]
        ax.plot([r[0] for r in rows], [r[1] for r in rows], "o-", label=f"{name} test (ECE {b['ece_any']:.3f}, {b['any']['n']} labelled slices)")
    ax.set_xlabel("predicted P(any hemorrhage)")
    ax.set_ylabel("observed fraction with hemorrhage")
    ax.set_title("ich_cnn calibration on real test patients")
    ax.legend(loc="upper left", fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


#: what the basal-ganglia card can say about real test data: the real sets hold no laterality label it could be scored on
BG_REAL_TEST_NOTE = ("laterality not measured on real data: PHE-SICH's left/right is undocumented and CT-ICH has no "
                     "basal-ganglia label (the per-set counts are the real test slices its shared trunk read)")


def card_real_test(name: str, blocks: dict) -> dict:
    """The metrics.real_test block each CT card gets: its own figures only. Up to stop 18 the BG and OOD cards
    were given the ICH model's block, and read under their names its "any hemorrhage" AUC looked like theirs."""
    sets = {k: v for k, v in blocks.items() if k not in ("generated_unseen", "inserted_in_real_test")}
    if name == "ich_bilstm":
        return {"CT-ICH series_level": blocks["CT-ICH"]["series_level"]}
    if name == "ich_ood":
        return {k: {kk: v[kk] for kk in ("patients", "slices", "ood_slices_outside", "ood_series_median_max") if kk in v} for k, v in sets.items()}
    if name == "bg_laterality":
        return {"note": BG_REAL_TEST_NOTE, **{k: {kk: v[kk] for kk in ("patients", "slices") if kk in v} for k, v in sets.items()}}
    return {k: {kk: vv for kk, vv in v.items() if kk != "reliability_any"} for k, v in sets.items()}


def write_ge_into_cards(ge: dict) -> None:
    """metrics.real_ge_head_ct of the CT cards (the other metrics kept)."""
    reg = ModelRegistry()
    for name in ("ich_cnn", "ich_bilstm", "bg_laterality", "ich_ood"):
        card = reg.card(name)
        card.metrics["real_ge_head_ct"] = ge
        card.path.write_text(card.to_json() + "\n")
        print(f"wrote metrics.real_ge_head_ct into {card.path}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default="../shared/data")
    ap.add_argument("--cache", default="/tmp/nr_cache")
    ap.add_argument("--split", default="test", choices=["test", "val"])
    ap.add_argument("--write-cards", action="store_true")
    ap.add_argument("--figure", default=None)
    ap.add_argument("--json", default=None)
    ap.add_argument("--inserted", type=int, default=0, help="also N lesions per subtype inserted into bleed-free CT-ICH test slices (and N untouched)")
    ap.add_argument("--generated", type=int, default=0, help="also the unseen generated set: N phantom series of seed block 4 (cached)")
    ap.add_argument("--ge-only", action="store_true", help="only the real GE series check (with --write-cards: into the cards, the rest kept)")
    ap.add_argument("--inserted-only", action="store_true",
                    help="only the --inserted set (with --write-cards: into ich_cnn's card, the figure it replaces kept beside it)")
    ap.add_argument("--previous-note", default="", help="what the replaced inserted-set figure was measured with (kept under _previous)")
    args = ap.parse_args(argv)
    shared, cache = Path(args.shared), Path(args.cache)
    if args.inserted_only:
        return inserted_only(args, shared, cache)
    if args.ge_only:
        ge = ge_series_check(shared, CTScorer(ModelRegistry()))
        print(json.dumps(ge, indent=1))
        if args.write_cards and ge is not None:
            write_ge_into_cards(ge)
        return 0
    ctich = load_ct_ich(shared / "ct-ich", cache / "real")
    phe = load_phe_sich(shared / "phe-sich-ct", cache / "real")
    splits = load_splits(ctich + phe)
    scorer = CTScorer(ModelRegistry())
    thresholds = {k: float(v) for k, v in scorer.model("ich_cnn").card.thresholds.items()}
    blocks = {}
    for name, ser in (("CT-ICH", ctich), ("PHE-SICH", phe)):
        test = [s for s in ser if splits[s.patient] == args.split]
        blocks[name], _, _ = evaluate_set(name, test, scorer, thresholds)
        if name == "CT-ICH":
            blocks[name]["series_level"] = series_level(test, scorer)
    for name, b in blocks.items():
        if "any" not in b:
            continue
        a = b["any"]
        print(f"\n{name} {args.split}: {b['patients']} patients ({b['patients_with_blood']} with blood), {b['slices']} slices")
        print(f"  any: AUC {a['auc']} (95% CI {a['auc_ci']}), Se {a['sensitivity']} {a['sensitivity_ci']}, Sp {a['specificity']} {a['specificity_ci']} at {a['threshold']:.3f}")
        m = b["any_mid_brain"]
        print(f"  any, mid-brain slices only: AUC {m['auc']} {m['auc_ci']} (n {m['n']}, {m['positives']} positive)")
        print(f"  shortcut baseline (soft-tissue fraction): AUC {b['shortcut_baseline_soft_tissue_fraction']['auc']}; mid-brain {b['shortcut_baseline_mid_brain']['auc']}")
        print(f"  ECE(any) {b['ece_any']}; OOD: {b['ood_slices_outside']:.3f} of slices outside, max series median {b['ood_series_median_max']}")
        for lab, sb in b["subtypes"].items():
            print(f"  {lab:<17} AUC {sb['auc']} {sb['auc_ci']}  ({sb['positives']} slices, {sb['patients_with_label']} patients)")
        if "series_level" in b:
            ctx = b["series_level"]["slices_with_series_context"]
            print("  slices with series context (BiLSTM per-slice output): " + ", ".join(f"{lab} {v['auc']}" for lab, v in ctx.items()))
            for lab, sb in b["series_level"].items():
                if lab == "slices_with_series_context":
                    continue
                print(f"  series {lab:<10} AUC {sb['auc']} {sb['auc_ci']} Se {sb.get('sensitivity')} Sp {sb.get('specificity')} ({sb['positives']}/{sb['n']} patients)")
    if args.generated:
        from training.ct_data.phantom import phantom_series

        gen = phantom_series([400000 + i for i in range(args.generated)], cache / "phantom_unseen")
        blocks["generated_unseen"] = evaluate_generated(gen, scorer)
        g = blocks["generated_unseen"]
        print(f"\nunseen generated set: {g['series']} series, {g['slices']} slices")
        for lab in ICH_LABELS:
            a, b = g["slice_cnn"][lab], g["series_bilstm"][lab]
            print(f"  {lab:<17} slice AUC {a['auc']} {a['auc_ci']}  series AUC {b['auc']} {b['auc_ci']} ({b['positives']}/{b['n']} series)")
    if args.inserted:
        blocks["inserted_in_real_test"] = g = evaluate_inserted([s for s in ctich if splits[s.patient] == args.split], scorer, args.inserted)
        print()
        print_inserted(g, args.split)
    ge = ge_series_check(shared, scorer)
    if ge is not None:
        print(f"\nreal GE head CT: flagged {ge['flagged'] or 'nothing'}, any {ge['series_probs']['any']}, BG {ge['bg_p_hemorrhage']} "
              f"({ge['bg_side']}), {ge['ood']['reason']}")
    if args.figure:
        reliability_figure({k: v for k, v in blocks.items() if "reliability_any" in v}, Path(args.figure))
        print(f"wrote {args.figure}")
    if args.json:
        Path(args.json).write_text(json.dumps(blocks, indent=1))
    if args.write_cards and args.split == "test":
        from core.models.card import ModelCard

        reg = ModelRegistry()
        for name in ("ich_cnn", "ich_bilstm", "bg_laterality", "ich_ood"):
            card = reg.card(name)
            card.metrics["real_test"] = card_real_test(name, blocks)
            if "generated_unseen" in blocks and name in ("ich_cnn", "ich_bilstm"):
                g = blocks["generated_unseen"]
                card.metrics["unseen_generated_set"] = {"series": g["series"], "slices": g["slices"],
                                                        **({"slice": g["slice_cnn"]} if name == "ich_cnn" else {"series_level": g["series_bilstm"]})}
            if "inserted_in_real_test" in blocks and name == "ich_cnn":
                replace_inserted_block(card, blocks["inserted_in_real_test"], args.previous_note)
            card.path.write_text(card.to_json() + "\n")
            print(f"wrote metrics.real_test into {card.path}")
        if ge is not None:
            write_ge_into_cards(ge)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
