"""Grad-CAM for a global-average-pool + linear head, in closed form, for 2-D and 3-D models alike.

For logit_c = sum_k W[c,k] mean(A_k) + b_c the Grad-CAM channel weights are W[c,k] / |A|, so the
map is ReLU(sum_k W[c,k] A_k) up to a positive factor; the exported graphs output it ("cam").
"""

from __future__ import annotations

import cv2
import numpy as np

from core.volume import Volume


def gradcam_from_features(features: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """features [n, F, *spatial], weights [C, F] -> maps [n, C, *spatial] (ReLU, unnormalised)."""
    maps = np.einsum("cf,nf...->nc...", weights, features)
    return np.maximum(maps, 0, out=maps)


def normalise(maps: np.ndarray) -> np.ndarray:
    """Scale a label's maps by their series-wide maximum so weak slices stay weak (0..1)."""
    peak = float(maps.max())
    return maps / peak if peak > 0 else np.zeros_like(maps)


def model_slice_to_volume(m: np.ndarray, volume: Volume, out: np.ndarray | None = None) -> np.ndarray:
    """[h, w] map on the model grid (radiological orientation) -> [y, x] on the volume's grid (canonical R, A, S).

    The small map is flipped, not the upsampled one (bilinear resizing with pixel-centre alignment
    commutes with flips), and resized straight into `out`: one pass over the large array.
    """
    _, ny, nx = volume.shape
    if out is None:
        out = np.empty((ny, nx), dtype=np.float32)
    small = np.ascontiguousarray(m[::-1, ::-1], dtype=np.float32)
    cv2.resize(small, (nx, ny), dst=out, interpolation=cv2.INTER_LINEAR)
    return out


def gradcam_to_volume(cam: np.ndarray, label_index: int, volume: Volume) -> np.ndarray:
    """[z, C, h, w] model-grid maps (radiological orientation) -> [z, y, x] on the volume's grid, 0..1."""
    maps = normalise(cam[:, label_index].astype(np.float32))
    nz, ny, nx = volume.shape
    out = np.empty((nz, ny, nx), dtype=np.float32)
    small = np.ascontiguousarray(maps[:, ::-1, ::-1])  # one flip for the stack (hot path: 6 labels x every slice)
    for k in range(nz):
        cv2.resize(small[k], (nx, ny), dst=out[k], interpolation=cv2.INTER_LINEAR)
    return out
