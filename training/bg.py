"""Train the basal-ganglia hemorrhage laterality model of seed 003 and export it with its card.

    python -m training.bg --data DIR [DIR...] --out resources/models [--epochs 6] [--width 32] [--init training/checkpoints/ich_cnn.pt]

A 2-D ResNet on the brain / acute-blood / stroke windows outputs none / left / right per slice
(patient sides; the image is in radiological orientation, so patient left is image right). Slice
labels come from the hematoma masks; a horizontal flip swaps left and right labels. The series
result aggregates slices: P(hemorrhage) = max over slices of 1 - P(none), side = the larger of the
max P(left) and max P(right). Calcification mimics are in both training and held-out series. Hard
negatives are sampled every epoch: intraparenchymal bleeds outside the basal ganglia (thalamic,
lobar), other hemorrhages, and calcifications when the masks mark them.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from statsmodels.stats.proportion import proportion_confint
from torch import nn
from tqdm import tqdm

from core.models.preprocess import BG_WINDOWS, MODEL_SIZE, bg_input
from training.datasets.rsna import BG_CLASSES, Series, load_rsna, split_by_series
from training.export import export_cnn, write_card
from training.metrics import auc, sens_spec
from training.nets.resnet import CamExport, ResNet2D


def series_result(p: np.ndarray) -> tuple[float, str, np.ndarray]:
    """Slice probs [z, 3] -> (P(hemorrhage), side, [none, left, right] series probabilities)."""
    p_hem = float((1 - p[:, 0]).max())
    left, right = float(p[:, 1].max()), float(p[:, 2].max())
    side = "none" if p_hem < 0.5 else ("left" if left >= right else "right")
    return p_hem, side, np.array([1 - p_hem, left, right])


def augment_hu(hu: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """HU batch [n, h, w] -> model input and labels, augmented the ways scanners and heads vary.

    Mirror (left and right labels swapped: the model must read the side from the image), rotation
    within +-10 deg and scale 0.9-1.1 (head yaw and size), shifts of +-10 px, a global HU offset
    of +-4 (calibration). Rotation pads with air, so it runs on HU before windowing.
    """
    n = len(hu)
    t = torch.from_numpy(y.astype(np.int64))
    x = torch.from_numpy(hu.astype(np.float32) + 1024.0)[:, None]  # air -> 0 for zero padding
    flip = torch.from_numpy(rng.random(n) < 0.5)
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    t = torch.where(flip & (t > 0), 3 - t, t)  # mirrored image: left <-> right
    ang = np.radians(rng.uniform(-10, 10, n))
    scale = rng.uniform(0.9, 1.1, n)
    theta = np.zeros((n, 2, 3), dtype=np.float32)
    theta[:, 0, 0], theta[:, 0, 1] = np.cos(ang) / scale, -np.sin(ang) / scale
    theta[:, 1, 0], theta[:, 1, 1] = np.sin(ang) / scale, np.cos(ang) / scale
    theta[:, :, 2] = rng.uniform(-10, 10, (n, 2)) * 2 / hu.shape[-1]
    grid = nn.functional.affine_grid(torch.from_numpy(theta), list(x.shape), align_corners=False)
    x = nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    x = x[:, 0].numpy() - 1024.0 + rng.uniform(-4, 4, (n, 1, 1)).astype(np.float32)
    return torch.from_numpy(bg_input(x)), t


def epoch_indices(y: np.ndarray, other_iph: np.ndarray, other_ich: np.ndarray, calc: np.ndarray,
                  rng: np.random.Generator) -> np.ndarray:
    """One epoch's slices: every hematoma slice twice (mirrored at random, so both sides are seen),
    then hard negatives: as many intraparenchymal bleeds outside the basal ganglia (thalamic and
    lobar: the mimics the first model of this stop called BG), half as many other hemorrhages,
    every calcification mimic the masks mark, and half as many plain slices."""
    pos = np.nonzero(y > 0)[0]
    neg = y == 0
    n = len(pos)
    pools = [(neg & other_iph, n), (neg & other_ich & ~other_iph, n // 2), (neg & calc & ~other_ich, n),
             (neg & ~calc & ~other_ich, n // 2)]
    parts = [pos, pos]
    for mask, k in pools:
        idx = np.nonzero(mask)[0]
        if len(idx):
            parts.append(rng.choice(idx, size=min(len(idx), k), replace=False))
    return rng.permutation(np.concatenate(parts))


def predict(net: nn.Module, series: list[Series], batch: int = 64) -> list[np.ndarray]:
    """Slice probabilities [z, 3] per series."""
    net.eval()
    out = []
    with torch.no_grad():
        for s in series:
            parts = [torch.softmax(net(torch.from_numpy(bg_input(s.hu[i:i + batch].astype(np.float32))))[0], 1).numpy()
                     for i in range(0, len(s.hu), batch)]
            out.append(np.concatenate(parts))
    return out


def init_from(net: ResNet2D, path: str) -> None:
    """Copy a trained backbone (stem and blocks, BatchNorm statistics included); keep the new head.

    The ICH CNN has already learned what acute blood looks like on the same kind of slices, so the
    BG model converges in a few epochs instead of many (2-core CPU budget)."""
    ckpt = torch.load(path, map_location="cpu")
    state = {k: v for k, v in ckpt["state_dict"].items() if not k.startswith("head.")}
    missing, unexpected = net.load_state_dict(state, strict=False)
    if unexpected or any(not k.startswith("head.") for k in missing):
        raise SystemExit(f"{path}: not a {net.__class__.__name__} of this arch/width (missing {missing}, unexpected {unexpected})")
    print(f"backbone initialised from {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, nargs="+", help="RSNA-format folder(s) with bg_labels.csv, pooled (split by series in each)")
    parser.add_argument("--out", default="resources/models")
    parser.add_argument("--cache", default=None)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--arch", default="resnet18", choices=["resnet18", "resnet34"])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--init", default=None,
                        help="start from a trained CNN of the same arch and width (e.g. training/checkpoints/ich_cnn.pt); the head is new")
    parser.add_argument("--lr", type=float, default=1e-3, help="peak rate of the one-cycle schedule")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--version", default="0.2.0")
    parser.add_argument("--checkpoints", default="checkpoints", help="folder for the torch weights (benchmarks compare them with ONNX)")
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()

    series = [s for root in args.data for s in load_rsna(root, args.cache, args.limit) if s.bg_slice is not None]
    train, test = split_by_series(series)
    n_pos_tr = sum(s.bg_side != "none" for s in train)
    print(f"{len(series)} series with BG labels: {len(train)} train ({n_pos_tr} with a BG hematoma), {len(test)} held out")
    t_load = time.perf_counter() - t0
    hu = np.concatenate([s.hu for s in train])
    y = np.concatenate([s.bg_slice for s in train]).astype(np.int64)
    other_ich = np.concatenate([s.labels[:, 0] for s in train]) > 0  # hard negatives: other hemorrhages
    other_iph = np.concatenate([s.labels[:, 2] for s in train]) > 0  # ... above all intraparenchymal ones (thalamic, lobar)
    calc = np.concatenate([s.calc_slice if s.calc_slice is not None else np.zeros(len(s.hu), bool) for s in train])
    print(f"training slices: {int((y > 0).sum())} hematoma, {int(((y == 0) & other_iph).sum())} other intraparenchymal, "
          f"{int(((y == 0) & other_ich).sum())} other hemorrhage, "
          f"{int(((y == 0) & calc).sum())} calcification, {len(y)} in all")
    net = ResNet2D(3, arch=args.arch, width=args.width)
    if args.init:
        init_from(net, args.init)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    steps = -(-len(epoch_indices(y, other_iph, other_ich, calc, np.random.default_rng(0))) // args.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.epochs * steps, pct_start=0.15)
    t1 = time.perf_counter()
    for epoch in range(args.epochs):
        order = epoch_indices(y, other_iph, other_ich, calc, rng)[: steps * args.batch]
        net.train()
        bar = tqdm(range(0, len(order), args.batch), desc=f"BG epoch {epoch + 1}/{args.epochs}", unit="batch")
        for i in bar:
            idx = np.sort(order[i:i + args.batch])
            x, t = augment_hu(hu[idx], y[idx], rng)
            logits, _, _ = net(x)
            loss = nn.functional.cross_entropy(logits, t)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            bar.set_postfix(loss=f"{loss.item():.3f}")
    t_train = time.perf_counter() - t1

    truth, p_hem, sides = [], [], []
    for s, p in zip(test, predict(net, test)):
        ph, side, _ = series_result(p)
        truth.append(s.bg_side)
        p_hem.append(ph)
        sides.append(side)
        if side != s.bg_side:
            calc_s = bool(s.calc_slice is not None and s.calc_slice.any())
            print(f"  miss {s.uid}: truth {s.bg_side}, called {side} (P {ph:.3f}), {int((s.bg_slice > 0).sum())} hematoma slices, "
                  f"calcification {calc_s}, other hemorrhage {bool(s.labels[:, 0].any())}")
    truth_arr = np.array(truth)
    has = truth_arr != "none"
    hem_auc = auc(has, np.array(p_hem))
    lat_n = int(has.sum())
    lat_ok = int(sum(sd == tr for sd, tr in zip(np.array(sides)[has], truth_arr[has])))
    lat_acc = lat_ok / lat_n if lat_n else None
    lat_ci = [float(v) for v in proportion_confint(lat_ok, lat_n, method="wilson")] if lat_n else None
    acc3 = float(np.mean(np.array(sides) == truth_arr))
    ss = sens_spec(has, np.array(p_hem))
    none = [s for s in test if s.bg_side == "none"]
    n_calc = sum(bool(s.calc_slice is not None and s.calc_slice.any()) for s in none)
    print(f"held-out series: {len(test)} ({lat_n} with BG hemorrhage, {len(none)} without, {n_calc} of them calcified)")
    print(f"AUC hemorrhage vs none {hem_auc}, laterality accuracy {lat_acc} ({lat_ok}/{lat_n}, 95% CI {lat_ci}), 3-class accuracy {acc3:.3f}")
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
                              "generated": True, "real_patients": 0, "series_train": len(train), "series_train_bg_hematoma": n_pos_tr,
                              "series_held_out": len(test), "slices_train": int(len(hu)), "split": "by series", "source_folders": [str(d) for d in args.data]},
               metrics={"held_out_series": {"auc_hemorrhage_vs_none": hem_auc, "laterality_accuracy": lat_acc, "laterality_accuracy_ci95": lat_ci,
                                            "three_class_accuracy": acc3, "n": len(test), "n_hemorrhage": lat_n, "n_none": len(none),
                                            "n_none_calcified": n_calc, **ss}},
               thresholds={"hemorrhage": 0.5}, seed=args.seed,
               extra={"architecture": f"{args.arch} width {args.width}", "aggregation": "max over slices", "epochs": args.epochs,
                      "training_minutes": round(t_train / 60, 1), "initialised_from": Path(args.init).name if args.init else None})
    print(f"loading {t_load / 60:.1f} min, training {t_train / 60:.1f} min; exported to {out} in {(time.perf_counter() - t0) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
