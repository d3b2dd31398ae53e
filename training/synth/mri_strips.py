"""Skull strips of real heads made by real tools and their real failures, with measured labels and
domain randomisation, written as NIfTI files plus the BET-BSE `label_file.csv`.

Strips (each on a head of training.synth.mri_heads, 1.5 mm grid):
  bet          brainextractor (FSL BET in Python) at fractional intensity 0.1-0.8 and with its start
               sphere moved / resized (loose strips keep eyes and face, tight ones eat cortex)
  deepbet      the reference network mask (deepbet or the shipped brain), dilated or eroded 0-9 mm
  cut          a good strip cut by a top, bottom, frontal or oblique plane
  loose_face   a strip grown 8-25 mm that keeps part of the face
  unstripped   the whole head; defaced: pydeface's face mask applied (registered) or quickshear
Labels are measured against the reference masks, never chosen:
  face kept     >= 30 % of the face mask kept
  brain loss    >= 5 % of the reference brain removed
  not stripped  >= 60 % of the extra-cerebral, non-face tissue (> 10 mm from the brain) kept
Randomisation: voxel size 0.7-2 mm (anisotropic half the time), field of view / neck coverage,
tilt +-10 deg, orientation as stored (axis flips / permutations in the file), bias field (7T-like:
strong), Rician noise, contrast (MPRAGE as is, SPGR-like flatter, gamma), 8-bit rescaling; optionally
(`mri-real --random-size`) the brain's size, 1000-2100 ml (the heads differ in size, 4 are MNI-space averages).
"""

from __future__ import annotations

import contextlib
import gzip
import io
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage

from training.synth.mri_heads import BASE_MM, Head, cache_dir

FACE_KEPT = 0.30
BRAIN_LOSS = 0.05
NOT_STRIPPED = 0.60
SIZE_ML = (1000.0, 2100.0)  # brain volumes the strips are written at (render: size randomisation, since stop 15)
LABEL_COLUMNS = ("Recognizable-Facial-Feature", "Brain-Feature-Loss", "Not-Skull-Stripped")
BET_SETTINGS = ((0.1, 0.0, 1.0), (0.3, 0.0, 1.0), (0.5, 0.0, 1.0), (0.7, 0.0, 1.0), (0.8, 0.0, 0.8),
                (0.5, -15.0, 1.3), (0.3, 20.0, 1.2))  # (fractional threshold, centre shift z/y mm, radius factor)


# ----------------------------------------------------------------------------- real tools

def bet_cache_key(head: Head, bt: float, shift_mm: float, radius: float, iterations: int) -> str:
    """12 hex digits over everything a BET mask depends on: the head image itself (so an edit to the head loader or
    its real files gives a new mask), the settings, brainextractor's version and bet_mask's own source. Before
    stop 31 the cache was named by the head's name and the settings alone, so a changed head kept its old masks."""
    import hashlib
    import importlib.metadata
    import inspect

    h = hashlib.sha1(np.ascontiguousarray(head.image, dtype=np.float32).tobytes())
    h.update(repr((head.image.shape, float(bt), float(shift_mm), float(radius), int(iterations))).encode())
    h.update(importlib.metadata.version("brainextractor").encode())
    h.update(inspect.getsource(bet_mask).encode())
    return h.hexdigest()[:12]


def bet_mask(head: Head, bt: float, shift_mm: float, radius: float, iterations: int = 1000) -> np.ndarray:
    """brainextractor (FSL BET) on the head image; the start sphere moved down/forward by shift_mm
    and scaled by radius, as a user's wrong -c/-r would. Cached per head image, setting and code (bet_cache_key)."""
    path = cache_dir() / f"bet_{head.name}_{bet_cache_key(head, bt, shift_mm, radius, iterations)}.npz"
    if path.exists():
        return np.load(path)["mask"]
    import trimesh
    from brainextractor import BrainExtractor

    img = nib.Nifti1Image((head.image.transpose(2, 1, 0) * 1000).astype(np.float32), np.diag([BASE_MM] * 3 + [1.0]))  # BET expects scanner-like values
    with contextlib.redirect_stdout(io.StringIO()):
        b = BrainExtractor(img, bt=bt)
        if shift_mm or radius != 1.0:
            c = b.c + np.array([0.0, shift_mm, -abs(shift_mm)]) / BASE_MM  # forward/back and down (x, y, z)
            s = trimesh.creation.icosphere(subdivisions=4, radius=b.r * radius)
            s.apply_translation(c)
            b.surface, b.vertices = s, np.array(s.vertices)
            b.update_surface_attributes()
        b.run(iterations=iterations)
        m = b.compute_mask() > 0
    m = np.ascontiguousarray(m.transpose(2, 1, 0))
    np.savez_compressed(path, mask=m)
    return m


def quickshear_keep(head: Head, buff_mm: float) -> np.ndarray:
    """quickshear's defacing plane (from the brain mask) as a keep-mask on the head grid."""
    import quickshear

    aff = np.diag([BASE_MM] * 3 + [1.0])
    ones = nib.Nifti1Image(np.ones(head.brain.shape[::-1], np.uint8), aff)
    mask = nib.Nifti1Image(head.brain.transpose(2, 1, 0).astype(np.uint8), aff)
    out = quickshear.quickshear(ones, mask, buff=int(round(buff_mm / BASE_MM)))
    return np.ascontiguousarray(np.asanyarray(out.dataobj).transpose(2, 1, 0)) > 0


# ----------------------------------------------------------------------------- strips

@dataclass
class Strip:
    kind: str
    detail: str
    kept: np.ndarray  # bool on the head grid; None-like all True for unstripped heads
    stripped: bool  # False: the image is the head (background and all), cut only by `kept`


def _sdf(head: Head) -> np.ndarray:
    return (ndimage.distance_transform_edt(~head.brain, sampling=BASE_MM)
            - ndimage.distance_transform_edt(head.brain, sampling=BASE_MM)).astype(np.float32)


def _plane_cut(head: Head, rng: np.random.Generator, where: str, frac: float) -> np.ndarray:
    """Keep-mask removing `frac` of the brain with a plane from the top, bottom, front or obliquely."""
    normals = {"top": (1.0, 0, 0), "bottom": (-1.0, 0, 0), "frontal": (0, 1.0, 0),
               "oblique": tuple(rng.normal(0, 1, 3) * (0.6, 1, 0.6) + (0.8, 0.3, 0))}
    n = np.asarray(normals[where], np.float64)
    n /= np.linalg.norm(n)
    zz, yy, xx = np.nonzero(head.brain)
    proj = zz * n[0] + yy * n[1] + xx * n[2]
    limit = np.quantile(proj, 1 - frac)
    g = np.indices(head.brain.shape, dtype=np.float32)
    return (g[0] * n[0] + g[1] * n[1] + g[2] * n[2]) <= limit


def make_strips(head: Head, rng: np.random.Generator, n_unit: int = 1, kinds: tuple[str, ...] | None = None) -> list[Strip]:
    """One head's strips (the recipe in the module docstring); n_unit scales the counts. `kinds`:
    only these (BET, the slow tool, runs only when "bet" is asked for; the other strips and their
    draws do not depend on it)."""
    sdf = _sdf(head)
    out: list[Strip] = []
    for _ in range(5 * n_unit):
        off = float(rng.uniform(-1.0, 2.5))
        out.append(Strip("good", f"reference {off:+.1f} mm", sdf <= off, True))
    for _ in range(6 * n_unit):
        off = float(rng.choice([rng.uniform(-9, -2), rng.uniform(3, 9)]))
        out.append(Strip("deepbet", f"reference {'dilated' if off > 0 else 'eroded'} {abs(off):.1f} mm", sdf <= off, True))
    for where in ("top", "bottom", "frontal", "oblique") * (3 * n_unit):
        frac = float(rng.choice([rng.uniform(0.005, 0.04), rng.uniform(0.06, 0.3)]))
        out.append(Strip("cut", f"{where} cut {frac:.0%}", (sdf <= rng.uniform(0, 2)) & _plane_cut(head, rng, where, frac), True))
    if head.brain_only:
        return out
    for bt, shift, rad in BET_SETTINGS if kinds is None or "bet" in kinds else ():
        for _ in range(n_unit):
            out.append(Strip("bet", f"BET f={bt} shift={shift:g} mm r x{rad}", bet_mask(head, bt, shift, rad) & head.head, True))
    if head.face.any():
        for _ in range(6 * n_unit):
            reach = float(rng.uniform(15, 80))
            kept = (sdf <= rng.uniform(6, 20)) | (head.face & (sdf <= reach))
            out.append(Strip("loose_face", f"grown, face reach {reach:.0f} mm", kept & (head.head | head.brain), True))
    full = np.ones_like(head.brain)
    for _ in range(4 * n_unit):
        out.append(Strip("unstripped", "whole head", full, False))
    if head.face.any():
        for _ in range(2 * n_unit):
            out.append(Strip("defaced", "pydeface face mask (registered)", ~ndimage.binary_dilation(head.face, iterations=2), False))
            out.append(Strip("defaced", "quickshear", quickshear_keep(head, float(rng.uniform(5, 15))), False))
    return out


def measure_labels(head: Head, kept: np.ndarray) -> dict[str, float]:
    """Fractions against the reference masks (the labels' basis)."""
    far = head.head & ~head.face & ~ndimage.binary_dilation(head.brain, iterations=int(round(10 / BASE_MM)))
    face_n, brain_n, far_n = head.face.sum(), head.brain.sum(), far.sum()
    return {"face_kept": float((kept & head.face).sum() / face_n) if face_n else 0.0,
            "brain_lost": float((head.brain & ~kept).sum() / max(brain_n, 1)),
            "scalp_kept": float((kept & far).sum() / far_n) if far_n > 1000 else 0.0}


def labels_of(fr: dict[str, float]) -> tuple[bool, bool, bool]:
    return fr["face_kept"] >= FACE_KEPT, fr["brain_lost"] >= BRAIN_LOSS, fr["scalp_kept"] >= NOT_STRIPPED


# ----------------------------------------------------------------------------- randomisation

def _smooth_field(rng: np.random.Generator, shape: tuple[int, ...], amplitude: float) -> np.ndarray:
    small = rng.normal(0, 1, (4, 4, 4)).astype(np.float32)
    f = ndimage.zoom(small, [s / 4 for s in shape], order=3, grid_mode=True, mode="nearest")[: shape[0], : shape[1], : shape[2]]
    f = np.pad(f, [(0, s - fs) for s, fs in zip(shape, f.shape)], mode="edge")
    return (amplitude * f / max(float(np.abs(f).max()), 1e-6)).astype(np.float32)


@dataclass
class Rendered:
    data: np.ndarray  # [x, y, z] as stored
    affine: np.ndarray
    fractions: dict[str, float]
    recipe: str


def render(head: Head, strip: Strip, rng: np.random.Generator, max_voxels: int = 12_000_000, random_size: bool = False) -> Rendered:
    """The strip as a scanner + tool would have written it (see module docstring). `random_size`: write it at a brain
    volume drawn from SIZE_ML (off by default: the shipped skullstrip_qc 2.2.0 was trained without it, and with it
    off the draws are those of its data)."""
    img = head.image.copy()
    contrast = str(rng.choice(["mprage", "mprage", "spgr", "7t"]))
    if contrast == "spgr":
        img = 0.55 * img + 0.45 * ndimage.gaussian_filter(img, 1.2)
    img = np.power(np.clip(img, 0, None), rng.uniform(0.7, 1.4)).astype(np.float32)
    img *= np.exp(_smooth_field(rng, img.shape, rng.uniform(0.35, 0.6) if contrast == "7t" else rng.uniform(0.0, 0.25)))
    kept = strip.kept.copy()
    # field of view: drop some of the neck / lower head (never the top of the brain)
    zb = np.nonzero(head.brain.any(axis=(1, 2)))[0]
    zh = np.nonzero(head.head.any(axis=(1, 2)))[0]
    z0 = int(rng.integers(zh[0], max(zh[0] + 1, zb[0] - 5))) if rng.random() < 0.6 else 0
    fov = np.zeros_like(kept)
    fov[z0:] = True
    kept &= fov
    fr = measure_labels(head, kept)
    sigma = rng.uniform(0.005, 0.05) * (2.0 if contrast == "7t" else 1.0)
    noisy = rng.random() < 0.7
    if noisy:
        n1 = img + rng.normal(0, sigma, img.shape).astype(np.float32)
        img = np.sqrt(n1 * n1 + rng.normal(0, sigma, img.shape).astype(np.float32) ** 2)
    # an unstripped head keeps its background (scanner noise) except where a defacing tool zeroed it:
    # `kept` is the field of view for a whole head and the tool's keep-mask for a defaced one
    img = np.where(kept, img, np.float32(0)).astype(np.float32)
    img = img[z0:]
    # voxel size, tilt: resample onto the new grid
    sp = rng.uniform(0.7, 2.0, 3) if rng.random() < 0.5 else np.full(3, rng.uniform(0.7, 2.0))
    ext = np.array(img.shape) * BASE_MM
    while np.prod(ext / sp) > max_voxels:
        sp *= 1.1
    shape = tuple(int(e) for e in np.ceil(ext / sp))
    ang = np.radians(rng.uniform(-10, 10, 3))
    rot = _rotation(ang)
    centre_out = (np.array(shape) - 1) / 2 * sp
    centre_in = (np.array(img.shape) - 1) / 2 * BASE_MM
    g = [np.arange(n, dtype=np.float32) * s - c for n, s, c in zip(shape, sp, centre_out)]
    coords = [(rot[i, 0] * g[0][:, None, None] + rot[i, 1] * g[1][None, :, None] + rot[i, 2] * g[2][None, None, :]
               + centre_in[i]) / BASE_MM for i in range(3)]
    out = ndimage.map_coordinates(img, coords, order=1, mode="constant", cval=0.0, prefilter=False)
    del coords
    # storage: 8-bit rescale or int16 at a random scale
    hi = float(np.percentile(out[out > 0], 99.9)) if (out > 0).any() else 1.0
    if rng.random() < 0.3:
        out = np.clip(np.rint(out / hi * 255), 0, 255).astype(np.uint8)
        depth = "uint8"
    else:
        out = np.clip(np.rint(out / hi * rng.uniform(300, 4000)), 0, 32767).astype(np.int16)
        depth = "int16"
    data = out.transpose(2, 1, 0)  # [x, y, z]
    # physical size (random_size): 4 of the 7 heads are MNI-space averages (brains of 1877-2015 ml) and the rest native
    # (1241-1800 ml), so a model learned the brain's size as brain loss; each strip is written at a brain
    # volume drawn from 1000-2100 ml (log-uniform) by scaling its voxel size. Labels are fractions: unchanged.
    size = 1.0
    if random_size:
        v_head = float(head.brain.sum()) * BASE_MM ** 3 / 1000.0
        size = (float(np.exp(rng.uniform(np.log(SIZE_ML[0]), np.log(SIZE_ML[1])))) / max(v_head, 1.0)) ** (1.0 / 3.0)
        sp = sp * size
    affine = np.diag([sp[2], sp[1], sp[0], 1.0])
    codes = [("R", "A", "S"), ("L", "A", "S"), ("L", "P", "S"), ("R", "A", "I"), ("A", "S", "R"), ("P", "I", "L")][int(rng.integers(0, 6))]
    ornt = nib.orientations.axcodes2ornt(codes)
    data = nib.orientations.apply_orientation(data, ornt)
    affine = affine @ nib.orientations.inv_ornt_aff(ornt, out.transpose(2, 1, 0).shape)
    recipe = (f"{strip.kind}: {strip.detail}; {contrast}, {f'size x{size:.2f}, ' if random_size else ''}voxel {sp[2]:.2f}x{sp[1]:.2f}x{sp[0]:.2f} mm, "
              f"neck cut {z0 * BASE_MM:.0f} mm, tilt {np.degrees(np.abs(ang)).max():.0f} deg, {'noise' if noisy else 'clean'}, {depth}, stored {''.join(codes)}")
    return Rendered(np.ascontiguousarray(data), affine, fr, recipe)


def _rotation(a: np.ndarray) -> np.ndarray:
    cx, sx, cy, sy, cz, sz = np.cos(a[0]), np.sin(a[0]), np.cos(a[1]), np.sin(a[1]), np.cos(a[2]), np.sin(a[2])
    return (np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]]) @ np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
            @ np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]]))


def write_nifti(r: Rendered, path: Path) -> None:
    """Deterministic bytes (gzip without a timestamp)."""
    img = nib.Nifti1Image(r.data, r.affine)
    img.header.set_xyzt_units("mm")
    with open(path, "wb") as fh, gzip.GzipFile(fileobj=fh, mode="wb", mtime=0, filename="", compresslevel=1) as gz:
        gz.write(img.to_bytes())
