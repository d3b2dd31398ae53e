"""Skull-stripped T1 MRI with QC labels, in the BET-BSE dataset's format.

Anatomy comes from a real T1 head with its face that a PyPI package ships (pydeface's
`mean_reg2mean.nii.gz` and its face mask). The reference brain mask of that head is made once by a
real brain-extraction network shipped on PyPI (deepbet, run on the CPU) and cached. Each subject is
the head under a random affine (scale, rotation, shift) and a smooth random deformation, with a
bias field and Rician noise; then it is "stripped" with a setting drawn from a range, as the
BET-BSE dataset's tools were run with a range of settings:

  good        brain mask offset -0.5..+2.5 mm
  too tight   brain mask eroded 2.5-7 mm, or a cap of the brain cut off by a plane (failed strip)
  too loose   mask grown 10-25 mm into skull and scalp, and part of the face kept (privacy leak)

Labels are measured on the masks, never chosen:
  Recognizable-Facial-Feature = Yes when >= FACE_KEPT_THRESHOLD of the face's tissue is kept
  Brain-Feature-Loss          = Yes when >= BRAIN_LOSS_THRESHOLD of the reference brain is removed
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage

FACE_KEPT_THRESHOLD = 0.30
BRAIN_LOSS_THRESHOLD = 0.05
TISSUE_THRESHOLD = 40.0  # template intensity above air/background
SETTINGS = ("good", "tight", "loose")


def _pydeface_data() -> Path:
    import pydeface

    return Path(pydeface.__file__).resolve().parent / "data"


def _cache_dir() -> Path:
    base = Path(os.environ.get("NEUROREVIEW_CACHE", Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "neuroreview"))
    base.mkdir(parents=True, exist_ok=True)
    return base


@dataclass
class MRITemplate:
    image: np.ndarray  # float32 [x, y, z], RAS
    affine: np.ndarray
    brain_sdf: np.ndarray  # float32 signed distance to the reference brain surface, mm (< 0 inside)
    face: np.ndarray  # bool: face region (pydeface's mask == 0) with tissue
    head: np.ndarray  # bool: tissue (not background)
    brain_method: str


def reference_brain_mask(image_path: Path) -> np.ndarray:
    """Brain mask of the template by deepbet (a real, trained brain-extraction network)."""
    import torch
    from deepbet.bet import BrainExtraction

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    _, mask, _ = BrainExtraction(no_gpu=True).run(nib.load(str(image_path)))
    return np.asanyarray(mask.dataobj) > 0


def load_template() -> MRITemplate:
    data = _pydeface_data()
    head_img = nib.as_closest_canonical(nib.load(str(data / "mean_reg2mean.nii.gz")))
    image = np.asarray(head_img.get_fdata(dtype=np.float32))
    key = hashlib.sha256((data / "mean_reg2mean.nii.gz").read_bytes()).hexdigest()[:16]
    cache = _cache_dir() / f"mri_template_{key}.npz"
    if cache.exists():
        z = np.load(cache)
        brain, sdf = z["brain"], z["sdf"]
    else:
        brain = reference_brain_mask(data / "mean_reg2mean.nii.gz")
        zooms = head_img.header.get_zooms()[:3]
        sdf = (ndimage.distance_transform_edt(~brain, sampling=zooms) - ndimage.distance_transform_edt(brain, sampling=zooms)).astype(np.float32)
        np.savez_compressed(cache, brain=brain, sdf=sdf)
    face_keep = np.asarray(nib.as_closest_canonical(nib.load(str(data / "facemask.nii.gz"))).get_fdata(dtype=np.float32)) > 0.5
    head = image > TISSUE_THRESHOLD
    return MRITemplate(image=image, affine=head_img.affine, brain_sdf=sdf, face=(~face_keep) & head, head=head, brain_method="deepbet 1.0.2 on pydeface mean_reg2mean")


@dataclass
class SynthMRI:
    seed: int
    stripped: np.ndarray  # float32 [x, y, z], the skull-stripped image (zero outside the mask)
    affine: np.ndarray
    kept: np.ndarray  # bool mask the strip kept
    brain: np.ndarray  # bool reference brain mask (deformed)
    face: np.ndarray  # bool face tissue (deformed)
    setting: str
    offset_mm: float
    face_kept_frac: float
    brain_lost_frac: float

    @property
    def face_label(self) -> bool:
        return self.face_kept_frac >= FACE_KEPT_THRESHOLD

    @property
    def brain_loss_label(self) -> bool:
        return self.brain_lost_frac >= BRAIN_LOSS_THRESHOLD


def _cosine_field(rng: np.random.Generator, shape: tuple[int, int, int], order: int, amplitude: float) -> np.ndarray:
    """A smooth random field as a low-order separable cosine series (cheap: a few volume passes)."""
    axes = [np.cos(np.pi * np.arange(order)[:, None] * (np.arange(n)[None, :] + 0.5) / n).astype(np.float32) for n in shape]
    coef = rng.normal(0, 1, (order, order, order)).astype(np.float32) / (1 + np.add.outer(np.add.outer(np.arange(order), np.arange(order)), np.arange(order)))
    coef[0, 0, 0] = 0
    yz = np.einsum("ijk,jy,kz->iyz", coef, axes[1], axes[2])
    field = np.einsum("ix,iyz->xyz", axes[0], yz, optimize=True)
    return (amplitude / max(float(np.abs(field).max()), 1e-6) * field).astype(np.float32)


def _source_coords(rng: np.random.Generator, shape: tuple[int, int, int], max_rot_deg: float, deform_mm: float) -> list[np.ndarray]:
    """Where each output voxel samples the template: affine about the centre plus smooth warp."""
    angles = np.radians(rng.uniform(-max_rot_deg, max_rot_deg, 3))
    scale = rng.uniform(0.92, 1.08, 3)
    cx, sx = np.cos(angles[0]), np.sin(angles[0])
    cy, sy = np.cos(angles[1]), np.sin(angles[1])
    cz, sz = np.cos(angles[2]), np.sin(angles[2])
    rot = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]]) @ np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]]) @ np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    mat = (rot / scale[None, :]).astype(np.float32)
    center = (np.array(shape, dtype=np.float32) - 1) / 2
    shift = rng.uniform(-6, 6, 3).astype(np.float32)
    grids = [np.arange(n, dtype=np.float32) - c for n, c in zip(shape, center)]
    coords = []
    for i in range(3):
        c = (mat[i, 0] * grids[0][:, None, None] + mat[i, 1] * grids[1][None, :, None] + mat[i, 2] * grids[2][None, None, :])
        c = c + (center[i] + shift[i])
        c += _cosine_field(rng, shape, 4, deform_mm)
        coords.append(c)
    return coords


def draw_setting(rng: np.random.Generator, setting: str | None) -> tuple[str, float, dict]:
    setting = setting or str(rng.choice(SETTINGS, p=[0.4, 0.3, 0.3]))
    if setting == "good":
        return setting, float(rng.uniform(-0.5, 2.5)), {}
    if setting == "tight":
        if rng.random() < 0.5:
            return setting, float(rng.uniform(-7.0, -2.5)), {}
        normal = rng.normal(0, 1, 3)
        normal[2] = abs(normal[2]) + 0.5  # caps from the top or side, as failed strips cut
        return setting, float(rng.uniform(-0.5, 1.5)), {"cut_normal": normal / np.linalg.norm(normal), "cut_keep": float(rng.uniform(0.55, 0.8))}
    if setting == "loose":
        return setting, float(rng.uniform(10.0, 25.0)), {"face_reach": float(rng.uniform(25, 80))}
    raise ValueError(f"setting must be one of {SETTINGS}")


@dataclass
class SynthHead:
    """One subject's head before stripping (shared by that subject's strips)."""

    subject: int
    image: np.ndarray
    sdf: np.ndarray
    face: np.ndarray
    head: np.ndarray
    affine: np.ndarray


def make_mri_head(subject: int, template: MRITemplate | None = None) -> SynthHead:
    """Deformed template head with bias field and Rician noise; deterministic per subject."""
    tpl = template or load_template()
    rng = np.random.default_rng(10_000_019 + subject)
    shape = tpl.image.shape
    coords = _source_coords(rng, shape, max_rot_deg=8.0, deform_mm=rng.uniform(1.5, 4.0))
    image = ndimage.map_coordinates(tpl.image, coords, order=1, mode="constant", cval=0.0, prefilter=False)
    sdf = ndimage.map_coordinates(tpl.brain_sdf, coords, order=1, mode="nearest", prefilter=False)
    face = ndimage.map_coordinates(tpl.face.view(np.uint8), coords, order=0, mode="constant", prefilter=False).astype(bool)
    head = image > TISSUE_THRESHOLD
    image *= np.exp(_cosine_field(rng, shape, 3, rng.uniform(0.05, 0.2)))
    sigma = np.float32(rng.uniform(4, 12))
    n1 = rng.standard_normal(shape, dtype=np.float32)
    n1 *= sigma
    n1 += image
    n2 = rng.standard_normal(shape, dtype=np.float32)
    n2 *= sigma
    image = np.sqrt(n1 * n1 + n2 * n2)
    return SynthHead(subject, image, sdf, face, head, tpl.affine.copy())


def strip(head: SynthHead, seed: int, setting: str | None = None) -> SynthMRI:
    """Skull-strip a head with a drawn setting; the labels are measured on the masks."""
    rng = np.random.default_rng(seed)
    shape = head.image.shape
    setting, offset, extra = draw_setting(rng, setting)
    sdf, face = head.sdf, head.face
    brain = sdf <= 0
    kept = sdf <= offset
    if "cut_normal" in extra:
        axis = extra["cut_normal"]
        idx = np.argwhere(brain[::4, ::4, ::4]) * 4
        limit = np.quantile(idx @ axis, extra["cut_keep"])  # keep this fraction of the brain below the plane
        plane = (np.arange(shape[0], dtype=np.float32)[:, None, None] * axis[0]
                 + np.arange(shape[1], dtype=np.float32)[None, :, None] * axis[1]
                 + np.arange(shape[2], dtype=np.float32)[None, None, :] * axis[2])
        kept &= plane <= limit
    if "face_reach" in extra:
        kept |= face & (sdf <= extra["face_reach"])
        kept &= head.head | brain
    stripped = np.where(kept, head.image, np.float32(0.0))
    face_total = max(int(face.sum()), 1)
    brain_total = max(int(brain.sum()), 1)
    return SynthMRI(seed=seed, stripped=stripped, affine=head.affine, kept=kept, brain=brain, face=face,
                    setting=setting, offset_mm=offset, face_kept_frac=float(np.count_nonzero(kept & face) / face_total),
                    brain_lost_frac=float(np.count_nonzero(brain & ~kept) / brain_total))


def make_mri_subject(seed: int, template: MRITemplate | None = None, setting: str | None = None) -> SynthMRI:
    """One head (subject = seed) stripped once with a drawn or given setting."""
    return strip(make_mri_head(seed, template), seed, setting)


def write_nifti(subject: SynthMRI, path: str | Path) -> None:
    """int16 NIfTI as skull-stripping tools write; deterministic bytes (gzip without a timestamp)."""
    data = np.clip(np.rint(subject.stripped), 0, 32767).astype(np.int16)
    img = nib.Nifti1Image(data, subject.affine)
    img.header.set_xyzt_units("mm")
    img.header["descrip"] = b"NeuroReview synthetic skull strip"
    path = Path(path)
    raw = img.to_bytes()
    if path.name.endswith(".gz"):
        import gzip

        with open(path, "wb") as fh, gzip.GzipFile(fileobj=fh, mode="wb", mtime=0, filename="", compresslevel=6) as gz:
            gz.write(raw)
    else:
        path.write_bytes(raw)
