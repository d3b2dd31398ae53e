"""Retrain the series BiLSTM on the exported CNN, with extra-axial blood inserted through real training series.

    python -m training.bilstm_refit --out DIR [--inserted-train 3] [--val-inserted 5] [--version 0.7.2]

Why (stop 19): on extra-axial blood inserted through contiguous slices of real validation series
(training.series_vs_slices --inserted 5), 0.7.1's BiLSTM reaches its subdural threshold on 21 % of subdural series
(the threshold, 0.752, was fitted on validation phantoms: no real validation series has a subdural) and calls an
intraparenchymal bleed on 11 % of series that hold only extra-axial blood; its training series held two real
subdural patients, and PHE-SICH's series, where every bleed is intraparenchymal. So:
- training series: the training split's series as ct_post uses them, plus per bleed-free CT-ICH training series
  K subdural and K epidural series inserts (training.ct_data.insert_series);
- calibration: Platt per label on validation slices, as ct_post (real validation patients where they hold enough
  positives, the card's ich_cnn calibration says which);
- series thresholds: Youden over validation series, now with extra-axial series inserts into the real validation
  series beside the phantoms (floor 0.5, as ct_post).
With --jitter N (stop 23) each training series is also read by the CNN after N perturbations (training.series_jitter:
a shift in the field of view, grey-level noise, a JPEG export) and each epoch trains on one reading per series.
With --centre (stop 23's probe) every series is read head-centred (training.head_centre), as a centring input path would.
Inputs are the exported ich_cnn.onnx's embedding and calibrated probabilities (what the app feeds the BiLSTM), so
the CNN, BG and OOD models are untouched. Writes ich_bilstm.onnx and its card into --out.
"""

from __future__ import annotations

import argparse
import shutil
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from core.models.centring import SERIES_CENTRING
from core.models.registry import ModelRegistry
from core.tasks.ct import CTScorer
from training.ct_post import series_label, youden_series_thresholds
from training.datasets.rsna import ICH_LABELS
from training.series_jitter import JITTER_KINDS, jittered_copies
from training.series_outputs import bilstm_inputs
from training.series_vs_slices import inserted_series, only_inserted


def cnn_outputs(scorer: CTScorer, series: list, cache: Path | None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """key -> (embedding [z, F], calibrated probs [z, 6]) from the exported CNN (training.series_outputs.bilstm_inputs)."""
    keys = [s.key for s in series]
    if len(set(keys)) != len(keys):
        raise ValueError("series keys must be unique: outputs are looked up by key")
    return {s.key: bilstm_inputs(scorer, s, cache) for s in series}


@dataclass(frozen=True)
class ReadingSets:
    """The series the CNN reads for a refit, by role: only the training roles get jittered copies."""

    train: list
    val: list
    inserted_train: list
    inserted_val: list

    JITTERED = ("train", "inserted_train")


def reading_sets(sets: ReadingSets, jitter: int, centre: bool) -> tuple[ReadingSets, dict[str, list]]:
    """The series the CNN reads: `sets` as given, or head-centred (training.head_centre) with --centre; and per series
    of the training roles (ReadingSets.JITTERED) its `jitter` perturbed copies, centred after their perturbation as the
    app's centring input path sees them. Copies are keyed by the (centred) series' key."""
    from training.head_centre import centred

    if centre:
        sets = ReadingSets(*([centred(s) for s in getattr(sets, f.name)] for f in fields(sets)))
    copies = {}
    if jitter:
        for role in ReadingSets.JITTERED:
            for s in getattr(sets, role):
                copies[s.key] = [centred(c) if centre else c for c in jittered_copies(s, jitter)]
    return sets, copies


def main(argv: list[str] | None = None) -> int:
    import torch

    from training.ct_post import fit_and_fold_platt, new_series_model, series_pca, sigmoid, train_lstm
    from training.ct_real import load_all
    from training.export import export_series, write_card
    from training.nets.lstm import SeriesEnsemble, SeriesExport

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="folder for ich_bilstm.onnx and its card")
    ap.add_argument("--shared", default="../shared/data")
    ap.add_argument("--cache", default="/tmp/nr_cache")
    ap.add_argument("--inserted-train", type=int, default=3, metavar="K", help="subdural and epidural series inserts per bleed-free CT-ICH training series")
    ap.add_argument("--both-train", type=int, default=0, metavar="K",
                    help="also K series per bleed-free CT-ICH training series with an epidural and a subdural on opposite sides")
    ap.add_argument("--max-fraction", type=float, default=0.6,
                    help="training inserts: the longest block as a fraction of the run of slices with room for it")
    ap.add_argument("--train-seed", type=int, default=31)
    ap.add_argument("--val-inserted", type=int, default=5, metavar="K", help="series inserts per bleed-free CT-ICH validation series for the thresholds (0: phantoms and real only, as ct_post)")
    ap.add_argument("--val-seed", type=int, default=19)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seeds", type=int, nargs="*", default=[], help="train one BiLSTM per seed and average them (training.nets.lstm.SeriesEnsemble); overrides --seed")
    ap.add_argument("--jitter", type=int, default=0, metavar="N",
                    help="per training series, N more CNN readings of perturbed copies (training.series_jitter: shift, "
                         "noise, JPEG export, in that order); each epoch trains on one reading per series, drawn at random")
    ap.add_argument("--centre", action="store_true",
                    help="every series and jittered copy read head-centred (training.head_centre; stop 23's probe). The card "
                         "says input_centring: series, and the app's CTScorer then centres every series it scores")
    ap.add_argument("--max-threshold", type=float, default=1.0,
                    help="ceiling of the series thresholds (Youden on few real series can land at 0.998; stop 24); 1.0: none")
    ap.add_argument("--version", default="")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    series, splits = load_all(Path(args.shared), Path(args.cache))
    tr = [s for s in series if splits[s.patient] == "train"]
    va = [s for s in series if splits[s.patient] == "val"]
    ins_tr = (only_inserted(inserted_series(tr, args.inserted_train, args.train_seed, both=args.both_train, max_fraction=args.max_fraction))
              if args.inserted_train or args.both_train else [])
    ins_va = only_inserted(inserted_series(va, args.val_inserted, args.val_seed)) if args.val_inserted else []
    sets, copies = reading_sets(ReadingSets(tr, va, ins_tr, ins_va), args.jitter, args.centre)
    tr, va, ins_tr, ins_va = sets.train, sets.val, sets.inserted_train, sets.inserted_val
    print(f"{len(tr)} training series + {len(ins_tr)} inserted; {len(va)} validation series + {len(ins_va)} inserted"
          + (" (head-centred)" if args.centre else ""))
    reg = ModelRegistry()
    scorer = CTScorer(reg)
    res = cnn_outputs(scorer, tr + va + ins_tr + ins_va, Path(args.cache))
    if copies:
        print(f"{sum(map(len, copies.values()))} jittered copies of the training series ({', '.join(JITTER_KINDS[:args.jitter])})")
        res.update(cnn_outputs(scorer, [c for cs in copies.values() for c in cs], Path(args.cache)))

    emb_tr = np.concatenate([res[s.key][0] for s in tr])
    pca = series_pca(emb_tr)
    n_comp = len(pca[1])
    seq = lambda s: (res[s.key][0], res[s.key][1], s.labels)  # noqa: E731
    readings = lambda s: [seq(c) for c in [s, *copies[s.key]]] if copies else seq(s)  # noqa: E731
    members = []
    for seed in args.seeds or [args.seed]:
        torch.manual_seed(seed)
        m = new_series_model(pca)
        train_lstm(m, [readings(s) for s in tr + ins_tr], args.epochs, seed)
        members.append(m.eval())
    lstm = (members[0] if len(members) == 1 else SeriesEnsemble(members)).eval()

    # Platt per label on validation slices, as ct_post: real validation patients where ich_cnn's calibration was
    cnn_cal = reg.card("ich_cnn").extra["calibration"]
    with torch.no_grad():
        run = lambda s: [t[0].numpy() for t in lstm(torch.from_numpy(res[s.key][0])[None], torch.from_numpy(res[s.key][1])[None])]  # noqa: E731
        sl_val = np.concatenate([run(s)[0] for s in va])
    yv = np.concatenate([s.labels for s in va])
    is_real = np.concatenate([[s.source in ("ct-ich", "phe-sich")] * len(s.img) for s in va])
    platt = fit_and_fold_platt(members, sl_val, yv, is_real, {lab for lab in ICH_LABELS if str(cnn_cal[lab]["fitted_on"]).startswith("real")})
    with torch.no_grad():
        ser = np.stack([sigmoid(run(s)[1]) for s in va + ins_va])
    y_ser = np.stack([series_label(s.labels) for s in va + ins_va])
    thresholds = youden_series_thresholds(y_ser, ser, args.max_threshold)
    print("series thresholds", {k: round(v, 3) for k, v in thresholds.items()})

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    onnx_path = out / "ich_bilstm.onnx"
    export_series(SeriesExport(lstm), onnx_path, emb_tr.shape[1])
    old = reg.card("ich_bilstm")
    extra = {**old.extra, "calibration": {"method": "logistic (Platt) per label on validation slices",
                                          "scale_bias": {lab: [round(f.params[0], 4), round(f.params[1], 4)] for lab, f in zip(ICH_LABELS, platt)},
                                          "status": {lab: f.status for lab, f in zip(ICH_LABELS, platt)}},
             "series_ensemble": f"{len(members)} BiLSTMs (seeds {args.seeds or [args.seed]}), slice logits averaged" if len(members) > 1 else "none",
             "series_training": (f"training.bilstm_refit: the training series plus {sum('+both' not in s.patient for s in ins_tr)} series with one "
                                 "subdural or epidural inserted"
                                 + (f" and {sum('+both' in s.patient for s in ins_tr)} with an epidural and a subdural on opposite sides"
                                    if args.both_train else "")
                                 + (f" (blocks up to {args.max_fraction:.0%} of the usable slices)" if args.max_fraction != 0.6 else "")
                                 + f" through contiguous slices of bleed-free CT-ICH training series (insert seed {args.train_seed}); series "
                                 f"thresholds by Youden over validation series with {len(ins_va)} such inserts (seed {args.val_seed}) beside "
                                 "the phantoms and real patients; inputs from the exported ich_cnn"
                                 + (f"; each training series also read by the CNN after {args.jitter} perturbations "
                                    f"({', '.join(JITTER_KINDS[:args.jitter])}: training.series_jitter), one reading per series and epoch"
                                    if args.jitter else "")
                                 + ("; every series read head-centred (training.head_centre, one offset per series)" if args.centre else "")
                                 + (f"; series thresholds capped at {args.max_threshold}" if args.max_threshold < 1.0 else "")),
             **({"input_centring": SERIES_CENTRING} if args.centre else {})}  # core.tasks.ct.CTScorer centres the series it reads
    write_card(onnx_path, name=old.name, task=old.task, version=args.version or old.version, labels=old.labels, input=old.input,
               outputs=old.outputs, training_data=old.training_data, intended_use=old.intended_use, thresholds=thresholds,
               metrics={}, seed=(args.seeds or [args.seed])[0], extra=extra)
    torch.save({"state_dict": members[0].state_dict(), "members": [m.state_dict() for m in members], "seeds": args.seeds or [args.seed],
                "emb_dim": int(emb_tr.shape[1]), "n_comp": n_comp}, out / "ich_bilstm.pt")
    models = out / "models"  # the bundled models with this BiLSTM, for training.series_vs_slices --models
    models.mkdir(exist_ok=True)
    for f in Path(reg.card("ich_cnn").path).parent.glob("*"):
        if not f.name.startswith("ich_bilstm"):
            shutil.copy2(f, models / f.name)
    for f in ("ich_bilstm.onnx", "ich_bilstm.json"):
        shutil.copy2(out / f, models / f)
    print(f"wrote {onnx_path} and {models}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
