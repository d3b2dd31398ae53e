"""How well a CT trunk fits its own training distribution: the check that found stop 16's underfitting.

    python -m training.fit_check CT_TRUNK_PT [CT_TRUNK_PT ...] [--n 64] [--shared ../shared/data]

For each kind of positive the trainer draws (real CT-ICH bleeding slices of training patients, and every inserted
subtype on training backgrounds), the AUC of the "any" logit against real bleed-free CT-ICH training slices, read
as inference reads them (no augmentation, eval mode). A trunk that cannot rank its own training positives has not
learnt the finding; a gap between these figures and the validation ones is overfitting instead.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from core.study.stats import auc_delong
from training.ct_data.insert import KINDS
from training.ct_data.pools import Pools, Sample

#: subdural_thin last, so that the other kinds' draws stay what they were before it was added (stop 19)
POSITIVES = ("real ct-ich", *KINDS, "subdural_thin")


def draw_fit_set(pools: Pools, rng: np.random.Generator, n: int) -> dict[str, list[Sample]]:
    """n samples per kind: real CT-ICH negatives, real CT-ICH positives (when the pools hold them), each insert."""
    def take(kind: str) -> list[Sample]:
        out: list[Sample] = []
        for _ in range(n * 20):
            if len(out) == n:
                break
            if kind in ("negative", "real ct-ich"):
                keys = pools.by_source.get(("neg" if kind == "negative" else "pos", "ct-ich"), [])
                if not keys:
                    return out
                s = pools.real(keys[int(rng.integers(len(keys)))])
            else:
                s = pools.inserted(rng, kind)
            if s is not None:
                out.append(s)
        return out
    sets = {kind: take(kind) for kind in ("negative", *POSITIVES)}
    if not sets["negative"]:  # no CT-ICH in the pools: every bleed-free background is a negative
        sets["negative"] = [pools.real(pools.background[int(rng.integers(len(pools.background)))]) for _ in range(n)]
    return sets


def fit_table(any_logit, sets: dict[str, list[Sample]]) -> dict[str, float | None]:
    """any_logit: uint8 [n, 256, 256] -> 'any' logits [n]. Returns AUC per positive kind (None when none drawn)."""
    neg = any_logit(np.stack([s.img for s in sets["negative"]]))
    out: dict[str, float | None] = {}
    for kind in POSITIVES:
        if not sets.get(kind):
            out[kind] = None
            continue
        pos = any_logit(np.stack([s.img for s in sets[kind]]))
        y = np.r_[np.zeros(len(neg)), np.ones(len(pos))].astype(int)
        out[kind] = float(auc_delong(y, np.r_[neg, pos]).auc)
    return out


def main(argv: list[str] | None = None) -> int:
    import torch

    from training.ct_post import forward_all, load_trunks, reader
    from training.ct_real import load_all

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("trunks", nargs="+", help="ct_trunk.pt checkpoints (several: read as their averaged ensemble)")
    ap.add_argument("--shared", default="../shared/data")
    ap.add_argument("--cache", default="/tmp/nr_cache")
    ap.add_argument("--n", type=int, default=64, help="samples per kind")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    series, splits = load_all(Path(args.shared), Path(args.cache))
    pools = Pools.build([s for s in series if splits[s.patient] == "train"])
    sets = draw_fit_set(pools, np.random.default_rng(args.seed), args.n)
    net = reader(load_trunks([Path(t) for t in args.trunks]), "flip")
    table = fit_table(lambda x: forward_all(net, x)[0][:, 0], sets)
    print(f"'any' AUC against {len(sets['negative'])} bleed-free CT-ICH training slices (training patients, no augmentation):")
    for kind, auc in table.items():
        print(f"  {kind:<18} {'-' if auc is None else f'{auc:.3f}'} ({len(sets.get(kind, []))} slices)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
