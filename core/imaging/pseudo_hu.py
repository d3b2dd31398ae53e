"""8-bit windowed CT images and Hounsfield units: one mapping, both ways, for training and inference.

Real head CT often reaches us as 8-bit images already windowed (PNG/JPEG exports, public slice
datasets). Such an image keeps only the HU range of its window: a pixel of 0 means "at or below the
window's floor", 255 "at or above its ceiling". We invert the window for the pixels strictly inside
it and keep saturated pixels *at the window edges*, flagged, never extrapolated: nothing downstream
may guess whether a 255 was bone (1000 HU) or a bright clot (85 HU).

The CT models therefore see only what a brain-window export keeps: a full-HU DICOM series is first
reduced with `hu_to_window8` (clip + quantise, exactly what an exporter does) and mapped back with
`window8_to_hu`, so a DICOM series and an 8-bit slice of the same anatomy give the model the same input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.imaging.windows import PRESETS
from core.volume import Window

#: the window the CT models read (every real 8-bit training image was exported in it)
MODEL_WINDOW = "brain"


@dataclass(frozen=True)
class PseudoHU:
    """HU recovered from an 8-bit windowed image, with the pixels whose true value is unknown."""

    hu: np.ndarray  # float32, same shape as the image
    low_saturated: np.ndarray  # bool: true HU <= window floor (air, fat, CSF below the floor...)
    high_saturated: np.ndarray  # bool: true HU >= window ceiling (bone, calcification, dense clot...)


def window_of(window: str | Window) -> Window:
    if isinstance(window, Window):
        return window
    if window not in PRESETS:
        raise ValueError(f"unknown window {window!r}; known: {', '.join(PRESETS)}")
    return PRESETS[window]


def to_gray8(image: np.ndarray) -> np.ndarray:
    """Grayscale uint8 from an 8-bit gray, RGB or RGBA image (exports are often RGB with equal channels)."""
    img = np.asarray(image)
    if img.ndim == 3:
        if img.shape[2] == 4:
            img = img[..., :3]
        if img.shape[2] == 3:
            img = img.astype(np.float32).mean(axis=2)
        elif img.shape[2] == 1:
            img = img[..., 0]
    if img.ndim != 2:
        raise ValueError(f"expected a 2-D grayscale or RGB image, got shape {np.shape(image)}")
    if img.dtype != np.uint8:
        if img.dtype.kind == "f" or img.max() <= 255:
            img = np.clip(np.rint(img), 0, 255).astype(np.uint8)
        else:  # a 16-bit PNG: an 8-bit export widened (v * 257 or v << 8), or something else (raw HU, say)
            img = _widened_8bit(img)
    return img


def _widened_8bit(img: np.ndarray) -> np.ndarray:
    """The 8-bit values of a 16-bit image that only widened them; ValueError for any other 16-bit content.
    Why: dividing raw HU + 1024 (0-4095) by 257 gives a near-black image that would be scored as if it were a
    brain-window export; such data needs its window, which the pixels alone do not tell."""
    v = img.astype(np.int64)
    for step in (257, 256):
        if (v % step == 0).mean() > 0.999:
            return np.clip(v // step, 0, 255).astype(np.uint8)
    raise ValueError(f"a 16-bit image (values {int(v.min())}-{int(v.max())}) that is not a widened 8-bit export: "
                     "raw CT values need their window; score the DICOM or NIfTI series, or export 8-bit in the brain window")


def window8_to_hu(image8: np.ndarray, window: str | Window = MODEL_WINDOW) -> PseudoHU:
    """Invert an 8-bit window: value v -> floor + v/255 * width, saturated pixels flagged and kept at the edges.

    Takes uint8 of any shape, or float values on the 0..255 scale (an 8-bit image after resampling).
    """
    w = window_of(window)
    img = np.asarray(image8)
    if img.dtype != np.uint8:
        img = np.clip(img.astype(np.float32), 0.0, 255.0)
    hu = np.float32(w.low) + img.astype(np.float32) * np.float32(w.width / 255.0)
    return PseudoHU(hu=hu, low_saturated=img <= 0.5, high_saturated=img >= 254.5)


def hu_to_window8(hu: np.ndarray, window: str | Window = MODEL_WINDOW) -> np.ndarray:
    """What an 8-bit export in this window keeps: clip to the window, quantise to 256 levels (uint8)."""
    w = window_of(window)
    scaled = (np.asarray(hu, dtype=np.float32) - np.float32(w.low)) * np.float32(255.0 / w.width)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def as_model_window_hu(hu: np.ndarray) -> np.ndarray:
    """Full HU -> the pseudo-HU the model sees (the brain-window export round trip), float32."""
    return window8_to_hu(hu_to_window8(hu, MODEL_WINDOW), MODEL_WINDOW).hu
