"""Phantom head CT series (training.synth.ct) reduced to the model's 8-bit brain-window grid, cached."""

from __future__ import annotations

import os
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from tqdm import tqdm

from core.imaging.pseudo_hu import hu_to_window8
from core.models.preprocess import ModelGrid, display_slices
from training.ct_data.cache_key import PHANTOM_CODE, code_fingerprint
from training.datasets.rsna import ICH_LABELS

BG_INDEX = {"none": 0, "left": 1, "right": 2}


@dataclass
class SliceSeries:
    """One ordered series at the model grid: what every CT training source is turned into."""

    key: str
    source: str  # 'ct-ich' | 'phe-sich' | 'phantom' | 'ge'
    img: np.ndarray  # uint8 [z, 256, 256] brain-window export, radiological orientation
    labels: np.ndarray  # float32 [z, 6] ICH labels; -1 = unknown (masked in the loss)
    bg: np.ndarray  # int8 [z]: 0 none, 1 left, 2 right (patient side), 3 = hemorrhage of unknown side, -1 unknown
    mask: np.ndarray | None = None  # bool [z, 256, 256] where the blood is (localisation supervision), if known
    patient: str = ""


def _phantom(seed: int) -> dict:
    from training.synth.ct import make_ct_case

    case = make_ct_case(seed, size=512)
    vol = case.to_volume()
    img = hu_to_window8(display_slices(vol))
    labels = np.stack([case.slice_labels[k] for k in ICH_LABELS], axis=1).astype(np.float32)
    blood = np.zeros(case.hu.shape, dtype=bool)
    for kind, m in case.masks.items():
        if kind != "calcification":
            blood |= m
    grid = ModelGrid.of(vol)  # masks go where display_slices puts the image (nearest neighbour, no padding blood)
    mask = np.stack([grid.to_model(b.astype(np.uint8), fill=0, nearest=True) for b in blood]).astype(bool)
    bg = np.zeros(len(img), dtype=np.int8)
    if case.bg_side != "none" and "bg_hematoma" in case.masks:
        per = case.masks["bg_hematoma"].reshape(len(img), -1).sum(axis=1) > 0
        bg[per] = BG_INDEX[case.bg_side]
    return {"img": img, "labels": labels, "bg": bg, "mask": mask}


def phantom_series(seeds: list[int], cache: Path, workers: int = 1) -> list[SliceSeries]:
    cache.mkdir(parents=True, exist_ok=True)
    fp = code_fingerprint(PHANTOM_CODE)
    todo = [s for s in seeds if not (cache / f"phantom_{s}.{fp}.npz").exists()]
    if todo:
        it = Pool(workers).imap(_phantom, todo) if workers > 1 else map(_phantom, todo)
        for s, d in tqdm(zip(todo, it), total=len(todo), desc="phantoms", unit="series"):
            tmp = cache / f".phantom_{s}.{fp}.tmp.npz"
            np.savez_compressed(tmp, **d)
            os.replace(tmp, cache / f"phantom_{s}.{fp}.npz")
    out = []
    for s in seeds:
        z = np.load(cache / f"phantom_{s}.{fp}.npz")
        out.append(SliceSeries(f"phantom_{s}", "phantom", z["img"], z["labels"], z["bg"], z["mask"], patient=f"phantom_{s}"))
    return out
