"""Skull-strip QC network (seed 000: a small 3-D CNN with two sigmoid outputs), its BET-BSE dataset
reader, training on generated volumes split by subject, and ONNX export with in-graph 3-D Grad-CAM.

    python -m training.qc --data DIR --out resources/models [--epochs 10]

DIR holds `label_file.csv` (Filename, Recognizable-Facial-Feature, Brain-Feature-Loss as Yes/No) and
the .nii.gz files, as the BET-BSE dataset and `python -m training.synth mri` write them.
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.qc.preprocess import MODEL_SHAPE, qc_input

LABELS = ("face", "brain_loss")
CSV_COLUMNS = ("Recognizable-Facial-Feature", "Brain-Feature-Loss")


# ----------------------------------------------------------------------------- dataset

@dataclass
class QCItem:
    path: Path
    subject: str
    y: np.ndarray  # float32 [2]: face, brain_loss


def _yes(v: str, where: str) -> float:
    s = v.strip().lower()
    if s in ("yes", "1", "true"):
        return 1.0
    if s in ("no", "0", "false"):
        return 0.0
    raise ValueError(f"{where}: label must be Yes or No, got {v!r}")


def subject_of(filename: str) -> str:
    """Strips of one scan share a subject: the name before `_strip`/`_bet`/`_bse` or the stem."""
    stem = re.sub(r"\.nii(\.gz)?$", "", Path(filename).name)
    return re.split(r"_(strip|bet|bse)", stem, flags=re.I)[0]


def read_label_file(folder: str | Path) -> list[QCItem]:
    """Rows of a BET-BSE `label_file.csv` whose file exists; missing files are reported, not dropped silently."""
    folder = Path(folder)
    items, missing = [], []
    with open(folder / "label_file.csv", newline="") as fh:
        for i, row in enumerate(csv.DictReader(fh), start=2):
            where = f"{folder / 'label_file.csv'} line {i}"
            path = folder / row["Filename"].strip()
            if not path.exists():
                missing.append(path.name)
                continue
            y = np.array([_yes(row[c], where) for c in CSV_COLUMNS], np.float32)
            items.append(QCItem(path, subject_of(path.name), y))
    if missing:
        print(f"label_file.csv lists {len(missing)} missing files (skipped): {', '.join(missing[:5])}")
    return items


def split_by_subject(items: list[QCItem], val_frac: float, seed: int) -> tuple[list[QCItem], list[QCItem]]:
    subjects = sorted({it.subject for it in items})
    rng = np.random.default_rng(seed)
    rng.shuffle(subjects)
    n_val = max(1, round(len(subjects) * val_frac))
    val_s = set(subjects[:n_val])
    return [it for it in items if it.subject not in val_s], [it for it in items if it.subject in val_s]


def load_inputs(items: list[QCItem], cache: Path | None = None) -> np.ndarray:
    """Preprocessed inputs [N, 64, 128, 128] float16 (cached; same function as inference)."""
    import nibabel as nib

    from core.io import load

    out = np.zeros((len(items), *MODEL_SHAPE), np.float16)
    for i, it in enumerate(items):
        c = cache / (it.path.name + ".npy") if cache else None
        if c is not None and c.exists():
            out[i] = np.load(c)
            continue
        x = qc_input(load(str(it.path)).voxels, str(it.path)).astype(np.float16)
        if c is not None:
            c.parent.mkdir(parents=True, exist_ok=True)
            np.save(c, x)
        out[i] = x
    return out


# ----------------------------------------------------------------------------- network

class QCNet(nn.Module):
    """conv16 / conv32 / conv64, each BN+ReLU, max-pooling; GAP; dense 128; dropout 0.3; two sigmoid
    outputs (seed 000). The first conv is 4x4x4 with stride 4 (every voxel still seen, 4 mm-ish
    patches) so that training stays cheap on 2 shared CPU cores; feature maps end at 8x16x16."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        w = width

        def block(cin: int, cout: int, k: int = 3, stride: int = 1) -> nn.Sequential:
            return nn.Sequential(nn.Conv3d(cin, cout, k, stride=stride, padding=(k - 1) // 2 if stride == 1 else 0, bias=False),
                                 nn.BatchNorm3d(cout), nn.ReLU(inplace=True))

        self.features = nn.Sequential(block(1, w, 4, 4), block(w, 2 * w), nn.MaxPool3d(2), block(2 * w, 4 * w))
        self.fc1 = nn.Linear(4 * w, 128)
        self.drop = nn.Dropout(0.3)
        self.fc2 = nn.Linear(128, 2)

    def logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        a = self.features(x)
        g = a.mean(dim=(2, 3, 4))
        h = F.relu(self.fc1(g))
        return self.fc2(self.drop(h)), a, h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits(x)[0]


class QCExport(nn.Module):
    """Inference graph: probs [N,2], cam [N,2,d,h,w] (Grad-CAM in closed form), features [N,C,d,h,w].

    d logit_c / d GAP_k = sum_j W2[c,j] * 1[h_j > 0] * W1[j,k], so the Grad-CAM channel weights are
    exact and need no backward pass; cam_c = ReLU(sum_k alpha_ck * A_k), normalised to 0..1 per map.
    """

    def __init__(self, net: QCNet) -> None:
        super().__init__()
        self.net = net.eval()

    def forward(self, image: torch.Tensor):
        logits, a, h = self.net.logits(image)
        gate = (h > 0).to(h.dtype)  # [N, 128]
        alpha = torch.einsum("cj,nj,jk->nck", self.net.fc2.weight, gate, self.net.fc1.weight)  # [N, 2, C]
        cam = F.relu(torch.einsum("nck,nkdhw->ncdhw", alpha, a))
        cam = cam / (cam.amax(dim=(2, 3, 4), keepdim=True) + 1e-6)
        return torch.sigmoid(logits), cam, a


# ----------------------------------------------------------------------------- training

def rotate_batch(x: torch.Tensor, max_deg: float, gen: torch.Generator) -> torch.Tensor:
    """Random 3-D rotation (about each axis, up to max_deg) and +-4 % scaling, trilinear."""
    n = x.shape[0]
    ang = (torch.rand(n, 3, generator=gen) * 2 - 1) * math.radians(max_deg)
    c, s = torch.cos(ang), torch.sin(ang)
    one, zero = torch.ones(n), torch.zeros(n)
    rx = torch.stack([one, zero, zero, zero, c[:, 0], -s[:, 0], zero, s[:, 0], c[:, 0]], 1).view(n, 3, 3)
    ry = torch.stack([c[:, 1], zero, s[:, 1], zero, one, zero, -s[:, 1], zero, c[:, 1]], 1).view(n, 3, 3)
    rz = torch.stack([c[:, 2], -s[:, 2], zero, s[:, 2], c[:, 2], zero, zero, zero, one], 1).view(n, 3, 3)
    scale = 1 + (torch.rand(n, 1, 1, generator=gen) * 2 - 1) * 0.04
    theta = torch.cat([rx @ ry @ rz * scale, torch.zeros(n, 3, 1)], 2)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def auc_score(t: np.ndarray, p: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney U statistic (ties count half)."""
    pos, neg = p[t], p[~t]
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def evaluate(probs: np.ndarray, y: np.ndarray, thresholds: dict[str, float]) -> dict:
    out = {}
    for j, lab in enumerate(LABELS):
        p, t = probs[:, j], y[:, j].astype(bool)
        pred = p >= thresholds[lab]
        auc = auc_score(t, p) if 0 < t.sum() < len(t) else float("nan")
        out[lab] = {"n": int(len(t)), "n_positive": int(t.sum()), "auc": round(auc, 4),
                    "accuracy": round(float((pred == t).mean()), 4),
                    "sensitivity": round(float(pred[t].mean()) if t.any() else float("nan"), 4),
                    "specificity": round(float((~pred[~t]).mean()) if (~t).any() else float("nan"), 4)}
    return out


def predict(net: nn.Module, x: np.ndarray, batch: int = 8) -> np.ndarray:
    net.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            out.append(torch.sigmoid(net(torch.from_numpy(x[i:i + batch].astype(np.float32))[:, None])).numpy())
    return np.concatenate(out)


def train(x: np.ndarray, y: np.ndarray, epochs: int, seed: int, batch: int = 8, lr: float = 2e-3) -> QCNet:
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = QCNet()
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * math.ceil(len(x) / batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    yt = torch.from_numpy(y)
    for ep in range(epochs):
        net.train()
        order = torch.randperm(len(x), generator=gen)
        total, t0 = 0.0, time.perf_counter()
        for i in range(0, len(x), batch):
            idx = order[i:i + batch]
            xb = torch.from_numpy(x[idx.numpy()].astype(np.float32))[:, None]
            xb = rotate_batch(xb, 12.0, gen)
            loss = F.binary_cross_entropy_with_logits(net(xb), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        print(f"epoch {ep + 1}/{epochs} loss {total / len(x):.4f} ({time.perf_counter() - t0:.0f} s)", flush=True)
    return net.eval()


def export(net: QCNet, path: Path) -> None:
    module = QCExport(net).eval()
    dummy = torch.zeros(1, 1, *MODEL_SHAPE)
    torch.onnx.export(module, (dummy,), str(path), input_names=["image"], output_names=["probs", "cam", "features"],
                      dynamic_axes={k: {0: "n"} for k in ("image", "probs", "cam", "features")}, opset_version=17, dynamo=False)


def write_qc_card(onnx_path: Path, metrics: dict, thresholds: dict, *, n_train: int, n_held_out: int,
                  train_positive: dict, epochs: int, train_seconds: float, seed: int):
    from training.export import write_card

    return write_card(onnx_path, name="skullstrip_qc", task="skullstrip_qc", version="1.0.0", labels=list(LABELS),
               input={"name": "image", "shape": [1, 1, *MODEL_SHAPE], "dtype": "float32", "axes": "n,c,z,y,x (canonical RAS)",
                      "normalization": "trilinear resize to 64x128x128 (z,y,x), min-max to 0..1 (core.qc.preprocess.qc_input)"},
               outputs={"probs": "[n,2] P(recognizable facial features kept), P(brain tissue lost)",
                        "cam": "[n,2,8,16,16] closed-form 3-D Grad-CAM per output, 0..1",
                        "features": "[n,64,8,16,16] last feature maps"},
               training_data={"what": "generated skull strips (python -m training.synth mri) of one real T1 head (pydeface template) deformed per subject; BET-BSE label_file format",
                              "generated": True, "n_train": n_train, "n_held_out": n_held_out,
                              "split": "by subject", "train_positive": train_positive,
                              "epochs": epochs, "train_seconds": round(train_seconds), "augmentation": "random 3-D rotation +-12 deg, scale +-4 %"},
               metrics={"held_out": metrics}, thresholds=thresholds, seed=seed,
               extra={"architecture": "3-D CNN conv16(4x4x4 stride 4)/32/64 + BN + max-pool, GAP, dense 128, dropout 0.3, 2 sigmoid (seed 000)",
                      "limitations": "Trained on generated data from a single template head: expect lower accuracy on real scans, other contrasts (T2, FLAIR) or partial-coverage acquisitions. Not for clinical use."})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.qc", description=__doc__)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", default="resources/models")
    ap.add_argument("--cache", default=None)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--val-frac", type=float, default=0.25)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--save-torch", default=None, help="also save the torch weights here (benchmarks)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    items = read_label_file(args.data)
    tr, va = split_by_subject(items, args.val_frac, args.seed)
    print(f"{len(items)} volumes: train {len(tr)} ({len({i.subject for i in tr})} subjects), held out {len(va)} ({len({i.subject for i in va})} subjects)")
    cache = Path(args.cache) if args.cache else None
    t0 = time.perf_counter()
    xtr, xva = load_inputs(tr, cache), load_inputs(va, cache)
    ytr, yva = np.stack([i.y for i in tr]), np.stack([i.y for i in va])
    print(f"preprocessed in {time.perf_counter() - t0:.0f} s")
    t0 = time.perf_counter()
    net = train(xtr, ytr, args.epochs, args.seed)
    train_s = time.perf_counter() - t0
    thresholds = {"face": 0.5, "brain_loss": 0.5}
    pva = predict(net, xva)
    metrics = evaluate(pva, yva, thresholds)
    print(metrics)
    if args.save_torch:
        torch.save(net.state_dict(), args.save_torch)  # for the ORT-vs-eager benchmark; not bundled
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    onnx_path = out / "skullstrip_qc.onnx"
    export(net, onnx_path)
    write_qc_card(onnx_path, metrics, thresholds, n_train=len(tr), n_held_out=len(va),
                  train_positive={l: int(ytr[:, j].sum()) for j, l in enumerate(LABELS)}, epochs=args.epochs,
                  train_seconds=train_s, seed=args.seed)
    print(f"wrote {onnx_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
