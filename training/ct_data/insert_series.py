"""Extra-axial blood inserted into a whole real series: one collection through contiguous slices.

training.ct_data.insert puts a lesion into one slice; a series model (the BiLSTM) must be judged on series whose
blood continues from slice to slice as real blood does. Here one epidural or subdural keeps its side, arc and blood
density through a block of neighbouring slices, thickest in the middle of the block and thinner towards its ends.
A slice is labelled only where the blood is visible (insert.visible_mm2 against bone, as for single slices).
"""

from __future__ import annotations

import numpy as np

from training.ct_data.insert import (EXTRA_AXIAL, KIND_BLOOD_HU, MIN_VISIBLE_MM2, _blend_blood, anatomy, extra_axial_mask,
                                     extra_axial_shape, visible_mm2)


def insert_extra_axial_series(hus: np.ndarray, kind: str, rng: np.random.Generator, px_mm: float = 1.0,
                              min_block: int = 3) -> tuple[np.ndarray, np.ndarray] | None:
    """hus [z, h, w] HU or pseudo-HU in slice order. Returns (new HU [z, h, w], per-slice label bool [z]) or None
    when fewer than min_block contiguous slices show enough intracranial space or no slice shows the blood."""
    if kind not in EXTRA_AXIAL:
        raise ValueError(f"{kind!r} is not extra-axial ({', '.join(EXTRA_AXIAL)})")
    ans = [anatomy(h, px_mm) for h in hus]
    ok = np.array([a is not None for a in ans])
    runs, start = [], None
    for i, good in enumerate([*ok, False]):
        if good and start is None:
            start = i
        elif not good and start is not None:
            runs.append((start, i))
            start = None
    runs = [r for r in runs if r[1] - r[0] >= min_block]
    if not runs:
        return None
    lo, hi = runs[int(np.argmax([r[1] - r[0] for r in runs]))]
    n = int(rng.integers(min_block, max(min_block, int(0.6 * (hi - lo))) + 1))
    first = int(rng.integers(lo, hi - n + 1))
    theta0, half, tmax = extra_axial_shape(rng, kind, px_mm)
    level = rng.uniform(*KIND_BLOOD_HU[kind])
    out, labels = hus.astype(np.float32).copy(), np.zeros(len(hus), bool)
    for k in range(first, first + n):
        an = ans[k]
        taper = np.sin(np.pi * (k - first + 0.5) / n) ** 0.5  # thickest mid-block, thinner at its ends
        m = extra_axial_mask(an, kind, theta0, half, tmax * taper)
        if m.sum() * px_mm ** 2 < 10:
            continue
        new = _blend_blood(hus[k], m, rng, (level - 2.0, level + 2.0))
        if visible_mm2(hus[k], new, px_mm, below_bone=True) >= MIN_VISIBLE_MM2:
            out[k], labels[k] = new, True
    return (out, labels) if labels.any() else None
