"""After the CT trunk is trained: calibration, thresholds, the series BiLSTM, the out-of-distribution
guard, ONNX export and model cards. Uses train and validation patients only (never test).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from core.imaging.pseudo_hu import window8_to_hu
from core.models.preprocess import ICH_WINDOWS, MODEL_SIZE, ich_input
from training.ct_data.phantom import SliceSeries
from training.datasets.rsna import BG_CLASSES, ICH_LABELS
from training.export import export_cnn, export_series, write_card
from training.metrics import ICH_WEIGHTS
from training.nets.lstm import SeriesBiLSTM, SeriesExport
from training.nets.resnet import CamExport, Ensemble, FlipTTA, FlipTTAExport, ResNet2D
from training.thresholds import youden_threshold as _youden

N_ICH = 6
OOD_QUANTILE = 0.99
MIN_REAL_POSITIVES = 10
NOT_CLINICAL_REAL = ("Research use only; not for clinical use. Trained on public real head CT slices (CT-ICH, CC BY 4.0; "
                     "PHE-SICH-CT-IDS, non-commercial research use only: the model inherits that restriction), one real GE "
                     "head CT (BSD-2-Clause) and generated data; validated on few real patients (see metrics).")
SOURCES = [
    {"name": "CT-ICH (Hssayeni et al., Data 5(1):14, 2020; PhysioNet)", "licence": "CC BY 4.0 (versions up to 1.2)",
     "use": "real slices of 67 trauma patients, normal and all five subtypes, per-slice labels; split by patient"},
    {"name": "PHE-SICH-CT-IDS (Ma et al., Comput Biol Med 2024; Figshare 23957937)", "licence": "non-commercial research use only",
     "use": "real slices of 99 patients with basal-ganglia ICH, lesion outlines (localisation loss); split by patient; "
            "side of the export undocumented, so its lesions train 'hemorrhage, side unknown' only"},
    {"name": "GE HiSpeed head CT (neurolabusc/dcm_qa_ct, Aliza Medical Imaging)", "licence": "BSD-2-Clause",
     "use": "one real bleed-free head CT in HU: negative slices and a background for inserted lesions"},
    {"name": "generated: training.synth.ct phantoms and training.ct_data.insert lesions in real backgrounds", "licence": "this project",
     "use": "exact labels for rare subtypes and for basal-ganglia side"},
]


#: what each of the 9 trunk outputs becomes when the slice is mirrored (BG left <-> right)
MIRROR_PERM = [0, 1, 2, 3, 4, 5, N_ICH, N_ICH + 2, N_ICH + 1]


def reader(net: ResNet2D | list[ResNet2D], tta: str, perm: list[int] | None = None) -> nn.Module:
    """The network as the exported model reads a slice: once ('none') or as given and mirrored ('flip');
    several trunks (snapshots) are averaged (training.nets.resnet.Ensemble)."""
    nets = net if isinstance(net, list) else [net]
    perm = MIRROR_PERM if perm is None else perm
    readers = [FlipTTA(n, perm) if tta == "flip" else n for n in nets]
    return readers[0] if len(readers) == 1 else Ensemble(readers)


def load_trunks(paths: list[Path]) -> list[ResNet2D]:
    """Uncalibrated two-headed trunks (ct_trunk.pt files), in the given order."""
    nets = []
    for path in paths:
        net = ResNet2D(N_ICH + 3, arch="resnet18", width=32)
        net.load_state_dict(torch.load(path, map_location="cpu")["state_dict"])
        nets.append(net.eval())
    return nets


def member_state_dicts(ckpt: dict) -> list[dict]:
    """The member weights of an export checkpoint (ich_cnn.pt, bg_laterality.pt): one, or several for an ensemble."""
    return list(ckpt["members"]) if "members" in ckpt else [ckpt["state_dict"]]


@torch.no_grad()
def forward_all(net: nn.Module, img: np.ndarray, batch: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """uint8 [n, 256, 256] -> (logits [n, 9], embedding [n, F]) without training augmentation."""
    net.eval()
    lo, em = [], []
    for i in range(0, len(img), batch):
        x = torch.from_numpy(ich_input(window8_to_hu(img[i:i + batch]).hu))
        logits, _, emb = net(x)
        lo.append(logits.numpy())
        em.append(emb.numpy())
    return np.concatenate(lo), np.concatenate(em)


def cnn_outputs_cached(net: nn.Module, use: list[SliceSeries], ckpt: Path | list[Path], cache: Path, tta: str = "none") -> dict:
    """CNN logits and embeddings of every train/validation series, cached per checkpoint(s) and reading (post-processing
    reruns are cheap). `net` must be what `ckpt` holds: the file's bytes key the cache. Each series' entry also keeps a
    digest of its images: a series regenerated under the same key (a fixed insert generator, stop 19) is recomputed,
    never read stale."""
    import hashlib

    ckpts = ckpt if isinstance(ckpt, list) else [ckpt]
    key = None
    if all(c.exists() for c in ckpts):
        key = hashlib.sha256(b"".join(c.read_bytes() for c in ckpts)).hexdigest()[:16] + ("" if tta == "none" else f"_{tta}")
    path = cache / f"post_outputs_{key}.npz" if key else None
    digest = {s.key: hashlib.sha256(np.ascontiguousarray(s.img).tobytes()).hexdigest()[:16] for s in use}
    res: dict = {}
    stored: dict[str, np.ndarray] = {}
    if path is not None and path.exists():
        with np.load(path) as z:
            stored = {k: z[k] for k in z.files}
        res = {s.key: (stored[f"{s.key}__lo"], stored[f"{s.key}__em"]) for s in use
               if f"{s.key}__lo" in stored and str(stored.get(f"{s.key}__dg", "")) == digest[s.key]}
    todo = [s for s in use if s.key not in res]
    res.update({s.key: forward_all(net, s.img) for s in tqdm(todo, desc="CNN outputs", unit="series")})
    if path is not None and todo:
        cache.mkdir(parents=True, exist_ok=True)
        stored.update({f"{k}__lo": v[0] for k, v in res.items()})
        stored.update({f"{k}__em": v[1] for k, v in res.items()})
        stored.update({f"{k}__dg": np.array(digest[k]) for k in res})
        np.savez(path, **stored)
    return {s.key: res[s.key] for s in use}


MIN_CALIBRATION_LABELS = 20  # fewer known labels (or one class) leave nothing to fit: the identity is kept, and said
PLATT_BOUNDS = ((0.05, 20.0), (-20.0, 20.0))  # (scale, bias)
TEMPERATURE_GRID = np.exp(np.linspace(np.log(0.25), np.log(6), 200))


@dataclass(frozen=True)
class CalibrationFit:
    """A fitted calibration and how it came out. Why the status: the identity kept for want of labels, or a fit
    stopped at its search bound, are outcomes a card must state, not values to pass off as fitted."""

    params: tuple[float, ...]  # Platt: (scale, bias); softmax temperature: (temperature,)
    status: str  # "fitted", "identity: ..." or "at bound: ..."

    @property
    def fitted(self) -> bool:
        return self.status == "fitted"


def _too_few(known: np.ndarray, y: np.ndarray) -> str:
    if known.sum() < MIN_CALIBRATION_LABELS:
        return f"identity: {int(known.sum())} known labels (< {MIN_CALIBRATION_LABELS})"
    if len(np.unique(y[known])) < 2:
        return f"identity: all {int(known.sum())} known labels are {int(y[known][0])}"
    return ""


def fit_platt(logits: np.ndarray, y: np.ndarray) -> CalibrationFit:
    """Logistic calibration sigmoid(a * logit + b) on the known labels (a temperature 1/a plus a bias: a model
    trained on positive-rich batches is also biased on real prevalences, which a temperature alone cannot fix)."""
    from scipy.optimize import minimize

    known = y >= 0
    if reason := _too_few(known, y):
        return CalibrationFit((1.0, 0.0), reason)
    z, t = logits[known].astype(np.float64), y[known].astype(np.float64)

    def nll(ab):
        q = ab[0] * z + ab[1]
        return float(np.mean(np.logaddexp(0, q) - t * q)) + 1e-4 * (ab[0] - 1) ** 2

    r = minimize(nll, np.array([1.0, 0.0]), method="L-BFGS-B", bounds=PLATT_BOUNDS)
    a, b = float(r.x[0]), float(r.x[1])
    hit = [f"{name} {v:g} (bounds {lo:g}..{hi:g})" for name, v, (lo, hi) in zip(("scale", "bias"), (a, b), PLATT_BOUNDS)
           if min(v - lo, hi - v) <= 1e-6 * max(1.0, abs(v))]
    return CalibrationFit((a, b), f"at bound: {', '.join(hit)}" if hit else "fitted")


def fit_temperature_softmax(logits: np.ndarray, bg: np.ndarray) -> CalibrationFit:
    """One softmax temperature minimising the NLL of the known classes (0..2), searched on TEMPERATURE_GRID."""
    sel = (bg >= 0) & (bg <= 2)
    if reason := _too_few(sel, bg):
        return CalibrationFit((1.0,), reason)
    z, t = logits[sel], bg[sel]
    nlls = []
    for temp in TEMPERATURE_GRID:
        s = z / temp
        s = s - s.max(axis=1, keepdims=True)
        logp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
        nlls.append(-logp[np.arange(len(t)), t].mean())
    i = int(np.argmin(nlls))
    status = "fitted" if 0 < i < len(TEMPERATURE_GRID) - 1 else \
        f"at bound: temperature {TEMPERATURE_GRID[i]:g} (grid {TEMPERATURE_GRID[0]:g}..{TEMPERATURE_GRID[-1]:g})"
    return CalibrationFit((float(TEMPERATURE_GRID[i]),), status)


def report_unfitted(what: str, fits: dict[str, CalibrationFit]) -> None:
    """Training logs say which calibrations were not fitted (the cards carry the same status)."""
    for name, f in fits.items():
        if not f.fitted:
            print(f"WARNING {what} {name}: {f.status}")


def ece(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    known = y >= 0
    y, p = y[known], p[known]
    if len(y) == 0:
        return float("nan")
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(p, edges) - 1, 0, bins - 1)
    return float(sum(abs(y[idx == b].mean() - p[idx == b].mean()) * (idx == b).mean() for b in range(bins) if (idx == b).any()))


def youden_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """CT thresholds are validation scores themselves, the lowest reaching the best J (training.thresholds)."""
    return _youden(y, p, at="score")


def series_label(labels: np.ndarray) -> np.ndarray:
    """Per label 1 when any slice has it, 0 when every slice is known without it, -1 otherwise."""
    return np.where((labels >= 0).all(axis=0), labels.max(axis=0), np.where(labels.max(axis=0) > 0, 1, -1))


def youden_series_thresholds(y_ser: np.ndarray, p_ser: np.ndarray, ceiling: float = 1.0) -> dict[str, float]:
    """Series threshold per label: Youden over validation series, never below 0.5 and never above `ceiling`.

    Why a ceiling (stop 24): on separable validation series the Youden cut is the lowest positive's score, and with
    only phantom positives (no real validation series has intraventricular or subarachnoid blood) that landed at 0.998
    for SC's intraventricular label, which then missed CT-ICH's one intraventricular test patient. 1.0 changes nothing."""
    if not 0.5 <= ceiling <= 1.0:
        raise ValueError(f"ceiling must lie in [0.5, 1], not {ceiling}")
    return {lab: min(ceiling, max(0.5, youden_threshold(y_ser[:, j], p_ser[:, j]))) for j, lab in enumerate(ICH_LABELS)}


class HeadView(nn.Module):
    """The trunk with a subset of the head's rows, divided by their temperatures (what one ONNX file computes)."""

    @staticmethod
    def make(net: ResNet2D, rows: slice, temps: np.ndarray, bias: np.ndarray) -> ResNet2D:
        """logit' = logit / T + bias, exactly, by rescaling the head (Grad-CAM maps scale by 1/T > 0)."""
        sub = copy.deepcopy(net)
        w = net.head.weight.data[rows] / torch.tensor(temps, dtype=torch.float32)[:, None]
        b = net.head.bias.data[rows] / torch.tensor(temps, dtype=torch.float32) + torch.tensor(bias, dtype=torch.float32)
        sub.head = nn.Linear(w.shape[1], w.shape[0])
        sub.head.weight.data.copy_(w)
        sub.head.bias.data.copy_(b)
        return sub


class OODExport(nn.Module):
    """Embedding -> distance to the training embeddings (PCA Mahalanobis + residual), divided by the
    threshold calibrated on real validation slices: > 1 means outside what the model was trained on."""

    def __init__(self, mean: np.ndarray, comps: np.ndarray, var: np.ndarray, res_var: float, scale: float) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("comps", torch.tensor(comps, dtype=torch.float32))
        self.register_buffer("inv_var", torch.tensor(1.0 / var, dtype=torch.float32))
        self.res_var = float(res_var)
        self.k = comps.shape[0]
        self.scale = float(scale)

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        c = embedding - self.mean
        z = c @ self.comps.T
        resid = (c * c).sum(dim=1) - (z * z).sum(dim=1)
        d2 = (z * z * self.inv_var).sum(dim=1) + torch.clamp(resid, min=0.0) / self.res_var
        return torch.sqrt(d2 / (self.k + 1)) / self.scale


def fit_ood(train_emb: np.ndarray, val_emb: np.ndarray, k: int = 48) -> OODExport:
    mean = train_emb.mean(axis=0)
    c = train_emb - mean
    _, s, vt = np.linalg.svd(c, full_matrices=False)
    comps = vt[:k]
    var = (s[:k] ** 2) / (len(c) - 1) + 1e-6
    z = c @ comps.T
    res_var = float(np.mean(np.clip((c * c).sum(1) - (z * z).sum(1), 0, None))) + 1e-6
    raw = OODExport(mean, comps, var, res_var, 1.0)
    with torch.no_grad():
        d_val = raw(torch.from_numpy(val_emb.astype(np.float32))).numpy()
    scale = float(np.quantile(d_val, OOD_QUANTILE))
    return OODExport(mean, comps, var, res_var, scale)


class OODWithOrientation(nn.Module):
    """The OOD distance plus P(turned): a logistic regression on the embedding that tells an upright slice
    (anterior up, as trained) from one turned by 90, 180 or 270 degrees.

    Why: training rotates slices by at most 18 degrees, yet a head turned 90 degrees sits as close to the
    training embeddings as an upright one (the distance alone did not separate it); a direction in the same
    embedding does."""

    def __init__(self, ood: OODExport, mean: np.ndarray, std: np.ndarray, w: np.ndarray, b: float) -> None:
        super().__init__()
        self.ood = ood
        self.register_buffer("t_mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("t_w", torch.tensor(w / std, dtype=torch.float32))  # standardisation folded into the weights
        self.t_b = float(b)

    def forward(self, embedding: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.ood(embedding), torch.sigmoid((embedding - self.t_mean) @ self.t_w + self.t_b)


def turned_views(img: np.ndarray) -> np.ndarray:
    """Each uint8 slice [n, h, w] turned by 90, 180 and 270 degrees: [3n, h, w] (k-major)."""
    return np.concatenate([np.rot90(img, k=k, axes=(1, 2)) for k in (1, 2, 3)]).copy()


def fit_orientation(up: np.ndarray, turned: np.ndarray, c: float = 0.1) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(mean, std, w, b) of a balanced L2 logistic regression, turned = 1, on standardised embeddings."""
    from sklearn.linear_model import LogisticRegression

    x = np.concatenate([up, turned]).astype(np.float64)
    y = np.r_[np.zeros(len(up)), np.ones(len(turned))]
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    lr = LogisticRegression(C=c, class_weight="balanced", max_iter=2000).fit((x - mean) / std, y)
    return mean, std, lr.coef_[0], float(lr.intercept_[0])


def export_ood(module: nn.Module, path: Path, emb_dim: int) -> None:
    module.eval()
    outputs = ["ood_score", "turned_prob"] if isinstance(module, OODWithOrientation) else ["ood_score"]
    torch.onnx.export(module, (torch.zeros(2, emb_dim),), str(path), input_names=["embedding"], output_names=outputs,
                      dynamic_axes={"embedding": {0: "n"}, **{o: {0: "n"} for o in outputs}}, opset_version=17, dynamo=False)


ORIENTATION_TRAIN_SLICES = 1500
ORIENTATION_VAL_SLICES = 300
ORIENTATION_UPRIGHT_KEPT = 0.98  # reported: the slice threshold that keeps this share of upright real validation slices
#: the verdict is per series/stack (core.tasks.ct.with_orientation): median P(turned) of its slices with tissue. 0.75 was set
#: on validation series and the five demo series with 0.5.0 (upright medians <= 0.54, turned by 90/270 >= 0.90)
ORIENTATION_SERIES_THRESHOLD = 0.75


def fit_orientation_guard(net: nn.Module, tr: list[SliceSeries], va_real: list[SliceSeries], res: dict, seed: int) -> dict:
    """Fit the upright/turned regression on training slices with a head (tissue on >= 10% of the image) and
    measure it on real validation patients; returns its figures and, under "params", what OODWithOrientation takes."""
    rng = np.random.default_rng(seed + 11)

    def pick(series: list[SliceSeries], n: int) -> tuple[np.ndarray, np.ndarray]:
        cand = [(s, z) for s in series for z in range(len(s.img)) if (s.img[z] > 10).mean() >= 0.10]
        if not cand:
            raise ValueError(f"orientation guard: none of {sum(len(s.img) for s in series)} slices of {len(series)} series "
                             "has tissue on >= 10% of the image (nothing to fit or measure it on)")
        idx = rng.choice(len(cand), size=min(n, len(cand)), replace=False)
        img = np.stack([cand[i][0].img[cand[i][1]] for i in idx])
        emb = np.stack([res[cand[i][0].key][1][cand[i][1]] for i in idx])
        return img, emb

    tr_img, tr_up = pick(tr, ORIENTATION_TRAIN_SLICES)
    va_img, va_up = pick(va_real, ORIENTATION_VAL_SLICES)
    tr_turned = forward_all(net, turned_views(tr_img))[1]
    va_turned = forward_all(net, turned_views(va_img))[1]
    mean, std, w, b = fit_orientation(tr_up, tr_turned)
    p = lambda e: 1 / (1 + np.exp(-(((e - mean) / std) @ w + b)))  # noqa: E731
    p_up, p_turned = p(va_up), p(va_turned)
    from core.study.stats import auc_delong

    auc = auc_delong(np.r_[np.zeros(len(p_up)), np.ones(len(p_turned))].astype(int), np.r_[p_up, p_turned]).auc
    n = len(va_img)
    t_slice = max(0.5, float(np.quantile(p_up, ORIENTATION_UPRIGHT_KEPT)))
    at = lambda t: {"upright_called_turned": float(np.mean(p_up > t)),  # noqa: E731
                    **{f"turned_{k * 90}_found": float(np.mean(p_turned[(k - 1) * n:k * n] > t)) for k in (1, 2, 3)}}
    figures = {"fitted_on": f"{len(tr_img)} training slices upright and turned 90/180/270 degrees",
               "validation": f"{n} real validation slices (CT-ICH, PHE-SICH) with tissue on >= 10%, upright and turned",
               "validation_auc": float(auc), "at_0.5": at(0.5), "slice_threshold": t_slice, "at_slice_threshold": at(t_slice),
               "params": (mean, std, w, b)}
    print("orientation guard on real validation:", {k: v for k, v in figures.items() if k != "params"})
    return figures


def series_loss(slice_logits: torch.Tensor, series_logits: torch.Tensor, y: np.ndarray, w: torch.Tensor) -> torch.Tensor:
    """Weighted BCE on the known slice labels plus on the known series labels. A series label is unknown where no
    slice is positive and some slice is unknown (series_label, as validation reads it): before stop 22 training read
    such a label as a known negative."""
    yt = torch.from_numpy(y.astype(np.float32))
    known = (yt >= 0).float()
    loss = (nn.functional.binary_cross_entropy_with_logits(slice_logits, yt.clamp(min=0), reduction="none") * known * w).sum() / known.sum().clamp(min=1)
    ys = torch.from_numpy(series_label(y).astype(np.float32))
    ks = (ys >= 0).float()
    return loss + (nn.functional.binary_cross_entropy_with_logits(series_logits, ys.clamp(min=0), reduction="none") * ks * w).sum() / ks.sum().clamp(min=1)


def train_lstm(lstm: SeriesBiLSTM, data: list, epochs: int, seed: int) -> None:
    """data: per series (emb, probs, y), or a list of such readings of one series (training.series_jitter), one of
    which, drawn per epoch, is trained on; a plain tuple draws nothing, so seeds repeat earlier runs exactly."""
    rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(lstm.parameters(), lr=1e-3)
    w = torch.tensor(ICH_WEIGHTS / ICH_WEIGHTS.sum() * 6, dtype=torch.float32)
    for _ in tqdm(range(epochs), desc="BiLSTM", unit="epoch"):
        lstm.train()
        for i in rng.permutation(len(data)):
            item = data[i]
            emb, probs, y = item[rng.integers(len(item))] if isinstance(item, list) else item
            slice_logits, series_logits = lstm(torch.from_numpy(emb)[None], torch.from_numpy(probs)[None])
            loss = series_loss(slice_logits[0], series_logits[0], y, w)
            opt.zero_grad()
            loss.backward()
            opt.step()


def series_pca(emb_tr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, top components) of the training embeddings: the BiLSTM's fixed input projection."""
    mean = emb_tr.mean(axis=0)
    n_comp = min(120, emb_tr.shape[1])
    _, _, vt = np.linalg.svd(emb_tr - mean, full_matrices=False)
    return mean, vt[:n_comp]


def new_series_model(pca: tuple[np.ndarray, np.ndarray]) -> SeriesBiLSTM:
    mean, comps = pca
    lstm = SeriesBiLSTM(len(mean), len(comps))
    lstm.set_pca(torch.from_numpy(mean.astype(np.float32)), torch.from_numpy(comps.astype(np.float32)))
    return lstm


def fit_and_fold_platt(models: list[SeriesBiLSTM], slice_logits_val: np.ndarray, y_val: np.ndarray, is_real: np.ndarray,
                       real_labels: set[str]) -> list[CalibrationFit]:
    """Platt per label on the validation slices' BiLSTM logits (real validation slices for `real_labels`, all
    otherwise), folded into each model's head: a*l + b on every member is exact for their average (SeriesEnsemble)."""
    platt = [fit_platt(slice_logits_val[is_real, j], y_val[is_real, j]) if lab in real_labels else fit_platt(slice_logits_val[:, j], y_val[:, j])
             for j, lab in enumerate(ICH_LABELS)]
    report_unfitted("BiLSTM Platt", dict(zip(ICH_LABELS, platt)))
    with torch.no_grad():
        a_t = torch.tensor([f.params[0] for f in platt], dtype=torch.float32)
        b_t = torch.tensor([f.params[1] for f in platt], dtype=torch.float32)
        for m in models:
            m.head.weight.data *= a_t[:, None]
            m.head.bias.data = m.head.bias.data * a_t + b_t
    return platt


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def post_training(net: ResNet2D | list[ResNet2D], series: list[SliceSeries], splits: dict[str, str], args) -> dict:
    """Calibration, thresholds, BiLSTM and OOD guard on the trunk (or the averaged trunks) as exported, then export and cards."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    nets = net if isinstance(net, list) else [net]
    use = [s for s in series if splits[s.patient] in ("train", "val")]
    tta = getattr(args, "tta", "none")
    member_paths = [Path(args.checkpoints) / "ct_trunk.pt"] + [Path(m) for m in (getattr(args, "members", None) or [])]
    # per member (each cached on its own), then combined as Ensemble does: logits averaged, embeddings concatenated
    per = [cnn_outputs_cached(reader(n, tta), use, path, Path(args.cache), tta) for n, path in zip(nets, member_paths)]
    res = {s.key: (sum(r[s.key][0] for r in per) / len(per), np.concatenate([r[s.key][1] for r in per], axis=1)) for s in use}
    tr = [s for s in use if splits[s.patient] == "train"]
    va = [s for s in use if splits[s.patient] == "val"]
    va_real = [s for s in va if s.source in ("ct-ich", "phe-sich")]

    # temperatures (per ICH label, and one for the BG softmax) on real validation patients; a label with
    # fewer than MIN_REAL_POSITIVES real validation slices falls back to all validation series (phantoms too)
    lv = np.concatenate([res[s.key][0] for s in va])
    yv = np.concatenate([s.labels for s in va])
    bgv = np.concatenate([s.bg for s in va]).astype(int)
    lvr0 = np.concatenate([res[s.key][0] for s in va_real])
    yvr0 = np.concatenate([s.labels for s in va_real])
    calib_source = {lab: "real validation patients" if (yvr0[:, j] > 0).sum() >= MIN_REAL_POSITIVES else "all validation series (too few real positives)"
                    for j, lab in enumerate(ICH_LABELS)}
    platt = [fit_platt(lvr0[:, j], yvr0[:, j]) if calib_source[lab].startswith("real") else fit_platt(lv[:, j], yv[:, j])
             for j, lab in enumerate(ICH_LABELS)]
    scale = np.array([f.params[0] for f in platt])
    shift = np.array([f.params[1] for f in platt])
    cal = lambda lo: lo[:, :N_ICH] * scale + shift  # noqa: E731
    bg_fit = fit_temperature_softmax(lv[:, N_ICH:], bgv)
    t_bg = bg_fit.params[0]
    report_unfitted("CNN Platt", dict(zip(ICH_LABELS, platt)))
    report_unfitted("BG softmax", {"temperature": bg_fit})
    calib = {lab: {"scale": float(scale[j]), "bias": float(shift[j]), "temperature": float(1 / scale[j]), "fitted_on": calib_source[lab],
                   "status": platt[j].status,
                   "ece_real_val_before": ece(yvr0[:, j], sigmoid(lvr0[:, j])), "ece_real_val_after": ece(yvr0[:, j], sigmoid(cal(lvr0)[:, j]))}
             for j, lab in enumerate(ICH_LABELS)}
    print("logistic calibration", {lab: (round(a, 2), round(b, 2)) for lab, a, b in zip(ICH_LABELS, scale, shift)}, "BG T", round(t_bg, 2))
    print("ECE real val before/after", {lab: (round(c["ece_real_val_before"], 3), round(c["ece_real_val_after"], 3)) for lab, c in calib.items()})
    # slice threshold for "any" by Youden J on real validation patients; subtypes at calibrated 0.5
    lvr = np.concatenate([res[s.key][0] for s in va_real])
    yvr = np.concatenate([s.labels for s in va_real])
    thr_any = youden_threshold(yvr[:, 0], sigmoid(cal(lvr)[:, 0]))
    slice_thresholds = {lab: (thr_any if lab == "any" else 0.5) for lab in ICH_LABELS}

    # BiLSTM on calibrated CNN probabilities of ordered train series
    emb_tr = np.concatenate([res[s.key][1] for s in tr])
    pca = series_pca(emb_tr)
    n_comp = len(pca[1])
    lstm = new_series_model(pca)

    def seq(s):
        lo, em = res[s.key]
        return em.astype(np.float32), sigmoid(cal(lo)).astype(np.float32), s.labels

    train_lstm(lstm, [seq(s) for s in tr], args.lstm_epochs if hasattr(args, "lstm_epochs") else 20, args.seed)
    lstm.eval()
    with torch.no_grad():
        sl_val = [lstm(torch.from_numpy(seq(s)[0])[None], torch.from_numpy(seq(s)[1])[None])[0][0].numpy() for s in va]
    sl_val_all = np.concatenate(sl_val)
    is_real = np.concatenate([[s.source in ("ct-ich", "phe-sich")] * len(s.img) for s in va])
    lstm_platt = fit_and_fold_platt([lstm], sl_val_all, yv, is_real, {lab for lab, src in calib_source.items() if src.startswith("real")})
    # series thresholds: Youden over validation series (real + phantom) on the calibrated series output
    with torch.no_grad():
        ser_val = np.stack([torch.sigmoid(lstm(torch.from_numpy(seq(s)[0])[None], torch.from_numpy(seq(s)[1])[None])[1][0]).numpy() for s in va])
    series_thresholds = youden_series_thresholds(np.stack([series_label(s.labels) for s in va]), ser_val)

    # out-of-distribution guard: fitted on train embeddings, scaled on real validation slices
    emb_val_real = np.concatenate([res[s.key][1] for s in va_real])
    ood = fit_ood(emb_tr, emb_val_real)
    with torch.no_grad():
        ood_val = ood(torch.from_numpy(emb_val_real.astype(np.float32))).numpy()
        ood_series = [float(np.median(ood(torch.from_numpy(res[s.key][1].astype(np.float32))).numpy())) for s in va]
    print(f"OOD: validation slices above 1: {np.mean(ood_val > 1):.3f}; validation series medians max {max(ood_series):.2f}")
    orientation = fit_orientation_guard(reader(nets, tta), tr, va_real, res, args.seed)
    ood_model = OODWithOrientation(ood, *orientation.pop("params"))

    # BG threshold on P(hemorrhage) = 1 - P(none), series max, Youden on validation series
    def bg_probs(lo):
        z = lo[:, N_ICH:] / t_bg
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    bg_ser = np.array([float((1 - bg_probs(res[s.key][0])[:, 0]).max()) for s in va])
    bg_truth = np.array([1 if (s.bg >= 1).any() else (0 if (s.bg == 0).all() else -1) for s in va])
    thr_bg = max(0.5, youden_threshold(bg_truth, bg_ser))

    # export
    emb_dim = emb_tr.shape[1]
    # the calibration a*mean(l_m) + c = mean(a*l_m + c) is applied to every member's head: exact for the average
    ich_nets = [HeadView.make(n, slice(0, N_ICH), 1 / scale, shift) for n in nets]
    bg_nets = [HeadView.make(n, slice(N_ICH, N_ICH + 3), np.full(3, t_bg), np.zeros(3)) for n in nets]
    if tta == "flip" or len(nets) > 1:
        export_cnn(FlipTTAExport(reader(ich_nets, tta, list(range(N_ICH))), "sigmoid"), out / "ich_cnn.onnx", MODEL_SIZE)
        export_cnn(FlipTTAExport(reader(bg_nets, tta, [0, 2, 1]), "softmax"), out / "bg_laterality.onnx", MODEL_SIZE)
    else:
        export_cnn(CamExport(ich_nets[0], "sigmoid"), out / "ich_cnn.onnx", MODEL_SIZE)
        export_cnn(CamExport(bg_nets[0], "softmax"), out / "bg_laterality.onnx", MODEL_SIZE)
    export_series(SeriesExport(lstm), out / "ich_bilstm.onnx", emb_dim)
    export_ood(ood_model, out / "ich_ood.onnx", emb_dim)
    ckpt = Path(args.checkpoints)

    def export_ckpt(members: list[ResNet2D], perm: list[int]) -> dict:
        c = {"state_dict": members[0].state_dict(), "arch": "resnet18", "width": 32, "tta": tta, "mirror_perm": perm}
        if len(members) > 1:
            c["members"] = [m.state_dict() for m in members]
        return c

    torch.save(export_ckpt(ich_nets, list(range(N_ICH))), ckpt / "ich_cnn.pt")
    torch.save(export_ckpt(bg_nets, [0, 2, 1]), ckpt / "bg_laterality.pt")
    torch.save({"state_dict": lstm.state_dict(), "emb_dim": emb_dim, "n_comp": n_comp}, ckpt / "ich_bilstm.pt")

    count = lambda src, split: sum(1 for s in series if s.source == src and splits[s.patient] == split)
    training_data = {
        "what": "real head CT slices (CT-ICH, PHE-SICH-CT-IDS), one real GE head CT, lesions inserted into real slices, phantoms",
        "generated": False, "real": True, "sources": SOURCES,
        "real_patients": {src: {"train": count(src, "train"), "val": count(src, "val"), "test": count(src, "test")} for src in ("ct-ich", "phe-sich")},
        "phantom_series": {"train": count("phantom", "train"), "val": count("phantom", "val")},
        "split": "by patient (training/ct_data/splits.json); test patients never used for any choice",
        "input_form": "8-bit brain-window (40/80) export at 256x256; DICOM series are reduced to it (core.imaging.pseudo_hu)",
    }
    input_spec = {"name": "image", "shape": ["n", 3, MODEL_SIZE, MODEL_SIZE], "dtype": "float32", "windows": list(ICH_WINDOWS),
                  "source_window": "brain 80/40 (8-bit export; full HU is reduced to it)",
                  "orientation": "radiological (anterior up, patient left on image right)",
                  "normalization": "pseudo-HU windowed to [0,1] per channel, then ImageNet mean/std"}
    cnn_outputs = {"probs": "calibrated sigmoid per label [n, 6]", "embedding": "GAP features [n, F]",
                   "cam": "Grad-CAM per label [n, 6, h, w] (closed form)", "features": "last feature maps [n, F, h, w]"}
    ensemble = (f"{len(nets)} snapshots of the trunk, their logits averaged (training.nets.resnet.Ensemble; embedding = the "
                f"members' concatenated): {getattr(args, 'members_note', '') or ', '.join(str(p) for p in member_paths[:len(nets)])}") if len(nets) > 1 else "none"
    extra = {"architecture": "resnet18 width 32, shared trunk with bg_laterality", "ensemble": ensemble,
             "test_time_augmentation": ("flip: every slice is read as given and mirrored left-right and the two readings averaged "
                                        "(inside the ONNX graph; the BG head swaps left and right for the mirrored reading)") if tta == "flip" else "none", "training_schedule": args.schedule or f"{args.epochs} epochs", "loc_weight": args.loc_weight,
             "limitations": ["validated on few real patients per subtype (see metrics.real_test)",
                             "sees only the brain window: thin subdurals against bone are harder than in a subdural window",
                             "PHE-SICH-derived weights: non-commercial research use only"]}
    common = dict(version=args.version, seed=args.seed, training_data=training_data, intended_use=NOT_CLINICAL_REAL)
    write_card(out / "ich_cnn.onnx", name="ich_cnn", task="ich_slice", labels=list(ICH_LABELS), input=input_spec, outputs=cnn_outputs,
               thresholds=slice_thresholds, metrics={}, extra={**extra, "calibration": {"method": "logistic (Platt) per label: sigmoid(a*logit + b), fitted on real validation patients", **calib}}, **common)
    write_card(out / "bg_laterality.onnx", name="bg_laterality", task="bg_laterality", labels=list(BG_CLASSES), input=input_spec,
               outputs={**cnn_outputs, "probs": "calibrated softmax none/left/right [n, 3]"}, thresholds={"hemorrhage": thr_bg}, metrics={},
               extra={**extra, "calibration": {"method": "one softmax temperature on validation patients", "temperature": t_bg, "status": bg_fit.status},
                      "laterality_training": "side labels from generated data only (phantoms, inserted hematomas); unvalidated on real data"}, **common)
    write_card(out / "ich_bilstm.onnx", name="ich_bilstm", task="ich_series", labels=list(ICH_LABELS),
               input={"embedding": ["1", "s", emb_dim], "cnn_probs": ["1", "s", 6], "pca_components": n_comp},
               outputs={"slice_probs": "calibrated per-slice probabilities [1, s, 6]", "series_probs": "per-series probabilities [1, 6] (max over slices)"},
               thresholds=series_thresholds, metrics={}, extra={"requires": "ich_cnn", "calibration": {"method": "logistic (Platt) per label on validation slices", "scale_bias": dict(zip(ICH_LABELS, [[round(f.params[0], 4), round(f.params[1], 4)] for f in lstm_platt])),
                                                                            "status": dict(zip(ICH_LABELS, [f.status for f in lstm_platt]))}}, **common)
    write_card(out / "ich_ood.onnx", name="ich_ood", task="ood_ct", labels=["ood_score"],
               input={"embedding": ["n", emb_dim], "from": "ich_cnn embedding"},
               outputs={"ood_score": "distance to the training embeddings / the 99th percentile of real validation slices (> 1: outside)",
                        "turned_prob": "P(the slice is turned by 90, 180 or 270 degrees; the models read anterior up)"},
               thresholds={"slice": 1.0, "series_median": 1.0, "turned": ORIENTATION_SERIES_THRESHOLD},
               metrics={"validation_slices_above_threshold": float(np.mean(ood_val > 1)),
                        "validation_slices_above_threshold_note": "about 1 % by construction: 1.0 is the 99th percentile of these "
                                                                  "same slices' distances (the real_test block is the held-out figure)",
                        "validation_series_median_max": max(ood_series),
                        "orientation": orientation},
               extra={"method": "PCA (48 components) Mahalanobis distance plus residual, fitted on training-slice embeddings; "
                                "orientation: L2 logistic regression (C 0.1, balanced) on the standardised embedding, upright training "
                                "slices against the same slices turned by 90/180/270 degrees", "requires": "ich_cnn"}, **common)
    summary = {"platt": [f.params for f in platt], "t_bg": t_bg, "slice_thresholds": slice_thresholds, "series_thresholds": series_thresholds,
               "bg_threshold": thr_bg, "ood_val_above": float(np.mean(ood_val > 1))}
    print(json.dumps(summary, indent=1))
    return summary
