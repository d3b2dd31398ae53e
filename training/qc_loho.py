"""Leave-one-real-head-out CNN predictions for the stacked skull-strip QC model (training.qc_stack).

    python -m training.qc_loho --data DIR [DIR ...] --train-data DIR --cache DIR --out preds.npz

One fold per head group: the QC network is trained on the `--train-data` strips of every other
group (none of the held-out head's strips, in any form), then predicts every volume of `--data`.
The .npz keeps, per fold, the logits of all volumes, so the stacker can be fitted on the fold's
own training volumes and scored on the held-out head without retraining the network.

`--pairs`: one fold per *pair* of head groups {H, G} (both left out). The CNN without {H, G} scores
G out of fold for the outer fold that holds out H (and H for the one that holds out G), so the
stack of outer fold H can be fitted, its features, ridge and threshold chosen, on out-of-fold CNN
logits of the other heads only (training.qc_nested): H is never seen, and the stack never learns
from in-sample (over-confident) logits. `--resume` keeps the folds already in `--out`.
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import numpy as np
import torch

from training.qc import drop_kinds, load_inputs, read_label_file, train


def logits_of(net: torch.nn.Module, x: np.ndarray, batch: int = 8) -> np.ndarray:
    net.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            out.append(net(torch.from_numpy(x[i:i + batch].astype(np.float32))[:, None]).numpy())
    return np.concatenate(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.qc_loho", description=__doc__)
    ap.add_argument("--data", nargs="+", required=True, help="folders whose volumes every fold predicts")
    ap.add_argument("--train-data", nargs="+", required=True, help="folders whose volumes (of the other heads) a fold trains on")
    ap.add_argument("--cache", default=None)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", required=True)
    ap.add_argument("--drop", nargs="*", default=[], metavar="FOLDER:KIND",
                    help="leave out the strips of this kind (qc_measurements.csv) from the folder of that name")
    ap.add_argument("--pairs", action="store_true", help="leave out every pair of head groups (nested stacking)")
    ap.add_argument("--resume", action="store_true", help="keep the folds already saved in --out")
    ap.add_argument("--save-nets", default=None, help="also save each fold's torch weights in this folder")
    ap.add_argument("--from-nets", default=None, help="no training: every fold's weights from this folder (--save-nets), "
                    "predicting the --data volumes (e.g. strips made after the folds were trained)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    items = [it for folder in args.data for it in read_label_file(folder, drop_kinds(args.drop, folder))]
    x = load_inputs(items, Path(args.cache) if args.cache else None)
    y = np.stack([i.y for i in items])
    groups = np.array([it.subject for it in items])
    folders = np.array([str(it.path.parent.resolve()) for it in items])
    trainable = np.isin(folders, [str(Path(f).resolve()) for f in args.train_data])
    heads = sorted(set(groups))
    folds = ["+".join(p) for p in itertools.combinations(heads, 2)] if args.pairs else heads
    logits = np.zeros((len(folds), len(items), y.shape[1]), np.float32)
    done = 0
    if args.resume and Path(args.out).exists():
        with np.load(args.out) as z:
            if [str(f) for f in z["files"]] != [str(it.path) for it in items]:
                raise SystemExit(f"{args.out} was made on other volumes: cannot resume")
            done = len(z["folds"])
            logits[:done] = z["logits"]
        print(f"resuming after {done} folds", flush=True)
    for k, fold in enumerate(folds):
        if k < done:
            continue
        tr = trainable & ~np.isin(groups, fold.split("+"))
        t0 = time.perf_counter()
        if args.from_nets:
            from training.qc import QCNet

            net = QCNet()
            net.load_state_dict(torch.load(Path(args.from_nets) / f"fold_{fold}.pt"))
        else:
            net = train(x[tr], y[tr], args.epochs, args.seed)
        logits[k] = logits_of(net, x)
        if args.save_nets and not args.from_nets:
            Path(args.save_nets).mkdir(parents=True, exist_ok=True)
            torch.save(net.state_dict(), Path(args.save_nets) / f"fold_{fold}.pt")
        print(f"fold {fold}: trained on {int(tr.sum())} volumes in {time.perf_counter() - t0:.0f} s", flush=True)
        np.savez(args.out, logits=logits[:k + 1], groups=groups, folds=np.array(folds[:k + 1]), trainable=trainable, y=y,
                 files=np.array([str(it.path) for it in items]), epochs=args.epochs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
