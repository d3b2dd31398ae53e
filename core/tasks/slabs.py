"""Thin-slice CT scored as thick slabs.

Why: every real series the CT models learned from was reconstructed at 4-7 mm (CT-ICH 5 mm, the GE
series 4 and 7 mm), and the BiLSTM learned series of 20-40 slices. Given the same head as 1 mm slices,
the series probabilities drifted upward (the real normal demo: intraventricular 0.004 -> 0.33; the
bleed demo: subarachnoid 0.26 -> 0.79), because each slice is noisier and the series has four times
the chances. Averaging consecutive thin slices into ~5 mm slabs is what a thick reconstruction does;
the models then see what they were trained on, and each thin slice gets its slab's scores back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: slices thinner than this are averaged into slabs
THIN_SLICE_MM = 3.0
#: the slab thickness aimed at (CT-ICH's reconstruction)
SLAB_MM = 5.0


@dataclass(frozen=True)
class SlabPlan:
    """Which slab each slice belongs to; one slab per slice when the series is not thin."""

    slab_of_slice: np.ndarray  # [z] int, non-decreasing, 0..n_slabs-1
    slices_per_slab: int
    slab_mm: float

    @property
    def n_slabs(self) -> int:
        return int(self.slab_of_slice[-1]) + 1 if len(self.slab_of_slice) else 0

    @property
    def thin(self) -> bool:
        return self.slices_per_slab > 1

    def describe(self) -> str:
        return (f"thin slices scored as {self.n_slabs} slabs of {self.slab_mm:.1f} mm ({self.slices_per_slab} slices averaged each)"
                if self.thin else "slices scored as given")

    def to_dict(self) -> dict:
        return {"slices_per_slab": self.slices_per_slab, "slab_mm": round(self.slab_mm, 3), "slabs": self.n_slabs}


def slab_plan(n_slices: int, slice_mm: float) -> SlabPlan:
    """Consecutive groups of round(SLAB_MM / slice_mm) slices; a last group under half a slab joins the one before."""
    if n_slices == 0 or not np.isfinite(slice_mm) or slice_mm <= 0 or slice_mm >= THIN_SLICE_MM:
        return SlabPlan(np.arange(n_slices), 1, float(slice_mm))
    k = max(2, int(round(SLAB_MM / slice_mm)))
    idx = np.arange(n_slices) // k
    rest = n_slices % k
    if rest and rest < k / 2 and n_slices > k:
        idx[idx == idx[-1]] -= 1
    return SlabPlan(idx, k, k * float(slice_mm))


def slab_average(hu: np.ndarray, plan: SlabPlan) -> np.ndarray:
    """[z, h, w] -> [n_slabs, h, w]: the mean of each slab's slices (a thick average reconstruction)."""
    if not plan.thin:
        return hu
    starts = np.flatnonzero(np.r_[True, np.diff(plan.slab_of_slice) != 0])
    sums = np.add.reduceat(hu.astype(np.float64), starts, axis=0)
    counts = np.diff(np.r_[starts, len(hu)]).astype(np.float64)
    return (sums / counts[:, None, None]).astype(np.float32)


def to_slices(per_slab: np.ndarray, plan: SlabPlan) -> np.ndarray:
    """Per-slab values back to every slice of the series (first axis)."""
    return per_slab if not plan.thin else per_slab[plan.slab_of_slice]
