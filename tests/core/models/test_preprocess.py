"""core.models.preprocess: CT slices reach the model grid padded to a square with air, never stretched.

Why: the CT models learned square-pixelled anatomy on square slices; a non-square slice or anisotropic
pixel spacing resized straight to 256x256 distorts the head. Ordinary scans (square, square pixels)
must keep exactly the old flip + resize: the bundled models' real-data figures were measured through it.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.models.preprocess import AIR_HU, MODEL_SIZE, ModelGrid, display_slices
from core.volume import Volume, ras_affine


def _old_display_slices(volume: Volume, size: int = MODEL_SIZE) -> np.ndarray:
    """The formula before ModelGrid: flip, then resize straight to the square."""
    out = np.empty((volume.shape[0], size, size), dtype=np.float32)
    for k, sl in enumerate(volume.voxels):
        view = np.ascontiguousarray(sl[::-1, ::-1])
        interp = cv2.INTER_AREA if view.shape[0] > size else cv2.INTER_LINEAR
        out[k] = cv2.resize(view, (size, size), interpolation=interp)
    return out


def _ellipse_volume(ny: int, nx: int, dy: float, dx: float, radius_mm: float = 40.0, nz: int = 2) -> Volume:
    """A disc of radius_mm (round in mm) at the slice centre, 40 HU on -1000 HU (so padding, -1024, is told apart)."""
    yy, xx = np.mgrid[:ny, :nx]
    disc = ((yy - (ny - 1) / 2) * dy) ** 2 + ((xx - (nx - 1) / 2) * dx) ** 2 < radius_mm ** 2
    sl = np.where(disc, 40.0, -1000.0).astype(np.float32)
    return Volume(np.repeat(sl[None], nz, axis=0), ras_affine((5.0, dy, dx)), "CT")


def _box_aspect(mask: np.ndarray) -> float:
    ys, xs = np.nonzero(mask)
    return (ys.max() - ys.min() + 1) / (xs.max() - xs.min() + 1)


@pytest.mark.parametrize("n, spacing", [(300, (0.49, 0.49)), (512, (0.4882812, 0.4882812)), (128, (1.0, 1.0)),
                                        (256, (0.5, 0.503))])  # shrink, the real GE head, enlarge, < 1 % apart
def test_square_slices_with_square_pixels_are_bit_identical_to_the_old_path(n, spacing):
    rng = np.random.default_rng(n)
    vol = Volume(rng.uniform(-1024, 2000, size=(3, n, n)).astype(np.float32), ras_affine((5.0, *spacing)), "CT")
    np.testing.assert_array_equal(display_slices(vol), _old_display_slices(vol))


def test_a_non_square_slice_is_padded_with_air_not_stretched():
    vol = _ellipse_volume(300, 200, 0.5, 0.5, radius_mm=50.0)  # 300 rows (A-P), 200 columns (R-L)
    hu = display_slices(vol)[0]
    assert hu.shape == (MODEL_SIZE, MODEL_SIZE)
    assert _box_aspect(hu > -500) == pytest.approx(1.0, abs=0.03)
    pad = round((MODEL_SIZE - 200 * MODEL_SIZE / 300) / 2)  # ~43 columns each side
    assert (hu[:, :pad - 1] == AIR_HU).all() and (hu[:, -(pad - 1):] == AIR_HU).all()
    assert (hu[:, pad + 1:-(pad + 1)] > -1010).all()  # the slice itself (-1000 HU and the disc) fills the middle


def test_anisotropic_pixel_spacing_is_resampled_to_square_pixels():
    vol = _ellipse_volume(400, 200, 0.5, 1.0, radius_mm=60.0)  # 200 mm x 200 mm; the disc is 240 x 120 pixels
    assert ModelGrid.of(vol).square_shape == (400, 400)  # the coarser axis (x, 1 mm) gains samples
    hu = display_slices(vol)[0]
    disc = hu > -500
    assert _box_aspect(disc) == pytest.approx(1.0, abs=0.03)
    assert (disc.any(axis=0).sum()) == pytest.approx(MODEL_SIZE * 120 / 200, abs=2)  # 120 mm of 200 mm wide


def test_spacings_within_one_percent_count_as_equal():
    assert ModelGrid(300, 200, 0.5, 0.504).square_shape == (300, 200)
    assert ModelGrid(300, 200, 0.5, 0.51).square_shape == (300, 204)
    assert ModelGrid(300, 200, 1.0, 0.5).square_shape == (600, 200)


def test_masks_go_to_the_grid_by_nearest_neighbour_with_zero_padding():
    grid = ModelGrid(300, 200, 0.5, 0.5)
    m = np.zeros((300, 200), np.uint8)
    m[100:200, 50:150] = 1
    out = grid.to_model(m, fill=0, nearest=True)
    assert out.dtype == np.uint8 and set(np.unique(out)) == {0, 1}
    assert _box_aspect(out > 0) == pytest.approx(1.0, abs=0.03)


def test_a_slice_of_the_wrong_shape_is_refused():
    with pytest.raises(ValueError, match="does not fit"):
        ModelGrid(300, 200).to_model(np.zeros((200, 300), np.float32))
