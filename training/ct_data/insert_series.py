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
                              min_block: int = 3, theta0: float | None = None,
                              max_fraction: float = 0.6) -> tuple[np.ndarray, np.ndarray] | None:
    """hus [z, h, w] HU or pseudo-HU in slice order. Returns (new HU [z, h, w], per-slice label bool [z]) or None
    when fewer than min_block contiguous slices show enough intracranial space or no slice shows the blood.
    theta0: the collection's centre angle (default: drawn); max_fraction: the longest block, as a fraction of the
    longest run of slices with room for it. Neither changes what the random draws are, so defaults repeat earlier
    inserts exactly."""
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
    n = int(rng.integers(min_block, max(min_block, int(max_fraction * (hi - lo))) + 1))
    first = int(rng.integers(lo, hi - n + 1))
    drawn, half, tmax = extra_axial_shape(rng, kind, px_mm)
    theta0 = drawn if theta0 is None else theta0
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


def insert_both_extra_axial_series(hus: np.ndarray, rng: np.random.Generator, px_mm: float = 1.0,
                                   max_fraction: float = 0.6) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """An epidural and a subdural in one series, on opposite sides of the head (a coup/contre-coup pattern), each
    its own contiguous block. Why: a series model trained on single-collection inserts learns that the two exclude
    each other (stop 20: S3 lost phantom subdurals that lie beside an epidural). Returns (new HU, epidural labels
    [z], subdural labels [z]) or None when either does not fit."""
    side = float(rng.uniform(-np.pi, np.pi))
    first = insert_extra_axial_series(hus, "epidural", rng, px_mm, theta0=side, max_fraction=max_fraction)
    if first is None:
        return None
    opposite = float(np.angle(-np.exp(1j * side)))
    second = insert_extra_axial_series(first[0], "subdural", rng, px_mm, theta0=opposite, max_fraction=max_fraction)
    if second is None:
        return None
    return second[0], first[1], second[1]
