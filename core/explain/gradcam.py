"""Grad-CAM for a global-average-pool + linear head, in closed form, for 2-D and 3-D models alike.

For logit_c = sum_k W[c,k] mean(A_k) + b_c the Grad-CAM channel weights are W[c,k] / |A|, so the
map is ReLU(sum_k W[c,k] A_k) up to a positive factor; the exported graphs output it ("cam").
"""

from __future__ import annotations

import numpy as np

from core.models.preprocess import ModelGrid
from core.volume import Volume


def gradcam_from_features(features: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """features [n, F, *spatial], weights [C, F] -> maps [n, C, *spatial] (ReLU, unnormalised)."""
    maps = np.einsum("cf,nf...->nc...", weights, features)
    return np.maximum(maps, 0, out=maps)


def normalise(maps: np.ndarray) -> np.ndarray:
    """Scale a label's maps by their series-wide maximum so weak slices stay weak (0..1)."""
    peak = float(maps.max())
    return maps / peak if peak > 0 else np.zeros_like(maps)


def model_slice_to_volume(m: np.ndarray, volume: Volume, out: np.ndarray | None = None, grid: ModelGrid | None = None) -> np.ndarray:
    """[h, w] map on the model grid (radiological orientation) -> [y, x] on the volume's grid (canonical R, A, S).

    The exact inverse geometry of `display_slices` (`ModelGrid.to_volume`: the centring shift, the air padding
    cropped, the square-pixel rescale undone, the flip undone), resized straight into `out` when given. `grid` is
    where the models read the slice (`CTScorer.grid`, the result's `grid`); the unshifted grid when None.
    """
    return (grid or ModelGrid.of(volume)).to_volume(m, out)


def gradcam_to_volume(cam: np.ndarray, label_index: int, volume: Volume, grid: ModelGrid | None = None) -> np.ndarray:
    """[z, C, h, w] model-grid maps (radiological orientation) -> [z, y, x] on the volume's grid, 0..1 (`grid` as
    in model_slice_to_volume)."""
    maps = normalise(cam[:, label_index].astype(np.float32))
    nz, ny, nx = volume.shape
    out = np.empty((nz, ny, nx), dtype=np.float32)
    grid = grid or ModelGrid.of(volume)  # once for the stack (hot path: 6 labels x every slice)
    for k in range(nz):
        grid.to_volume(maps[k], out=out[k])
    return out
