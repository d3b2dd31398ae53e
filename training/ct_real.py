"""Train the 0.3 CT models on real head CT plus generated data, and export them with cards.

    python -m training.ct_real --shared ../shared/data --out resources/models [--epochs 5]

One ResNet-18 trunk (width 32) reads the 8-bit brain-window export of a slice (core.imaging.pseudo_hu)
and has two heads: 6 ICH sigmoids (seed 002) and none/left/right basal-ganglia hemorrhage (seed 003).
It learns from real CT-ICH and PHE-SICH slices (train patients only), mirrored bleed-free hemispheres,
hemorrhages inserted into real bleed-free slices, phantoms and the real GE series; a localisation loss
makes the "any" Grad-CAM fall on the outlined or inserted blood, so that a slice is positive because of
where the blood is. Validation patients then fit the temperature of each output, the thresholds and the
out-of-distribution guard; the BiLSTM is trained on the ordered series. Test patients are not read here.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from core.imaging.pseudo_hu import hu_to_window8, window8_to_hu
from core.models.preprocess import ICH_WINDOWS, MODEL_SIZE, display_slices, ich_input
from training.ct_data.augment import augment, blood_seen_against_bone
from training.ct_data.phantom import SliceSeries, phantom_series
from training.ct_data.pools import BALANCED_MIX, EPOCH_MIX, EXTRA_AXIAL_MIX, INSERT_MIX, LABEL_INDEX, REAL_MIX, THIN_MIX, TRAUMA_MIX, Pools, Sample, draw, epoch_samples
from training.ct_data.real import load_ct_ich, load_phe_sich, load_splits
from training.datasets.rsna import ICH_LABELS
from training.metrics import ICH_WEIGHTS
from training.nets.resnet import ResNet2D

N_ICH, N_BG = 6, 3
TRAIN_PHANTOM_SEEDS = [900000 + i for i in range(160)]
VAL_PHANTOM_SEEDS = TRAIN_PHANTOM_SEEDS[-20:]


def load_ge(shared: Path) -> SliceSeries | None:
    from core.io import load

    folder = shared / "ct-ge-head-tilt"
    if not folder.is_dir():
        return None
    vol = load(folder)
    img = hu_to_window8(display_slices(vol))
    n = len(img)
    labels = np.zeros((n, N_ICH), np.float32)
    return SliceSeries("ge_head_tilt", "ge", img, labels, np.zeros(n, np.int8), None, patient="ge_head_tilt")


def load_all(shared: Path, cache: Path) -> tuple[list[SliceSeries], dict[str, str]]:
    real = load_ct_ich(shared / "ct-ich", cache / "real") + load_phe_sich(shared / "phe-sich-ct", cache / "real")
    splits = load_splits(real)
    phantoms = phantom_series(TRAIN_PHANTOM_SEEDS, cache / "phantom")
    for s in phantoms:
        splits[s.patient] = "val" if int(s.key.split("_")[1]) in VAL_PHANTOM_SEEDS else "train"
    series = real + phantoms
    ge = load_ge(shared)
    if ge is not None:
        series.append(ge)
        splits[ge.patient] = "train"
    return series, splits


def batch_tensors(samples, rng) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    imgs, labels, bgs, masks, has_mask = [], [], [], [], []
    for s in samples:
        x, m, bg = augment(s.img, s.mask, s.bg, rng)
        y = unseen_extra_axial_unlabelled(s, x, m)
        imgs.append(x)
        labels.append(y)
        bgs.append(bg)
        has_mask.append(m is not None and m.any() and y[0] > 0)
        masks.append(m if m is not None else np.zeros_like(x, dtype=bool))
    hu = window8_to_hu(np.stack(imgs)).hu
    return (torch.from_numpy(ich_input(hu)), torch.from_numpy(np.stack(labels)), torch.tensor(bgs, dtype=torch.long),
            torch.from_numpy(np.stack(masks)), torch.tensor(has_mask))


def unseen_extra_axial_unlabelled(s: Sample, view: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """The labels of a training view: an inserted epidural/subdural the export look merged with bone is unknown."""
    y = s.labels
    extra = [i for i in (LABEL_INDEX["epidural"], LABEL_INDEX["subdural"]) if y[i] > 0]
    if s.source != "inserted" or not extra or blood_seen_against_bone(view, mask):
        return y
    y = y.copy()
    y[0] = -1.0
    y[extra] = -1.0
    return y


def losses(net: ResNet2D, x, y, bg, mask, has_mask, loc_weight: float) -> tuple[torch.Tensor, dict]:
    logits, feats, _ = net(x)
    ich, bgl = logits[:, :N_ICH], logits[:, N_ICH:]
    w = torch.tensor(ICH_WEIGHTS / ICH_WEIGHTS.sum() * N_ICH, dtype=torch.float32)
    known = (y >= 0).float()
    bce = nn.functional.binary_cross_entropy_with_logits(ich, y.clamp(min=0), reduction="none")
    l_ich = (bce * known * w).sum() / known.sum().clamp(min=1)
    logp = torch.log_softmax(bgl, dim=1)
    sel = (bg >= 0) & (bg <= 2)
    l_bg = -logp[sel, bg[sel]].sum() if sel.any() else torch.zeros(())
    unk = bg == 3
    if unk.any():  # a hemorrhage of unknown side: the model may say left or right
        l_bg = l_bg - torch.logsumexp(logp[unk][:, 1:], dim=1).sum()
    n_bg = (sel | unk).sum().clamp(min=1)
    l_bg = l_bg / n_bg
    l_loc = torch.zeros(())
    if has_mask.any():
        cam = torch.relu(torch.einsum("f,nfhw->nhw", net.head.weight[0], feats[has_mask]))
        h, wdt = cam.shape[-2:]
        m = nn.functional.adaptive_max_pool2d(mask[has_mask].float()[:, None], (h, wdt))
        m = nn.functional.max_pool2d(m, 3, 1, 1)[:, 0]  # one cell of slack around the blood
        inside = (cam * m).sum(dim=(1, 2))
        total = cam.sum(dim=(1, 2))
        l_loc = -torch.log((inside + 1e-4) / (total + 1e-4)).mean()
    total = l_ich + 0.5 * l_bg + loc_weight * l_loc
    return total, {"ich": l_ich.item(), "bg": l_bg.item(), "loc": l_loc.item()}


def init_from(net: ResNet2D, ckpt: Path) -> None:
    if not ckpt.exists():
        return
    sd = torch.load(ckpt, map_location="cpu")["state_dict"]
    own = net.state_dict()
    for k, v in sd.items():
        if k.startswith("head."):
            own[k][: v.shape[0]] = v
        elif k in own and own[k].shape == v.shape:
            own[k] = v
    net.load_state_dict(own)
    print(f"initialised the trunk from {ckpt}")


def train(series, splits, args) -> ResNet2D:
    rng = np.random.default_rng(args.seed)
    torch.manual_seed(args.seed)
    train_series = [s for s in series if splits[s.patient] == "train"]
    pools = Pools.build(train_series)
    print(f"train pools: {len(pools.pos)} real positive, {len(pools.neg)} real negative, {len(pools.mirror)} mirrorable, "
          f"{len(pools.background)} backgrounds, {len(pools.phantom)} phantom slices")
    net = ResNet2D(N_ICH + N_BG, arch="resnet18", width=32)
    if args.resume:
        net.load_state_dict(torch.load(args.resume, map_location="cpu")["state_dict"])
        print(f"resumed the whole network from {args.resume}")
    elif args.init:
        init_from(net, Path(args.init))
    mix = {"balanced": BALANCED_MIX, "trauma": TRAUMA_MIX, "real": REAL_MIX, "insert": INSERT_MIX,
           "extra-axial": EXTRA_AXIAL_MIX, "thin": THIN_MIX}.get(args.mix, EPOCH_MIX)
    pools.background_trauma_share = float(mix.get("background_trauma_share", 0.0))
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    ckpt_dir = Path(args.checkpoints)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    for epoch in range(args.epochs):
        lr = args.lr * (0.5 * (1 + np.cos(np.pi * epoch / args.epochs)))
        for g in opt.param_groups:
            g["lr"] = lr
        draws = epoch_samples(pools, rng, mix)
        if args.max_samples:
            draws = draws[: args.max_samples]
        net.train()
        t0, seen, run = time.perf_counter(), 0, {"ich": 0.0, "bg": 0.0, "loc": 0.0}
        for i in range(0, len(draws), args.batch):
            samples = [s for s in (draw(pools, d, rng) for d in draws[i:i + args.batch]) if s is not None]
            if len(samples) < 2:
                continue
            x, y, bg, m, hm = batch_tensors(samples, rng)
            loss, parts = losses(net, x, y, bg, m, hm, args.loc_weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
            seen += len(samples)
            for k in run:
                run[k] = 0.95 * run[k] + 0.05 * parts[k]
            if (i // args.batch) % 20 == 0:
                print(f"epoch {epoch + 1}/{args.epochs} {seen}/{len(draws)} lr {lr:.2e} loss ich {run['ich']:.3f} bg {run['bg']:.3f} "
                      f"loc {run['loc']:.3f} ({(time.perf_counter() - t0) / max(seen, 1) * 1000:.0f} ms/sample)", flush=True)
        torch.save({"state_dict": net.state_dict(), "epoch": epoch + 1, "arch": "resnet18", "width": 32}, ckpt_dir / "ct_trunk.pt")
        print(f"epoch {epoch + 1} done in {(time.perf_counter() - t0) / 60:.1f} min; checkpoint saved", flush=True)
    return net


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default="../shared/data", help="folder with ct-ich/, phe-sich-ct/, ct-ge-head-tilt/")
    ap.add_argument("--cache", default="/tmp/nr_cache")
    ap.add_argument("--out", default="resources/models")
    ap.add_argument("--checkpoints", default="training/checkpoints")
    ap.add_argument("--init", default="training/checkpoints/ich_cnn.pt", help="start the trunk from these weights ('' for none)")
    ap.add_argument("--resume", default="", help="continue from a ct_trunk.pt checkpoint (both heads)")
    ap.add_argument("--mix", choices=["first", "balanced", "trauma", "real", "insert", "extra-axial", "thin"], default="first", help="epoch composition (see training.ct_data.pools)")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--loc-weight", type=float, default=0.3)
    ap.add_argument("--max-samples", type=int, default=0, help="cap the draws per epoch (smoke runs)")
    ap.add_argument("--lstm-epochs", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--stage", choices=["all", "train", "post"], default="all")
    ap.add_argument("--tta", choices=["none", "flip"], default="none", help="post: the exported CNNs read each slice once, or as given and mirrored (averaged)")
    ap.add_argument("--version", default="0.3.0")
    ap.add_argument("--members", nargs="*", default=[], metavar="CT_TRUNK_PT",
                    help="post: more trunk checkpoints averaged with --checkpoints/ct_trunk.pt (an ensemble of snapshots)")
    ap.add_argument("--members-note", default="", help="post: how the members were trained, for the card")
    ap.add_argument("--schedule", default="", help="how the trunk was trained, for the card (when --stage post runs on a resumed checkpoint)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # cheap insurance; the BiLSTM's minutes-long epochs were thread oversubscription (use --threads 1 beside another job)
    series, splits = load_all(Path(args.shared), Path(args.cache))
    if args.stage in ("all", "train"):
        net = train(series, splits, args)
    else:
        from training.ct_post import load_trunks

        net = load_trunks([Path(args.checkpoints) / "ct_trunk.pt"] + [Path(m) for m in args.members])
        net = net[0] if len(net) == 1 else net
    if args.stage in ("all", "post"):
        from training.ct_post import post_training

        post_training(net, series, splits, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
