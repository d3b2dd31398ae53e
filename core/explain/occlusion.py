"""Occlusion sensitivity (seed 003's grey box): the drop in each label's probability when a patch is
greyed out. Occluded copies are batched through ONNX Runtime; patches outside the head are skipped.
"""

from __future__ import annotations

import numpy as np

from core.models.preprocess import head_mask_2d
from core.models.runtime import LoadedModel


def patch_origins(size: int, patch: int, stride: int) -> list[int]:
    starts = list(range(0, max(size - patch, 0) + 1, stride))
    if starts[-1] + patch < size:
        starts.append(size - patch)
    return starts


def in_head_boxes(hu: np.ndarray, patch: int, stride: int) -> list[tuple[int, int]]:
    """Top-left corners of the patches worth occluding: those at least 10% inside the head."""
    h, w = hu.shape
    head = head_mask_2d(hu)
    return [(y, x) for y in patch_origins(h, patch, stride) for x in patch_origins(w, patch, stride)
            if head[y:y + patch, x:x + patch].mean() > 0.1]


def occlusion_map(model: LoadedModel, image: np.ndarray, hu: np.ndarray, patch: int = 32, stride: int = 32,
                  batch: int = 16, fill: float = 0.0) -> tuple[np.ndarray, np.ndarray, int]:
    """image [3, H, W] model input; hu [H, W] the same slice in HU (for the head mask).

    Returns (drop [C, H, W] = base prob - occluded prob averaged over covering patches,
    base probs [C], number of forward passes). `fill` 0 is the channel mean after normalisation: grey.
    """
    _, h, w = image.shape
    base = model.run({"image": image[None]}, ["probs"])["probs"][0]
    boxes = in_head_boxes(hu, patch, stride)
    drop = np.zeros((len(base), h, w), dtype=np.float32)
    count = np.zeros((h, w), dtype=np.float32)
    for i in range(0, len(boxes), batch):
        chunk = boxes[i:i + batch]
        x = np.repeat(image[None], len(chunk), axis=0)
        for j, (y0, x0) in enumerate(chunk):
            x[j, :, y0:y0 + patch, x0:x0 + patch] = fill
        probs = model.run({"image": x}, ["probs"])["probs"]
        for j, (y0, x0) in enumerate(chunk):
            drop[:, y0:y0 + patch, x0:x0 + patch] += (base - probs[j])[:, None, None]
            count[y0:y0 + patch, x0:x0 + patch] += 1
    np.divide(drop, np.maximum(count, 1), out=drop)
    return drop, base, len(boxes) + 1
