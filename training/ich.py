"""Train the ICH models of seed 002 on an RSNA-format folder and export them to ONNX with cards.

    python -m training.ich --data DIR --out resources/models [--epochs 3] [--width 32] [--arch resnet18]

Stage 1: a 2-D ResNet on the brain/subdural/soft-tissue image outputs 6 labels per slice, trained
with the competition's weighted multi-label log loss (any weighted 2). Stage 2: PCA (120
components) of the CNN embeddings plus the CNN probabilities feed a bidirectional LSTM over the
series. Held-out series (never slices) give the card's metrics, CNN alone vs CNN + BiLSTM.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from core.models.preprocess import ICH_WINDOWS, MODEL_SIZE, ich_input
from training.datasets.rsna import ICH_LABELS, Series, load_rsna, split_by_series
from training.ct_post import train_lstm  # masked loss; identical on fully labelled series
from training.export import export_cnn, export_series, write_card
from training.metrics import ICH_WEIGHTS, label_table, weighted_log_loss
from training.nets.lstm import SeriesBiLSTM, SeriesExport
from training.nets.resnet import CamExport, ResNet2D


def augment(x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Horizontal flips (ICH labels are side-free) and small shifts."""
    flip = torch.from_numpy(rng.random(x.shape[0]) < 0.5)
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    dy, dx = (int(v) for v in rng.integers(-10, 11, 2))
    return torch.roll(x, shifts=(dy, dx), dims=(2, 3))


def train_cnn(net: nn.Module, hu: np.ndarray, y: np.ndarray, epochs: int, seed: int, lr: float = 1e-3,
              batch: int = 32, neg_ratio: float = 1.0, loss_weights: np.ndarray = ICH_WEIGHTS) -> None:
    rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    w = torch.tensor(loss_weights / loss_weights.sum() * len(loss_weights), dtype=torch.float32)
    pos = np.nonzero(y[:, 0] > 0)[0]
    neg = np.nonzero(y[:, 0] == 0)[0]
    for epoch in range(epochs):
        if epoch == epochs - 1 and epochs > 1:
            for g in opt.param_groups:
                g["lr"] = lr / 10  # seed 002: a lower rate for the last epoch
        take = rng.choice(neg, size=min(len(neg), int(len(pos) * neg_ratio) + 32), replace=False)
        order = rng.permutation(np.concatenate([pos, take]))
        net.train()
        bar = tqdm(range(0, len(order), batch), desc=f"CNN epoch {epoch + 1}/{epochs}", unit="batch")
        for i in bar:
            idx = order[i:i + batch]
            x = augment(torch.from_numpy(ich_input(hu[idx].astype(np.float32))), rng)
            logits, _, _ = net(x)
            loss = (nn.functional.binary_cross_entropy_with_logits(logits, torch.from_numpy(y[idx].astype(np.float32)), reduction="none") * w).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            bar.set_postfix(loss=f"{loss.item():.3f}")


@torch.no_grad()
def cnn_outputs(net: ResNet2D, hu: np.ndarray, batch: int = 64) -> tuple[np.ndarray, np.ndarray]:
    net.eval()
    probs, embs = [], []
    for i in range(0, len(hu), batch):
        logits, _, emb = net(torch.from_numpy(ich_input(hu[i:i + batch].astype(np.float32))))
        probs.append(torch.sigmoid(logits).numpy())
        embs.append(emb.numpy())
    return np.concatenate(probs), np.concatenate(embs)


def stack(series: list[Series]) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate([s.hu for s in series]), np.concatenate([s.labels for s in series])


def table3(y_slice, p_cnn, p_lstm, y_series, s_cnn, s_lstm) -> dict:
    return {
        "slice": {"cnn": label_table(y_slice, p_cnn, ICH_LABELS), "cnn_bilstm": label_table(y_slice, p_lstm, ICH_LABELS)},
        "series": {"cnn": label_table(y_series, s_cnn, ICH_LABELS), "cnn_bilstm": label_table(y_series, s_lstm, ICH_LABELS)},
        "weighted_log_loss_slice": {"cnn": weighted_log_loss(y_slice, p_cnn), "cnn_bilstm": weighted_log_loss(y_slice, p_lstm)},
    }


def print_table3(m: dict) -> None:
    print(f"\n{'label':<18}{'level':<8}{'AUC cnn':>9}{'AUC +LSTM':>11}{'Se cnn':>8}{'Se +LSTM':>10}{'Sp cnn':>8}{'Sp +LSTM':>10}")
    for level in ("slice", "series"):
        for lab in ICH_LABELS:
            a, b = m[level]["cnn"][lab], m[level]["cnn_bilstm"][lab]
            f = lambda v: "  n/a" if v is None else f"{v:.3f}"
            print(f"{lab:<18}{level:<8}{f(a['auc']):>9}{f(b['auc']):>11}{f(a.get('sensitivity')):>8}{f(b.get('sensitivity')):>10}"
                  f"{f(a.get('specificity')):>8}{f(b.get('specificity')):>10}")
    print(f"weighted log loss (slice): CNN {m['weighted_log_loss_slice']['cnn']:.4f}, CNN+BiLSTM {m['weighted_log_loss_slice']['cnn_bilstm']:.4f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="RSNA-format folder (stage_2_train/ + stage_2_train.csv)")
    parser.add_argument("--out", default="resources/models")
    parser.add_argument("--cache", default=None, help="folder for preprocessed series (.npz)")
    parser.add_argument("--arch", default="resnet18", choices=["resnet18", "resnet34"])
    parser.add_argument("--width", type=int, default=32, help="stem width (64 = the standard ResNet)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lstm-epochs", type=int, default=25)
    parser.add_argument("--components", type=int, default=120)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None, help="use only the first N series (smoke runs)")
    parser.add_argument("--version", default="0.1.0")
    parser.add_argument("--checkpoints", default="checkpoints", help="folder for the torch weights (benchmarks compare them with ONNX)")
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()

    series = load_rsna(args.data, args.cache, args.limit)
    train, test = split_by_series(series)
    print(f"{len(series)} series: {len(train)} train, {len(test)} held out (split by series)")
    hu_tr, y_tr = stack(train)
    net = ResNet2D(len(ICH_LABELS), arch=args.arch, width=args.width)
    train_cnn(net, hu_tr, y_tr, args.epochs, args.seed)

    # stage 2
    outs_tr = [cnn_outputs(net, s.hu) for s in train]
    outs_te = [cnn_outputs(net, s.hu) for s in test]
    emb_all = np.concatenate([e for _, e in outs_tr])
    mean = emb_all.mean(axis=0)
    n_comp = min(args.components, emb_all.shape[1])
    _, _, vt = np.linalg.svd(emb_all - mean, full_matrices=False)
    lstm = SeriesBiLSTM(emb_all.shape[1], n_comp)
    lstm.set_pca(torch.from_numpy(mean.astype(np.float32)), torch.from_numpy(vt[:n_comp].astype(np.float32)))
    train_lstm(lstm, [(e, p, s.labels) for (p, e), s in zip(outs_tr, train)], args.lstm_epochs, args.seed)

    lstm.eval()
    with torch.no_grad():
        lstm_te = [SeriesExport(lstm)(torch.from_numpy(e)[None], torch.from_numpy(p)[None]) for p, e in outs_te]
    y_slice = np.concatenate([s.labels for s in test])
    p_cnn = np.concatenate([p for p, _ in outs_te])
    p_lstm = np.concatenate([sp[0].numpy() for sp, _ in lstm_te])
    y_series = np.stack([s.labels.max(axis=0) for s in test])
    s_cnn = np.stack([p.max(axis=0) for p, _ in outs_te])
    s_lstm = np.stack([ser[0].numpy() for _, ser in lstm_te])
    metrics = table3(y_slice, p_cnn, p_lstm, y_series, s_cnn, s_lstm)
    print_table3(metrics)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = Path(args.checkpoints)
    ckpt.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": net.state_dict(), "arch": args.arch, "width": args.width}, ckpt / "ich_cnn.pt")
    torch.save({"state_dict": lstm.state_dict(), "emb_dim": emb_all.shape[1], "n_comp": n_comp}, ckpt / "ich_bilstm.pt")
    export_cnn(CamExport(net, "sigmoid"), out / "ich_cnn.onnx", MODEL_SIZE)
    export_series(SeriesExport(lstm), out / "ich_bilstm.onnx", emb_all.shape[1])
    n_slices_tr, n_slices_te = int(len(hu_tr)), int(len(y_slice))
    training_data = {"what": "generated head CT phantoms (training.synth.ct), RSNA 2019 format", "generated": True, "real_patients": 0,
                     "series_train": len(train), "series_held_out": len(test), "slices_train": n_slices_tr, "slices_held_out": n_slices_te,
                     "split": "by series", "source_folder": str(args.data)}
    common = dict(version=args.version, labels=list(ICH_LABELS), training_data=training_data, seed=args.seed)
    write_card(out / "ich_cnn.onnx", name="ich_cnn", task="ich_slice",
               input={"name": "image", "shape": ["n", 3, MODEL_SIZE, MODEL_SIZE], "dtype": "float32", "windows": list(ICH_WINDOWS),
                      "orientation": "radiological (patient left on image right)", "normalization": "window to [0,1], then ImageNet mean/std per channel"},
               outputs={"probs": "sigmoid per label [n, 6]", "embedding": "GAP features [n, F]", "cam": "Grad-CAM per label [n, 6, h, w] (closed form)",
                        "features": "last feature maps [n, F, h, w]"},
               metrics={"held_out_slice": metrics["slice"]["cnn"], "held_out_series_max": metrics["series"]["cnn"],
                        "weighted_log_loss_slice": metrics["weighted_log_loss_slice"]["cnn"]},
               thresholds={lab: 0.5 for lab in ICH_LABELS}, extra={"architecture": f"{args.arch} width {args.width}", "epochs": args.epochs}, **common)
    write_card(out / "ich_bilstm.onnx", name="ich_bilstm", task="ich_series",
               input={"embedding": ["1", "s", emb_all.shape[1]], "cnn_probs": ["1", "s", 6], "pca_components": n_comp},
               outputs={"slice_probs": "per-slice probabilities [1, s, 6]", "series_probs": "per-series probabilities [1, 6] (max over slices)"},
               metrics={"held_out_slice": metrics["slice"]["cnn_bilstm"], "held_out_series": metrics["series"]["cnn_bilstm"],
                        "weighted_log_loss_slice": metrics["weighted_log_loss_slice"]["cnn_bilstm"], "table3": metrics},
               thresholds={lab: 0.5 for lab in ICH_LABELS}, extra={"requires": "ich_cnn", "lstm_epochs": args.lstm_epochs}, **common)
    print(f"exported to {out} in {(time.perf_counter() - t0) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
