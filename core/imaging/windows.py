"""Neuro CT windows as data, and the HU -> 8-bit / model-channel mappings.

Windows are (width, level) in HU. The three of seed 002 (brain, subdural, soft tissue) are
also the ICH model's input channels, scaled to [0, 1] as (HU - (L - W/2)) / W and clipped.
"""

from __future__ import annotations

import numpy as np

from core.volume import Window

PRESETS: dict[str, Window] = {
    "brain": Window(width=80, level=40),
    "subdural": Window(width=200, level=80),
    "soft_tissue": Window(width=380, level=40),
    "bone": Window(width=2800, level=600),
    "stroke": Window(width=40, level=40),
    "acute_blood": Window(width=220, level=95),
}
PRESET_TITLES: dict[str, str] = {
    "brain": "Brain",
    "subdural": "Subdural",
    "soft_tissue": "Soft tissue",
    "bone": "Bone",
    "stroke": "Stroke",
    "acute_blood": "Acute blood",
}
ICH_CHANNEL_WINDOWS: tuple[str, str, str] = ("brain", "subdural", "soft_tissue")


def apply_window(values: np.ndarray, window: Window, out: np.ndarray | None = None) -> np.ndarray:
    """Map values to uint8 with the window: low -> 0, high -> 255, clipped.

    One fused multiply-add and clip in float32, then a cast; ``out`` lets a viewer reuse its buffer.
    """
    scale = np.float32(255.0 / max(float(window.width), 1e-6))
    offset = np.float32(-window.low * 255.0 / max(float(window.width), 1e-6))
    tmp = np.multiply(values, scale, dtype=np.float32)
    tmp += offset
    np.clip(tmp, 0.0, 255.0, out=tmp)
    if out is None:
        out = np.empty(tmp.shape, dtype=np.uint8)
    np.rint(tmp, out=tmp)
    out[...] = tmp
    return out


def window_unit(values: np.ndarray, window: Window) -> np.ndarray:
    """Map values to float32 in [0, 1] with the window (the models' scaling)."""
    tmp = np.subtract(values, np.float32(window.low), dtype=np.float32)
    tmp *= np.float32(1.0 / max(float(window.width), 1e-6))
    return np.clip(tmp, 0.0, 1.0, out=tmp)


def ich_channels(hu: np.ndarray) -> np.ndarray:
    """Stack brain/subdural/soft-tissue windows as channels: [..., H, W] -> [..., 3, H, W] float32 in [0, 1]."""
    chans = [window_unit(hu, PRESETS[name]) for name in ICH_CHANNEL_WINDOWS]
    return np.stack(chans, axis=-3)


def auto_window(values: np.ndarray, low_pct: float = 1.0, high_pct: float = 99.0) -> Window:
    """A window from robust percentiles (the '0' key's auto and the MRI default)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return Window(width=1.0, level=0.0)
    sample = finite[:: max(1, finite.size // 200_000)]
    lo, hi = np.percentile(sample, [low_pct, high_pct])
    width = max(float(hi - lo), 1e-3)
    return Window(width=width, level=float(lo + hi) / 2.0)
