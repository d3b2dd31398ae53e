"""Perturbed copies of an 8-bit slice series, the kind a scanner or an export makes every day, and the positions the
series-stability check reads.

Why (stop 22): the bleed demo's series subdural probability moved 0.205 -> 0.294 when its HU were rounded to whole
numbers, and 0.548 / 0.371 / 0.106 with the head shifted 4 / 8 / 16 mm in the field of view, while the CNN's own
slice maximum stayed 0.895-0.916. The BiLSTM had learnt from one CNN reading per training series; these copies give
it several (training.bilstm_refit --jitter), and the same shifts measure how much a series score moves
(training.series_vs_slices --stability).
"""

from __future__ import annotations

import io
import zlib
from dataclasses import replace

import numpy as np

from core.models.centring import shift_stack

JITTER_KINDS = ("shift", "noise", "export")
MAX_SHIFT_PX = 16  # of the 256 grid: ~16 mm at a 250 mm field of view
NOISE_SIGMA_LEVELS = 2.0  # grey levels of the 40/80 brain window: ~0.6 HU
JPEG_QUALITY = (85, 95)


def shift_series(img: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """[z, h, w] moved by dx columns (+ right) and dy rows (+ down); what leaves the grid is lost, air (0) comes in
    (core.models.centring.shift_stack, the shift the app's centring makes)."""
    return shift_stack(img, dx, dy, 0)


def add_noise(img: np.ndarray, rng: np.random.Generator, sigma: float = NOISE_SIGMA_LEVELS) -> np.ndarray:
    return np.clip(np.rint(img.astype(np.float32) + rng.normal(0.0, sigma, img.shape)), 0, 255).astype(np.uint8)


def jpeg_export(img: np.ndarray, quality: int) -> np.ndarray:
    """Each slice saved as a grayscale JPEG and read back."""
    from PIL import Image

    out = np.empty_like(img)
    for i, sl in enumerate(img):
        buf = io.BytesIO()
        Image.fromarray(sl, mode="L").save(buf, format="JPEG", quality=int(quality))
        buf.seek(0)
        out[i] = np.asarray(Image.open(buf).convert("L"))
    return out


def series_seed(key: str, base: int = 0) -> int:
    """A seed fixed per series key (crc32: the same across runs and machines, unlike hash())."""
    return (zlib.crc32(key.encode()) + 1_000_003 * base) % (2**32)


def jittered(img: np.ndarray, mask: np.ndarray | None, kind: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
    """(image, mask) after one perturbation; only a shift moves the mask."""
    if kind == "shift":
        dx, dy = (int(v) for v in rng.integers(-MAX_SHIFT_PX, MAX_SHIFT_PX + 1, size=2))
        return shift_series(img, dx, dy), None if mask is None else shift_series(mask, dx, dy)
    if kind == "noise":
        return add_noise(img, rng), mask
    if kind == "export":
        return jpeg_export(img, int(rng.integers(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1))), mask
    raise ValueError(f"unknown jitter {kind!r}: one of {JITTER_KINDS}")


def jittered_copies(s, n: int, base_seed: int = 0) -> list:
    """The first n kinds of JITTER_KINDS applied to series s (a training.ct_data.phantom.SliceSeries), each keyed
    "<key>~<kind>", with the labels and sides of s."""
    if not 0 <= n <= len(JITTER_KINDS):
        raise ValueError(f"jitter takes 0..{len(JITTER_KINDS)} copies, got {n}")
    rng = np.random.default_rng(series_seed(s.key, base_seed))
    out = []
    for kind in JITTER_KINDS[:n]:
        img, mask = jittered(s.img, s.mask, kind, rng)
        out.append(replace(s, img=img, mask=mask, key=f"{s.key}~{kind}"))
    return out


STABILITY_OFFSETS = ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1))


def stability_positions(s, px: int) -> list:
    """Series s untouched and shifted px to +x, -x, +y, -y (training.series_vs_slices --stability)."""
    return [s if (dx, dy) == (0, 0) else replace(s, img=shift_series(s.img, dx * px, dy * px), key=f"{s.key}@{dx * px},{dy * px}")
            for dx, dy in STABILITY_OFFSETS]


def series_ranges(probs: np.ndarray) -> np.ndarray:
    """[series, positions, labels] series probabilities -> [series, labels] max - min over positions."""
    return probs.max(axis=1) - probs.min(axis=1)


def decision_flips(probs: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """[series, positions, labels] probabilities, [labels] thresholds -> [series, labels] True where the call
    (probability >= threshold) is not the same at every position."""
    calls = probs >= thresholds
    return calls.any(axis=1) & ~calls.all(axis=1)
