"""Rebuild the training checkpoint `ct_trunk.pt` from the committed export checkpoints.

    python -m training.recover_trunk [--checkpoints training/checkpoints] [--cards resources/models]

`ct_trunk.pt` (one trunk, 6 ICH + 3 BG head rows, uncalibrated) is not committed; a fresh machine has only
`ich_cnn.pt` and `bg_laterality.pt`, whose heads were rescaled by the calibration (training.ct_post.HeadView:
w' = w * a, b' = b * a + c for ICH; w' = w / T, b' = b / T for BG). Both share the trunk exactly, so the
uncalibrated network is recovered by undoing the rescaling with the figures in the cards. Why: continuing
training must start from the shipped weights, not from an older trunk. An ensemble export (`members` in the
checkpoints) gives one trunk per member: member 0 as `ct_trunk.pt`, the others as `ct_trunk_member<i>.pt`.
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
    from training.ct_post import member_state_dicts

    ich = member_state_dicts(torch.load(ck / "ich_cnn.pt", map_location="cpu"))
    bg = member_state_dicts(torch.load(ck / "bg_laterality.pt", map_location="cpu"))
    if len(ich) != len(bg):
        raise SystemExit(f"ich_cnn.pt has {len(ich)} members, bg_laterality.pt {len(bg)}: not one export")
    # member 0 is the training checkpoint; further members (an ensemble) go beside it, for `ct_real --members`
    names = ["ct_trunk.pt"] + [f"ct_trunk_member{i}.pt" for i in range(1, len(ich))]
    for name in names:
        if (ck / name).exists():
            raise SystemExit(f"{ck / name} exists: not overwritten")
    for name, ich_sd, bg_sd in zip(names, ich, bg):
        sd = recover(ich_sd, bg_sd, ich_card, bg_card)
        torch.save({"state_dict": sd, "epoch": None, "arch": "resnet18", "width": 32, "recovered_from": ich_card["version"]}, ck / name)
        print(f"wrote {ck / name} (version {ich_card['version']}; head rows {tuple(sd['head.weight'].shape)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
