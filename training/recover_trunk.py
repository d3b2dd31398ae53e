"""Rebuild the training checkpoint `ct_trunk.pt` from the committed export checkpoints.

    python -m training.recover_trunk [--checkpoints training/checkpoints] [--cards resources/models]

`ct_trunk.pt` (one trunk, 6 ICH + 3 BG head rows, uncalibrated) is not committed; a fresh machine has only
`ich_cnn.pt` and `bg_laterality.pt`, whose heads were rescaled by the calibration (training.ct_post.HeadView:
w' = w * a, b' = b * a + c for ICH; w' = w / T, b' = b / T for BG). Both share the trunk exactly, so the
uncalibrated network is recovered by undoing the rescaling with the figures in the cards. Why: continuing
training must start from the shipped weights, not from an older trunk.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from training.datasets.rsna import ICH_LABELS

N_ICH, N_BG = 6, 3


def recover(ich_sd: dict, bg_sd: dict, ich_card: dict, bg_card: dict) -> dict:
    """The uncalibrated state dict of the two-headed trunk."""
    for k, v in ich_sd.items():
        if not k.startswith("head.") and not torch.equal(v, bg_sd[k]):
            raise ValueError(f"ich_cnn and bg_laterality do not share the trunk (differ at {k}): not one training run")
    cal = ich_card["calibration"]
    a = torch.tensor([cal[lab]["scale"] for lab in ICH_LABELS], dtype=torch.float32)
    c = torch.tensor([cal[lab]["bias"] for lab in ICH_LABELS], dtype=torch.float32)
    t_bg = float(bg_card["calibration"]["temperature"])
    out = {k: v.clone() for k, v in ich_sd.items() if not k.startswith("head.")}
    out["head.weight"] = torch.cat([ich_sd["head.weight"] / a[:, None], bg_sd["head.weight"] * t_bg])
    out["head.bias"] = torch.cat([(ich_sd["head.bias"] - c) / a, bg_sd["head.bias"] * t_bg])
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoints", default="training/checkpoints")
    ap.add_argument("--cards", default="resources/models")
    args = ap.parse_args(argv)
    ck, cards = Path(args.checkpoints), Path(args.cards)
    ich_card = json.loads((cards / "ich_cnn.json").read_text())
    bg_card = json.loads((cards / "bg_laterality.json").read_text())
    sd = recover(torch.load(ck / "ich_cnn.pt", map_location="cpu")["state_dict"],
                 torch.load(ck / "bg_laterality.pt", map_location="cpu")["state_dict"], ich_card, bg_card)
    if (ck / "ct_trunk.pt").exists():
        raise SystemExit(f"{ck / 'ct_trunk.pt'} exists: not overwritten")
    torch.save({"state_dict": sd, "epoch": None, "arch": "resnet18", "width": 32, "recovered_from": ich_card["version"]}, ck / "ct_trunk.pt")
    print(f"wrote {ck / 'ct_trunk.pt'} (version {ich_card['version']}; head rows {tuple(sd['head.weight'].shape)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
