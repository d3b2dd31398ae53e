"""Train the basal-ganglia hemorrhage laterality model of seed 003 and export it with its card.

    python -m training.bg --data DIR --out resources/models [--epochs 3] [--width 32]

A 2-D ResNet on the brain / acute-blood / stroke windows outputs none / left / right per slice
(patient sides; the image is in radiological orientation, so patient left is image right). Slice
labels come from the hematoma masks; a horizontal flip swaps left and right labels. The series
result aggregates slices: P(hemorrhage) = max over slices of 1 - P(none), side = the larger of the
max P(left) and max P(right). Calcification mimics are in both training and held-out series.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from core.models.preprocess import BG_WINDOWS, MODEL_SIZE, bg_input
from training.datasets.rsna import BG_CLASSES, load_rsna, split_by_series
from training.export import export_cnn, write_card
from training.metrics import auc, sens_spec
from training.nets.resnet import CamExport, ResNet2D


def series_result(p: np.ndarray) -> tuple[float, str, np.ndarray]:
    """Slice probs [z, 3] -> (P(hemorrhage), side, [none, left, right] series probabilities)."""
    p_hem = float((1 - p[:, 0]).max())
    left, right = float(p[:, 1].max()), float(p[:, 2].max())
    side = "none" if p_hem < 0.5 else ("left" if left >= right else "right")
    return p_hem, side, np.array([1 - p_hem, left, right])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", default="resources/models")
    parser.add_argument("--cache", default=None)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--arch", default="resnet18", choices=["resnet18", "resnet34"])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--version", default="0.1.0")
    parser.add_argument("--checkpoints", default="checkpoints", help="folder for the torch weights (benchmarks compare them with ONNX)")
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()

    series = [s for s in load_rsna(args.data, args.cache, args.limit) if s.bg_slice is not None]
    train, test = split_by_series(series)
    print(f"{len(series)} series with BG labels: {len(train)} train, {len(test)} held out")
    hu = np.concatenate([s.hu for s in train])
    y = np.concatenate([s.bg_slice for s in train]).astype(np.int64)
    other_ich = np.concatenate([s.labels[:, 0] for s in train]) > 0  # hard negatives: other hemorrhages (lobar, thalamic...)
    net = ResNet2D(3, arch=args.arch, width=args.width)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    pos, neg = np.nonzero(y > 0)[0], np.nonzero((y == 0) & ~other_ich)[0]
    hard = np.nonzero((y == 0) & other_ich)[0]
    for epoch in range(args.epochs):
        if epoch == args.epochs - 1 and args.epochs > 1:
            for g in opt.param_groups:
                g["lr"] = 1e-4
        order = rng.permutation(np.concatenate([pos, pos, rng.choice(hard, size=min(len(hard), len(pos)), replace=False),
                                                rng.choice(neg, size=min(len(neg), len(pos) + 32), replace=False)]))
        net.train()
        bar = tqdm(range(0, len(order), 32), desc=f"BG epoch {epoch + 1}/{args.epochs}", unit="batch")
        for i in bar:
            idx = order[i:i + 32]
            x = torch.from_numpy(bg_input(hu[idx].astype(np.float32)))
            t = torch.from_numpy(y[idx].copy())
            flip = torch.from_numpy(rng.random(len(idx)) < 0.5)
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
            t = torch.where(flip & (t > 0), 3 - t, t)  # mirrored image: left <-> right
            dy, dx = (int(v) for v in rng.integers(-10, 11, 2))
            x = torch.roll(x, (dy, dx), (2, 3))
            logits, _, _ = net(x)
            loss = nn.functional.cross_entropy(logits, t)
            opt.zero_grad()
            loss.backward()
            opt.step()
            bar.set_postfix(loss=f"{loss.item():.3f}")

    net.eval()
    truth, p_hem, sides = [], [], []
    with torch.no_grad():
        for s in test:
            logits, _, _ = net(torch.from_numpy(bg_input(s.hu.astype(np.float32))))
            ph, side, _ = series_result(torch.softmax(logits, 1).numpy())
            truth.append(s.bg_side)
            p_hem.append(ph)
            sides.append(side)
    truth_arr = np.array(truth)
    has = truth_arr != "none"
    hem_auc = auc(has, np.array(p_hem))
    lat_acc = float(np.mean([sd == tr for sd, tr in zip(np.array(sides)[has], truth_arr[has])])) if has.any() else None
    acc3 = float(np.mean(np.array(sides) == truth_arr))
    ss = sens_spec(has, np.array(p_hem))
    calc = [s for s in test if s.bg_side == "none"]
    print(f"held-out series: {len(test)} ({int(has.sum())} with BG hemorrhage)")
    print(f"AUC hemorrhage vs none {hem_auc}, laterality accuracy {lat_acc}, 3-class accuracy {acc3:.3f}")
    print(f"sensitivity {ss.get('sensitivity')}, specificity {ss.get('specificity')}")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    Path(args.checkpoints).mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": net.state_dict(), "arch": args.arch, "width": args.width}, Path(args.checkpoints) / "bg_laterality.pt")
    export_cnn(CamExport(net, "softmax"), out / "bg_laterality.onnx", MODEL_SIZE)
    write_card(out / "bg_laterality.onnx", name="bg_laterality", task="bg_laterality", version=args.version, labels=list(BG_CLASSES),
               input={"name": "image", "shape": ["n", 3, MODEL_SIZE, MODEL_SIZE], "dtype": "float32", "windows": list(BG_WINDOWS),
                      "orientation": "radiological (patient left on image right)", "normalization": "window to [0,1], then ImageNet mean/std per channel"},
               outputs={"probs": "softmax none/left/right per slice [n, 3] (patient sides)", "embedding": "GAP features",
                        "cam": "Grad-CAM per class [n, 3, h, w]", "features": "last feature maps"},
               training_data={"what": "generated head CT phantoms (training.synth.ct) with putaminal hematomas and BG calcification mimics",
                              "generated": True, "real_patients": 0, "series_train": len(train), "series_held_out": len(test),
                              "slices_train": int(len(hu)), "split": "by series"},
               metrics={"held_out_series": {"auc_hemorrhage_vs_none": hem_auc, "laterality_accuracy": lat_acc, "three_class_accuracy": acc3,
                                            "n": len(test), "n_hemorrhage": int(has.sum()), "n_none": len(calc), **ss}},
               thresholds={"hemorrhage": 0.5}, seed=args.seed,
               extra={"architecture": f"{args.arch} width {args.width}", "aggregation": "max over slices"})
    print(f"exported to {out} in {(time.perf_counter() - t0) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
