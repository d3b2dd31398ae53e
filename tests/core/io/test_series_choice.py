"""Which series `load` opens when a folder holds several (core.io.series_choice): a soft-tissue axial CT before
a larger bone-kernel or reformatted one, with the reason in the mixed-series warning."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pydicom
import pytest

from core.io import load, scan
from core.io.series_choice import default_series, kernel_class, plane_of, preferred_series
from core.volume import WarningCode
from tests.core.io.dicom_factory import phantom_hu, write_ct_series


@pytest.mark.parametrize("kernel, description, want", [
    ("H30s", "", "soft"), ("H70h", "", "sharp"), ("Hr38", "", "soft"), ("Hr64", "", "sharp"), ("J40s", "", "soft"),
    ("B30f", "", "soft"), ("H50s", "", "unknown"),  # Siemens: the number is the sharpness
    ("STANDARD", "", "soft"), ("STD+", "", "soft"), ("SOFT", "", "soft"), ("BONE", "", "sharp"), ("BONEPLUS", "", "sharp"), ("LUNG", "", "sharp"),
    ("DETAIL", "", "unknown"),  # GE
    ("FC26", "", "soft"), ("FC35", "", "sharp"),  # Toshiba/Canon
    ("UB", "", "unknown"),  # Philips: not known here, never passed over
    ("", "CT Thin Bone", "sharp"), ("", "CT PLAIN THIN", "unknown"), ("STANDARD", "bone window", "soft"),  # the kernel wins
    ("H31s\\F", "", "soft"),  # multi-valued
])
def test_kernel_class(kernel, description, want):
    assert kernel_class(kernel, description) == want


def test_plane_of_orientation():
    t = np.radians(20)
    assert plane_of(np.array([1, 0, 0, 0, 1, 0.0])) == "axial"
    assert plane_of(np.array([1, 0, 0, 0, np.cos(t), -np.sin(t)])) == "axial"  # gantry tilt
    assert plane_of(np.array([1, 0, 0, 0, 0, -1.0])) == "coronal"
    assert plane_of(np.array([0, 1, 0, 0, 0, -1.0])) == "sagittal"
    c = np.cos(np.radians(45))
    assert plane_of(np.array([1, 0, 0, 0, c, -c])) == "oblique"
    assert plane_of(None) == ""


def _summary(desc: str, n: int, kernel: str = "", plane: str = "axial", modality: str = "CT", kind: str = "dicom"):
    return SimpleNamespace(description=desc, n_files=n, kernel=kernel, plane=plane, modality=modality, kind=kind,
                           series_uid=desc, warnings=[])


def test_preferred_series_orders_soft_axial_then_size():
    bone, plain, coronal = _summary("CT Thin Bone", 300, "BONEPLUS"), _summary("CT Plain", 32, "STANDARD"), _summary("COR", 400, "STANDARD", "coronal")
    chosen, why = preferred_series([coronal, bone, plain])
    assert chosen is plain and why == "the larger COR (400 files) is a coronal reformat"
    chosen, why = preferred_series([bone, plain])
    assert chosen is plain and why == "the larger CT Thin Bone (300 files) is a bone/lung-kernel reconstruction"
    thin = _summary("CT Thin Plain", 280, "STANDARD")
    assert preferred_series([bone, thin, plain]) == (thin, "the larger CT Thin Bone (300 files) is a bone/lung-kernel reconstruction")
    # nothing better: the largest, no reason; an unknown kernel is never passed over
    assert preferred_series([bone, _summary("CT Bone 5mm", 30, "H70h")]) == (bone, "")
    philips = _summary("Brain", 300, "UB")
    assert preferred_series([philips, plain]) == (philips, "")
    # MR keeps the largest-first order (a sagittal T1 is the usual acquisition)
    sag = _summary("T1 sag", 176, plane="sagittal", modality="MR")
    assert preferred_series([sag, _summary("T2 ax", 30, modality="MR")]) == (sag, "")
    assert default_series([]) == (None, "")
    nii = _summary("head.nii.gz", 1, kind="nifti")
    assert default_series([nii]) == (nii, "")


def _rewrite(paths: list[Path], **tags) -> None:
    for p in paths:
        ds = pydicom.dcmread(p)
        for k, v in tags.items():
            setattr(ds, k, v)
        ds.save_as(p)


def test_load_opens_the_soft_tissue_series_not_the_larger_bone_one(tmp_path):
    bone = write_ct_series(tmp_path / "bone", phantom_hu(12, 32, 32, seed=1), prefix="B", slice_mm=2.5)
    plain = write_ct_series(tmp_path / "plain", phantom_hu(6, 32, 32, seed=2), prefix="P")
    _rewrite(bone, ConvolutionKernel="BONEPLUS", SeriesDescription="CT Thin Bone")
    _rewrite(plain, ConvolutionKernel="STANDARD", SeriesDescription="CT Plain")
    res = scan(tmp_path)
    assert [(s.description, s.kernel, s.plane) for s in res.series] == [("CT Thin Bone", "BONEPLUS", "axial"), ("CT Plain", "STANDARD", "axial")]
    assert res.series[0].to_dict()["kernel"] == "BONEPLUS"
    vol = load(tmp_path)
    assert vol.shape[0] == 6
    mixed = [w.message for w in vol.warnings if w.code == WarningCode.MIXED_SERIES]
    assert mixed == ["2 series found; loaded CT Plain (6 files) because the larger CT Thin Bone (12 files) is a "
                     "bone/lung-kernel reconstruction; others: CT Thin Bone (12 files)"]
    # named, the bone series still opens
    assert load(tmp_path, series_uid=res.series[0].series_uid).shape[0] == 12


def test_a_bone_kernel_ct_loads_with_a_sharp_kernel_warning(tmp_path):
    bone = write_ct_series(tmp_path / "bone", phantom_hu(6, 32, 32, seed=3), prefix="B")
    _rewrite(bone, ConvolutionKernel="H70h", SeriesDescription="Head 5mm")
    vol = load(tmp_path / "bone")
    sharp = [w.message for w in vol.warnings if w.code == WarningCode.SHARP_KERNEL]
    assert len(sharp) == 1 and sharp[0].startswith("a bone/lung-kernel reconstruction (H70h)")
    plain = write_ct_series(tmp_path / "plain", phantom_hu(6, 32, 32, seed=3), prefix="P")
    _rewrite(plain, ConvolutionKernel="H30s")
    assert WarningCode.SHARP_KERNEL not in {w.code for w in load(tmp_path / "plain").warnings}
