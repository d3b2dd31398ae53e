"""Out-of-distribution guard of the skull-strip QC model: a volume it was not made for (a CT, a blank
or constant volume, something too small or too large to be a head or a brain, or one whose network
features are far from every training volume's) is reported as not scorable, never as a pass.

Two layers, cheapest first:
  input_reasons     deterministic checks on the voxels (modality, Hounsfield-like values, size)
  feature_distance  RMS z-score of the network's pooled features against the training set's
                    mean/std stored in the model card (`ood`), compared with the card's threshold
"""

from __future__ import annotations

import numpy as np

from core.qc.preprocess import foreground
from core.volume import Volume

MIN_FOREGROUND_ML = 300.0  # a brain is > ~900 ml; a strip that kept less is not a head strip
MAX_EXTENT_MM = 420.0  # a head with neck fits in ~300 mm


def input_reasons(volume: Volume) -> list[str]:
    """Plain-language reasons why the volume is not a T1 head or brain (empty list: looks fine)."""
    v = volume.voxels
    if volume.modality.upper() == "CT":
        return ["this is a CT; the skull-strip QC model reads T1 MRI only"]
    if v.ndim != 3 or min(v.shape) < 8:
        return [f"not a 3-D volume (shape {v.shape})"]
    step = max(1, int(round((v.size / 2_000_000) ** (1 / 3))))
    s = v[::step, ::step, ::step]  # a subsample is enough to recognise these, and cheap
    finite = s[np.isfinite(s)]
    if finite.size == 0 or float(finite.max()) - float(finite.min()) <= 1e-6:
        return ["the volume is blank (constant)"]
    if float(np.mean(s < -200)) > 0.05:
        return [f"{np.mean(s < -200):.0%} of voxels are below -200 (Hounsfield units: a CT, not MRI)"]
    fg = foreground(np.nan_to_num(s.astype(np.float32)))
    dz, dy, dx = (d * step for d in volume.spacing)
    ml = float(fg.sum()) * dz * dy * dx / 1000.0
    reasons = []
    if ml < MIN_FOREGROUND_ML:
        reasons.append(f"only {ml:.0f} ml of tissue (a brain strip keeps > {MIN_FOREGROUND_ML:.0f} ml)")
    if fg.any():
        idx = np.nonzero(fg)
        ext = max((int(i.max()) - int(i.min()) + 1) * d for i, d in zip(idx, (dz, dy, dx)))
        if ext > MAX_EXTENT_MM:
            reasons.append(f"tissue spans {ext:.0f} mm (larger than a head)")
    return reasons


def feature_distance(features: np.ndarray, stats: dict) -> float:
    """RMS z-score of the spatially pooled features [C, d, h, w] against the training statistics."""
    g = features.reshape(features.shape[0], -1).mean(axis=1).astype(np.float64)
    mu, sd = np.asarray(stats["feature_mean"], np.float64), np.asarray(stats["feature_std"], np.float64)
    return float(np.sqrt((((g - mu) / sd) ** 2).mean()))
