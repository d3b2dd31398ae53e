"""Compare CT trunk ensembles on validation patients only: the figures a pre-declared rule decides on.

    python -m training.compare_val --against A.pt B.pt C.pt --members A2.pt B.pt C.pt [--json out.json]

Each side is a list of ct_trunk.pt checkpoints read as the export reads them (mirror TTA, logits averaged),
uncalibrated: AUCs do not depend on the calibration, and the extra-axial confusion compares the two raw logits.
Sets (no test patient is read):
- CT-ICH validation patients, per image: "any" and each subtype;
- PHE-SICH validation patients, per image: "any" and intraparenchymal (the only subtype it labels);
- lesions inserted into bleed-free CT-ICH validation slices (training.evaluate_real.inserted_set, the construction
  the test figure uses): per-label AUC, and the share of inserted subdurals read as epidural (epidural logit above
  the subdural logit) and the reverse, and the AUC of the intraparenchymal logit between parenchymal and ventricular
  inserts;
- the validation phantoms (training.ct_real.VAL_PHANTOM_SEEDS): per-label slice AUC;
- with --thin: thin subdurals (training.ct_data.insert's subdural_thin, 2-5 mm at 40-70 HU, like CT-ICH's real
  training subdurals) inserted into the same bleed-free validation slices, beside as many untouched: "any" and
  subdural AUC and the share read as epidural.
Why a command: stops 15-17 each copied an ad-hoc script for this, with a third copy of the inserted-set builder.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from training.datasets.rsna import ICH_LABELS

EDH, SDH = ICH_LABELS.index("epidural"), ICH_LABELS.index("subdural")
IPH, IVH = ICH_LABELS.index("intraparenchymal"), ICH_LABELS.index("intraventricular")


def auc(y: np.ndarray, s: np.ndarray) -> float | None:
    """The AUC over known labels (-1 left out), None when one class is missing: evaluate_real's block, AUC only."""
    from training.evaluate_real import auc_block

    return auc_block(y, s)["auc"]


def validation_sets(shared: Path, cache: Path, per_kind: int, seed: int, thin: bool = False) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """name -> (uint8 images [n, 256, 256], labels [n, 6]) of validation patients and phantoms."""
    from training.ct_real import load_all
    from training.evaluate_real import inserted_set

    series, splits = load_all(shared, cache)
    val = [s for s in series if splits[s.patient] == "val"]
    out = {}
    for name, source in (("CT-ICH val", "ct-ich"), ("PHE-SICH val", "phe-sich"), ("phantom val", "phantom")):
        use = [s for s in val if s.source == source]
        if use:
            out[name] = (np.concatenate([s.img for s in use]), np.concatenate([s.labels for s in use]))
    ctich = [s for s in val if s.source == "ct-ich"]
    if ctich:
        x, y, _ = inserted_set(ctich, per_kind, seed)
        out["inserted val"] = (x, y)
        if thin:
            x, y, _ = inserted_set(ctich, per_kind, seed + 1000, kinds=("subdural_thin",))
            out["thin subdural val"] = (x, y)
    return out


def report(logits: dict[str, np.ndarray], sets: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict:
    """Per set and label the AUC; for the inserted set also the extra-axial confusion shares."""
    out: dict = {}
    for name, (_, y) in sets.items():
        lo = logits[name]
        labels = {"PHE-SICH val": ("any", "intraparenchymal"), "thin subdural val": ("any", "subdural")}.get(name, ICH_LABELS)
        out[name] = {lab: auc(y[:, ICH_LABELS.index(lab)], lo[:, ICH_LABELS.index(lab)]) for lab in labels}
        if name == "thin subdural val":
            sdh = y[:, SDH] > 0
            out[name]["subdural read as epidural"] = round(float(np.mean(lo[sdh, EDH] > lo[sdh, SDH])), 4) if sdh.any() else None
        if name == "inserted val":
            sdh, edh = y[:, SDH] > 0, y[:, EDH] > 0
            e, d = out[name]["epidural"], out[name]["subdural"]
            out[name]["mean(epidural, subdural)"] = None if e is None or d is None else round((e + d) / 2, 4)
            out[name]["subdural read as epidural"] = round(float(np.mean(lo[sdh, EDH] > lo[sdh, SDH])), 4) if sdh.any() else None
            out[name]["epidural read as subdural"] = round(float(np.mean(lo[edh, SDH] > lo[edh, EDH])), 4) if edh.any() else None
            # the intraparenchymal logit against inserted ventricular blood (both demos' false call)
            iph, ivh = y[:, IPH] > 0, (y[:, IVH] > 0) & (y[:, IPH] == 0)
            pair = iph | ivh
            out[name]["intraparenchymal: parenchymal vs ventricular inserts"] = auc(iph[pair].astype(np.float32), lo[pair, IPH])
    return out


def ensemble_logits(paths: list[Path], sets: dict) -> dict[str, np.ndarray]:
    from training.ct_post import forward_all, load_trunks, reader

    net = reader(load_trunks(paths), "flip")
    return {name: forward_all(net, x)[0][:, :len(ICH_LABELS)] for name, (x, _) in sets.items()}


def print_table(columns: dict[str, dict]) -> None:
    names = list(columns)
    print(f"{'set / label':<42}" + "".join(f"{n:>14}" for n in names))
    first = columns[names[0]]
    for set_name, rows in first.items():
        for lab in rows:
            vals = [columns[n][set_name].get(lab) for n in names]
            print(f"{set_name + ' / ' + lab:<42}" + "".join(f"{'-' if v is None else f'{v:.4f}':>14}" for v in vals))


def main(argv: list[str] | None = None) -> int:
    import torch

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--against", nargs="+", required=True, metavar="CT_TRUNK_PT", help="the current ensemble")
    ap.add_argument("--members", nargs="+", required=True, metavar="CT_TRUNK_PT", help="the candidate ensemble")
    ap.add_argument("--shared", default="../shared/data")
    ap.add_argument("--cache", default="/tmp/nr_cache")
    ap.add_argument("--per-kind", type=int, default=60, help="inserts per subtype into validation slices")
    ap.add_argument("--seed", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--thin", action="store_true", help="add the thin-subdural validation set (inserts seeded --seed + 1000)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    sets = validation_sets(Path(args.shared), Path(args.cache), args.per_kind, args.seed, args.thin)
    if not sets:
        raise SystemExit(f"no validation series under {args.shared}: compare_val needs the real CT sets")
    columns = {"current": report(ensemble_logits([Path(p) for p in args.against], sets), sets),
               "candidate": report(ensemble_logits([Path(p) for p in args.members], sets), sets)}
    print(", ".join(f"{k}: {len(v[0])} slices" for k, v in sets.items()))
    print_table(columns)
    if args.json:
        Path(args.json).write_text(json.dumps(columns, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
