"""Leave-one-real-head-out CNN predictions for the stacked skull-strip QC model (training.qc_stack).

    python -m training.qc_loho --data DIR [DIR ...] --train-data DIR --cache DIR --out preds.npz

One fold per head group: the QC network is trained on the `--train-data` strips of every other
group (none of the held-out head's strips, in any form), then predicts every volume of `--data`.
The .npz keeps, per fold, the logits of all volumes, so the stacker can be fitted on the fold's
own training volumes and scored on the held-out head without retraining the network.
"""

from __future__ import annotations

import argparse
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
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    items = [it for folder in args.data for it in read_label_file(folder, drop_kinds(args.drop, folder))]
    x = load_inputs(items, Path(args.cache) if args.cache else None)
    y = np.stack([i.y for i in items])
    groups = np.array([it.subject for it in items])
    folders = np.array([str(it.path.parent.resolve()) for it in items])
    trainable = np.isin(folders, [str(Path(f).resolve()) for f in args.train_data])
    names = sorted(set(groups))
    logits = np.zeros((len(names), len(items), y.shape[1]), np.float32)
    for k, g in enumerate(names):
        tr = trainable & (groups != g)
        t0 = time.perf_counter()
        net = train(x[tr], y[tr], args.epochs, args.seed)
        logits[k] = logits_of(net, x)
        print(f"fold {g}: trained on {int(tr.sum())} volumes in {time.perf_counter() - t0:.0f} s", flush=True)
        np.savez(args.out, logits=logits[:k + 1], groups=groups, folds=np.array(names[:k + 1]), trainable=trainable, y=y,
                 files=np.array([str(it.path) for it in items]), epochs=args.epochs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
