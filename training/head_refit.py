"""Refit the ICH head rows of a CT ensemble on frozen features: a linear probe kept near the trained head.

    python -m training.head_refit --members T1.pt T2.pt T3.pt --out DIR [--views 10000] [--l2 0.01] [--labels ...]
        [--extra subdural_thin=1500 intraventricular=1000]

Why: the three snapshots' heads were each trained jointly with their trunk, in training (batch-statistics)
mode, on mixes where real epidurals outnumber real subdurals 3.5 to 1, and averaging them was never fitted.
The ensemble's logit for label c is exactly (1/M) sum_m (W_m,c . e_m) + mean_m b_m,c on the mirror-averaged
embeddings e_m (training.nets.resnet.FlipTTA, Ensemble), so one logistic regression on the concatenated
embedding is the ensemble's head: W_m,c = M * w_c[m-th block], b_m,c = b_c. It is fitted on the inference-mode
embeddings of training views (training patients only, the trainer's augmentation and unknown labels) with an
L2 pull towards the current head, so that what the trunk's heads learnt stays unless the data move it.
The BG rows and every trunk weight are untouched; the Grad-CAM of a refitted label changes with its weights.
Writes one ct_trunk.pt per member into --out (uncalibrated, for training.compare_val and ct_real --stage post).
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np
import torch

from training.datasets.rsna import ICH_LABELS

N_ICH = len(ICH_LABELS)


def joint_head(nets: list) -> tuple[np.ndarray, np.ndarray]:
    """The ensemble's ICH head on the concatenated embedding: (w [6, M*F], b [6])."""
    m = len(nets)
    w = np.concatenate([n.head.weight.detach().numpy()[:N_ICH] for n in nets], axis=1) / m
    b = np.mean([n.head.bias.detach().numpy()[:N_ICH] for n in nets], axis=0)
    return w, b


def split_head(nets: list, w: np.ndarray, b: np.ndarray) -> None:
    """Write a joint head back into the members' ICH rows (the inverse of joint_head)."""
    m, f = len(nets), nets[0].n_features
    with torch.no_grad():
        for i, n in enumerate(nets):
            n.head.weight[:N_ICH] = torch.from_numpy(m * w[:, i * f:(i + 1) * f]).float()
            n.head.bias[:N_ICH] = torch.from_numpy(b).float()


@torch.no_grad()
def training_views(nets: list, pools, mix: dict, n_views: int, seed: int, batch: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """(embedding [n, M*F], labels [n, 6] with -1 unknown) of augmented training views."""
    from training.ct_data.pools import epoch_samples

    rng = np.random.default_rng(seed)
    draws: list = []
    while len(draws) < n_views:
        draws += epoch_samples(pools, rng, mix)
    return embed_draws(nets, pools, draws[:n_views], rng, batch)


@torch.no_grad()
def extra_views(nets: list, pools, extra: dict[str, int], seed: int, batch: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """(embedding, labels) of inserts of the named kinds into training anatomy: what the epoch mixes hold too few of
    (thin subdurals; ventricular blood as an intraparenchymal negative)."""
    rng = np.random.default_rng(seed)
    draws = [("insert", kind) for kind, n in extra.items() for _ in range(n)]
    return embed_draws(nets, pools, [draws[i] for i in rng.permutation(len(draws))], rng, batch)


@torch.no_grad()
def embed_draws(nets: list, pools, draws: list, rng: np.random.Generator, batch: int = 32) -> tuple[np.ndarray, np.ndarray]:
    from training.ct_data.pools import draw
    from training.ct_post import reader
    from training.ct_real import batch_tensors

    net = reader(nets, "flip").eval()
    embs, ys = [], []
    for i in range(0, len(draws), batch):
        samples = [s for s in (draw(pools, d, rng) for d in draws[i:i + batch]) if s is not None]
        if not samples:
            continue
        x, y, _, _, _ = batch_tensors(samples, rng)
        _, _, emb = net(x)
        embs.append(emb.numpy())
        ys.append(y.numpy())
        if (i // batch) % 25 == 0:
            print(f"views {i + len(samples)}/{len(draws)}", flush=True)
    return np.concatenate(embs), np.concatenate(ys)


def trunk_key(nets: list, settings: str) -> str:
    """Cache key of the training views' embeddings: the trunks' weights without the heads (a refit changes only
    the heads, so a later refit of the refitted members reuses the same embeddings) and the draw settings."""
    h = hashlib.sha256(settings.encode())
    for n in nets:
        for k, v in n.state_dict().items():
            if not k.startswith("head."):
                h.update(k.encode())
                h.update(v.detach().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


@torch.no_grad()
def joint_head_gap(nets: list, w: np.ndarray, b: np.ndarray, n: int = 4, size: int = 128) -> float:
    """Largest difference between the ensemble's ICH logits and the joint head on its embedding, on random inputs:
    the identity is a property of the architecture, so any input checks it."""
    from training.ct_post import reader

    x = torch.from_numpy(np.random.default_rng(0).random((n, 3, size, size), dtype=np.float32))
    logits, _, emb = reader(nets, "flip").eval()(x)
    return float(np.abs(emb.numpy() @ w.T + b - logits.numpy()[:, :N_ICH]).max())


def fit_rows(emb: np.ndarray, y: np.ndarray, w0: np.ndarray, b0: np.ndarray, rows: list[int], l2: float,
             iters: int = 200) -> tuple[np.ndarray, np.ndarray, dict]:
    """Per row: mean BCE over known labels + l2 * ||w - w0||^2, by L-BFGS from w0. Returns (w, b, per-row loss before/after)."""
    x = torch.from_numpy(emb).float()
    w, b, log = w0.copy(), b0.copy(), {}
    for r in rows:
        known = y[:, r] >= 0
        xr, yr = x[known], torch.from_numpy(y[known, r]).float()
        w0r = torch.from_numpy(w0[r]).float()
        wr = w0r.clone().requires_grad_(True)
        br = torch.tensor(float(b0[r]), requires_grad=True)
        opt = torch.optim.LBFGS([wr, br], max_iter=iters, line_search_fn="strong_wolfe")

        def loss_fn():
            return torch.nn.functional.binary_cross_entropy_with_logits(xr @ wr + br, yr) + l2 * ((wr - w0r) ** 2).sum()

        with torch.no_grad():
            before = float(torch.nn.functional.binary_cross_entropy_with_logits(xr @ w0r + float(b0[r]), yr))

        def closure():
            opt.zero_grad()
            loss = loss_fn()
            loss.backward()
            return loss

        opt.step(closure)
        with torch.no_grad():
            after = float(torch.nn.functional.binary_cross_entropy_with_logits(xr @ wr + br, yr))
        w[r], b[r] = wr.detach().numpy(), float(br.detach())
        log[ICH_LABELS[r]] = {"n": int(known.sum()), "positives": int(yr.sum()), "bce_before": round(before, 4), "bce_after": round(after, 4),
                              "weight_change": _relative_change(w[r], w0[r])}
    return w, b, log


def _relative_change(new: np.ndarray, old: np.ndarray) -> float | None:
    """|new - old| / |old|; None for a row that started at zero (a relative change of nothing is not a number)."""
    base = float(np.linalg.norm(old))
    return round(float(np.linalg.norm(new - old)) / base, 4) if base > 0 else None


def parse_extra(items: list[str]) -> dict[str, int]:
    """["subdural_thin=1500", ...] -> {"subdural_thin": 1500}; unknown kinds are refused before any work."""
    from training.ct_data.insert import KINDS, LABEL_OF_KIND

    out: dict[str, int] = {}
    for item in items:
        kind, _, n = item.partition("=")
        if kind not in (*KINDS, *LABEL_OF_KIND) or not n.isdigit():
            raise SystemExit(f"--extra {item!r}: expected KIND=N with KIND one of {', '.join((*KINDS, *LABEL_OF_KIND))}")
        out[kind] = int(n)
    return out


def main(argv: list[str] | None = None) -> int:
    from training.ct_data.pools import EXTRA_AXIAL_MIX, Pools
    from training.ct_post import load_trunks
    from training.ct_real import load_all

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--members", nargs="+", required=True, metavar="CT_TRUNK_PT")
    ap.add_argument("--out", required=True, help="folder for the refitted ct_trunk*.pt")
    ap.add_argument("--shared", default="../shared/data")
    ap.add_argument("--cache", default="/tmp/nr_cache")
    ap.add_argument("--views", type=int, default=10000)
    ap.add_argument("--phantom", type=int, default=300, help="phantom slices per epoch of draws (EXTRA_AXIAL_MIX has 100)")
    ap.add_argument("--l2", type=float, default=0.01)
    ap.add_argument("--labels", nargs="+", default=list(ICH_LABELS), choices=list(ICH_LABELS))
    ap.add_argument("--seed", type=int, default=21)
    ap.add_argument("--extra", nargs="*", default=[], metavar="KIND=N",
                    help="extra insert views into training anatomy, e.g. subdural_thin=1500 intraventricular=1000")
    ap.add_argument("--extra-seed", type=int, default=22)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    paths = [Path(p) for p in args.members]
    nets = load_trunks(paths)
    key = trunk_key(nets, f"{args.views}_{args.phantom}_{args.seed}")
    cache = Path(args.cache) / f"head_refit_views_{key}.npz"
    extra = parse_extra(args.extra)
    pools = None

    def training_pools():
        nonlocal pools
        if pools is None:
            series, splits = load_all(Path(args.shared), Path(args.cache))
            pools = Pools.build([s for s in series if splits[s.patient] == "train"])
        return pools

    if cache.exists():
        z = np.load(cache)
        emb, y = z["emb"], z["y"]
        print(f"read {len(emb)} cached training views from {cache} (same trunks, views, phantoms and seed)")
    else:
        mix = {**EXTRA_AXIAL_MIX, "phantom": args.phantom}
        emb, y = training_views(nets, training_pools(), mix, args.views, args.seed)
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, emb=emb, y=y)
    if extra:
        ekey = trunk_key(nets, f"extra_{sorted(extra.items())}_{args.extra_seed}")
        ecache = Path(args.cache) / f"head_refit_extra_{ekey}.npz"
        if ecache.exists():
            z = np.load(ecache)
            e_emb, e_y = z["emb"], z["y"]
            print(f"read {len(e_emb)} cached extra views from {ecache}")
        else:
            e_emb, e_y = extra_views(nets, training_pools(), extra, args.extra_seed)
            np.savez(ecache, emb=e_emb, y=e_y)
        emb, y = np.concatenate([emb, e_emb]), np.concatenate([y, e_y])
    w0, b0 = joint_head(nets)
    gap = joint_head_gap(nets, w0, b0)
    if gap > 1e-3:
        raise SystemExit(f"the joint head does not reproduce the ensemble's logits (max gap {gap:.2e}): not a flip-TTA ensemble of ResNet2D")
    rows = [ICH_LABELS.index(lab) for lab in args.labels]
    w, b, log = fit_rows(emb, y, w0, b0, rows, args.l2)
    for lab, r in log.items():
        print(f"{lab:<17} n {r['n']} ({r['positives']} positive): BCE {r['bce_before']} -> {r['bce_after']}, |w - w0| / |w0| {r['weight_change']}")
    split_head(nets, w, b)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for i, (p, n) in enumerate(zip(paths, nets)):
        ck = torch.load(p, map_location="cpu")
        ck["state_dict"] = n.state_dict()
        ck["head_refit"] = {"labels": args.labels, "l2": args.l2, "views": int(len(emb)), "seed": args.seed, "fit": log,
                            "extra": extra, "extra_seed": args.extra_seed if extra else None}
        dest = out / ("ct_trunk.pt" if i == 0 else f"ct_trunk_member{i}.pt")
        torch.save(ck, dest)
        print(f"wrote {dest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
