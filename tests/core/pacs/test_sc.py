"""core.pacs.sc: the Grad-CAM Secondary Capture shows anatomy with its true proportions."""

from __future__ import annotations

import numpy as np

from core.pacs.sc import square_pixels


def _disc(dy: float, dx: float, fov_mm: float = 64.0, radius_mm: float = 20.0) -> np.ndarray:
    ny, nx = round(fov_mm / dy), round(fov_mm / dx)
    y, x = np.mgrid[:ny, :nx]
    inside = ((y + 0.5) * dy - fov_mm / 2) ** 2 + ((x + 0.5) * dx - fov_mm / 2) ** 2 <= radius_mm**2
    return np.repeat((inside * 255).astype(np.uint8)[..., None], 3, axis=2)


def test_unequal_spacing_is_resampled_so_a_round_head_stays_round():
    rgb = _disc(dy=1.0, dx=0.5)  # 64 rows x 128 columns: shown as is, the disc would be twice as wide as tall
    out = square_pixels(rgb, 1.0, 0.5)
    assert out.shape == (128, 128, 3)
    rows, cols = np.nonzero(out[..., 0] > 127)
    height, width = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
    assert abs(height - width) <= 2 and abs(width - 80) <= 2  # 40 mm across at 0.5 mm per pixel


def test_square_pixels_are_left_alone():
    rgb = _disc(dy=0.5, dx=0.5)
    assert square_pixels(rgb, 0.5, 0.5) is rgb
    assert square_pixels(rgb, 0.5, 0.502) is rgb  # within the models' tolerance for square
