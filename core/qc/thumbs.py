"""QC thumbnails in numpy (core/ has no VTK): a mosaic of slices with the kept mask's outline and a
depth-shaded view from the front. The front view is a ray cast along the anterior->posterior axis
in numpy: enough to see a kept face or a sheared-off cap, and it runs in every worker process."""

from __future__ import annotations

import io

import numpy as np
from scipy import ndimage

from core.volume import Volume


def _gray(a: np.ndarray) -> np.ndarray:
    hi = float(np.percentile(a[a > 0], 99.5)) if (a > 0).any() else 1.0
    return (np.clip(a / max(hi, 1e-6), 0, 1) * 255).astype(np.uint8)


def _outlined(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    rgb = np.repeat(_gray(img)[..., None], 3, axis=2)
    edge = mask & ~ndimage.binary_erosion(mask)
    rgb[edge] = (255, 200, 0)
    return rgb


def front_view(volume: Volume) -> np.ndarray:
    """Depth-shaded surface of the kept mask seen from the front (patient's face towards the viewer)."""
    kept = volume.voxels > 0  # [z, y, x]
    hit = kept.any(axis=1)  # [z, x]
    first = kept.shape[1] - 1 - np.argmax(kept[:, ::-1, :], axis=1)  # most anterior kept y
    depth = np.where(hit, first, 0).astype(np.float32)
    gz, gx = np.gradient(depth)
    shade = np.clip(0.75 + 0.08 * (gz + gx), 0, 1) * (0.35 + 0.65 * depth / max(kept.shape[1], 1))
    out = np.where(hit, shade, 0.0)[::-1, ::-1]  # superior up; patient right on the viewer's left
    return (np.repeat(out[..., None], 3, axis=2) * 255).astype(np.uint8)


def _fit(rgb: np.ndarray, h: int) -> np.ndarray:
    from PIL import Image

    w = max(1, round(rgb.shape[1] * h / rgb.shape[0]))
    return np.asarray(Image.fromarray(rgb).resize((w, h), Image.BILINEAR))


TILES = ("axial 1", "axial 2", "axial 3", "coronal", "sagittal", "front")


def default_slices(volume: Volume) -> list[int]:
    """The mosaic's slice per tile (axial z x3 through the kept brain, coronal y, sagittal x)."""
    v = volume.voxels
    kept = v > 0
    z0, z1 = (np.nonzero(kept.any(axis=(1, 2)))[0][[0, -1]] if kept.any() else (0, v.shape[0] - 1))
    return [int(z0 + f * (z1 - z0)) for f in (0.35, 0.55, 0.75)] + [v.shape[1] // 2, v.shape[2] // 2]


GAP = 4  # pixels between tiles


def mosaic(volume: Volume, height: int = 160, slices: list[int] | None = None) -> np.ndarray:
    """Axial x3, coronal, sagittal (mask outlined) and the front view, side by side (RGB uint8).
    `slices`: z, z, z, y, x of the five slice tiles (default: `default_slices`), clipped to the volume."""
    tiles = mosaic_tiles(volume, height, slices)
    gap = np.zeros((height, GAP, 3), np.uint8)
    row = []
    for t in tiles:
        row += [t, gap]
    return np.concatenate(row[:-1], axis=1)


def mosaic_tiles(volume: Volume, height: int = 160, slices: list[int] | None = None) -> list[np.ndarray]:
    """The mosaic's six tiles (see `mosaic`), each `height` pixels high."""
    v = volume.voxels
    kept = v > 0
    dz, dy, dx = volume.spacing
    zs = slices or default_slices(volume)
    lim = (v.shape[0], v.shape[0], v.shape[0], v.shape[1], v.shape[2])
    *axial, y, x = (int(np.clip(i, 0, n - 1)) for i, n in zip(zs, lim))
    tiles = [_outlined(v[z, ::-1, ::-1], kept[z, ::-1, ::-1]) for z in axial]  # radiological axial
    cor = _outlined(v[::-1, y, ::-1], kept[::-1, y, ::-1])
    sag = _outlined(v[::-1, :, x], kept[::-1, :, x])
    front = front_view(volume)
    from PIL import Image

    def aspect(rgb: np.ndarray, sy: float, sx: float) -> np.ndarray:  # square pixels in mm
        return np.asarray(Image.fromarray(rgb).resize((max(1, round(rgb.shape[1] * sx)), max(1, round(rgb.shape[0] * sy)))))

    tiles = [aspect(t, dy, dx) for t in tiles] + [aspect(cor, dz, dx), aspect(sag, dz, dy), aspect(front, dz, dx)]
    return [_fit(t, height) for t in tiles]


def png_bytes(rgb: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG", optimize=True)
    return buf.getvalue()
