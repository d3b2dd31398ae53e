"""Volume-rendering presets for the 3D view: transfer functions as plain data (HU for CT,
percentiles for MR), so they can be read, tested and tuned without VTK. No Qt, no VTK here."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage


@dataclass(frozen=True)
class Preset3D:
    """Colour and opacity transfer functions over the voxel values, plus shading.

    `colors` are (value, r, g, b) with r, g, b in 0..1; `opacity` are (value, alpha) per unit length
    (VTK's scalar opacity); `gradient` optionally scales opacity by gradient magnitude (surfaces).
    `intracranial`: render only the skull and what lies inside it (CT brain preset), so the scalp and
    the partial-volume rim at the inner table do not hide the brain and any blood."""

    name: str
    label: str
    colors: tuple[tuple[float, float, float, float], ...]
    opacity: tuple[tuple[float, float], ...]
    gradient: tuple[tuple[float, float], ...] | None = None
    ambient: float = 0.15
    diffuse: float = 0.85
    specular: float = 0.2
    specular_power: float = 12.0
    intracranial: bool = False


CT_PRESETS: dict[str, Preset3D] = {
    "bone": Preset3D(
        "bone", "Bone (CT)",
        colors=((-1024, 0, 0, 0), (150, 0.55, 0.27, 0.18), (300, 0.90, 0.80, 0.64), (900, 1.0, 0.97, 0.90), (3000, 1, 1, 1)),
        opacity=((-1024, 0), (160, 0), (320, 0.55), (900, 0.85), (3000, 0.9)),
    ),
    "skin": Preset3D(
        "skin", "Skin (CT)",
        colors=((-1024, 0, 0, 0), (-500, 0.55, 0.30, 0.22), (-150, 0.93, 0.70, 0.58), (100, 0.96, 0.78, 0.68),
                (400, 1.0, 0.96, 0.88), (3000, 1, 1, 1)),
        opacity=((-1024, 0), (-450, 0), (-200, 0.85), (3000, 0.9)),
        specular=0.1,
    ),
    "brain": Preset3D(
        "brain", "Brain + blood (CT)",
        colors=((-1024, 0, 0, 0), (15, 0.55, 0.45, 0.42), (35, 0.85, 0.74, 0.68), (50, 0.95, 0.35, 0.22),
                (70, 0.95, 0.12, 0.08), (100, 0.8, 0.1, 0.05), (250, 0.9, 0.88, 0.84), (3000, 1, 1, 1)),
        opacity=((-1024, 0), (15, 0), (25, 0.008), (44, 0.01), (56, 0.4), (90, 0.5), (110, 0.0), (250, 0.0),
                 (400, 0.03), (3000, 0.05)),  # blood opaque, brain a haze, the skull glass
        ambient=0.3, diffuse=0.7, specular=0.1, intracranial=True,
    ),
}


def mr_preset(voxels: np.ndarray) -> Preset3D:
    """MR has no absolute scale: place the ramps at percentiles of the non-background voxels
    (p15 -> transparent, p55 -> half, p99.5 -> opaque), grey-white colours."""
    v = voxels[np.isfinite(voxels)]
    fg = v[v > np.percentile(v, 2) + 1e-6 * max(1.0, float(np.ptp(v)))] if v.size else v
    if fg.size < 100:
        fg = v if v.size else np.zeros(1, np.float32)
    p = np.percentile(fg, [5, 15, 55, 85, 99.5]).astype(float)
    p = np.maximum.accumulate(p + np.arange(5) * 1e-3)  # strictly increasing points
    lo = float(np.min(v)) if v.size else 0.0
    return Preset3D(
        "mr", "MR (percentiles)",
        colors=((min(lo, p[0] - 1), 0, 0, 0), (p[0], 0.35, 0.28, 0.26), (p[2], 0.78, 0.70, 0.66), (p[3], 0.95, 0.92, 0.88),
                (p[4], 1, 1, 1)),
        opacity=((min(lo, p[0] - 1), 0), (p[1], 0), (p[2], 0.35), (p[4], 0.9)),
        gradient=((0, 0.2), (max(1e-3, (p[3] - p[1]) * 0.15), 1.0)),
        ambient=0.2, diffuse=0.8, specular=0.15,
    )


def presets_for(modality: str) -> list[str]:
    """Preset names offered for a modality (CT: the HU presets; anything else: the MR preset)."""
    return list(CT_PRESETS) if modality == "CT" else ["mr"]


def brain_and_skull_mask(hu: np.ndarray, bone_hu: float = 250.0) -> np.ndarray:
    """True where a voxel is bone or intracranial: what the CT brain preset keeps (the rest is air)."""
    return intracranial_mask(hu, bone_hu) | (hu > bone_hu)


def intracranial_mask(hu: np.ndarray, bone_hu: float = 250.0, erode_px: int = 2) -> np.ndarray:
    """Voxels inside the skull, per axial slice: fill the holes of the bone ring, remove the bone,
    erode a little (the partial-volume rim at the inner table reads like blood), and drop voxels whose
    neighbouring slice is not inside (the vertex slice cuts the inner table tangentially). Slices
    whose skull is open (skull base, vertex) give little or nothing: that is the cost of a cheap mask."""
    bone = hu > bone_hu
    out = np.zeros_like(bone)
    struct = ndimage.generate_binary_structure(2, 1)
    for z in range(hu.shape[0]):
        if not bone[z].any():
            continue
        ring = ndimage.binary_closing(bone[z], struct, iterations=2)
        inside = ndimage.binary_fill_holes(ring) & ~ring
        if erode_px:
            inside = ndimage.binary_erosion(inside, struct, iterations=erode_px)
        out[z] = inside
    if out.shape[0] >= 3:
        out = ndimage.binary_erosion(out, structure=np.ones((3, 1, 1), bool))
    return out


def upsample_z(vox: np.ndarray, factor: int, profile: float = 0.8, inplane_sigma: float = 2.0) -> np.ndarray:
    """Catmull-Rom interpolation along z, `factor` - 1 new slices between each pair, with a Gaussian
    of `inplane_sigma` voxels in-plane (before) and `profile` original slices along z (after).
    Thick CT slices (5 mm) rendered as they are show terraces: every column whose edge falls between
    the same two slices crosses the threshold at the same height, and the shading bands. The in-plane
    blur lets neighbouring columns cross at different heights, which ramps the terraces into a
    surface. The defaults (0.8 slice along z, 2 voxels in-plane at the 256-voxel display grid) were
    chosen by looking at the demo's 5 mm phantom: terraces mostly gone, skull base still resolved.
    For display only: the 2D views and the models never see these voxels.
    Output has (nz - 1) * factor + 1 slices."""
    nz = vox.shape[0]
    if factor <= 1 or nz < 2:
        return vox
    if inplane_sigma > 0:
        vox = ndimage.gaussian_filter(vox, sigma=(0, inplane_sigma, inplane_sigma), mode="nearest")
    pos = np.arange((nz - 1) * factor + 1) / factor
    i1 = np.minimum(np.floor(pos).astype(int), nz - 2)
    t = (pos - i1)[:, None, None].astype(np.float32)
    i0, i2, i3 = np.maximum(i1 - 1, 0), i1 + 1, np.minimum(i1 + 2, nz - 1)
    p0, p1, p2, p3 = vox[i0], vox[i1], vox[i2], vox[i3]
    out = 0.5 * ((2 * p1) + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2 + (3 * p1 - p0 - 3 * p2 + p3) * t**3)
    if profile > 0:
        out = ndimage.gaussian_filter1d(out, sigma=profile * factor, axis=0, mode="nearest")
    return out.astype(np.float32)


def z_factor(spacing_zyx: tuple[float, float, float], stride: int) -> int:
    """New slices per original slice so that z spacing comes near 1.5 x the rendered in-plane spacing."""
    inplane = min(spacing_zyx[1], spacing_zyx[2]) * stride
    return max(1, min(4, int(spacing_zyx[0] // (1.5 * inplane))))
