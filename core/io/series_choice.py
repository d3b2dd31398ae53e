"""Which series of a folder is loaded when none is named.

Why not simply the largest: a head CT study usually holds one scan reconstructed several ways (thin and thick
slices, soft-tissue and bone kernels, axial and coronal/sagittal reformats). The largest is often the thin bone
series: a reader does not look for blood in it, and the ICH models never saw one (every real training image is a
soft-tissue reconstruction in the brain window). So among CT series a soft-tissue axial one is preferred, then the
largest; MR and other series keep the largest-first order (an MR volume is often acquired sagittal).

Kernel names are vendor-specific; `kernel_class` knows the common ones and says "unknown" otherwise (an unknown
kernel is never passed over).
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from core.volume import WarningCode

SHARP_WORDS = ("BONE", "LUNG", "EDGE", "SHARP", "ULTRA")  # GE BONE/BONEPLUS/LUNG/EDGE; descriptions "CT Thin Bone"
SOFT_WORDS = ("STANDARD", "SOFT", "BRAIN", "STND", "STD")  # GE STANDARD, STD+ (the real GE head)
_SIEMENS = re.compile(r"^[A-Z][R]?(\d{2})[A-Z]?$")  # H30s, H70h, Hr38, Hr64, J40s, B30f, Br64
_CANON = re.compile(r"^FC(\d{2})$")  # Toshiba/Canon FC21-FC27 brain, FC30-FC39 bone, FC5x lung


def kernel_class(kernel: str, description: str = "") -> str:
    """'sharp' (bone/lung-type reconstruction), 'soft' (soft tissue/brain) or 'unknown', from the DICOM
    ConvolutionKernel and, failing that, the series description."""
    k = re.sub(r"\s+", "", kernel.upper())
    if any(w in k for w in SHARP_WORDS):
        return "sharp"
    if any(w in k for w in SOFT_WORDS):
        return "soft"
    for part in k.split("\\"):
        if m := _SIEMENS.match(part):
            return "sharp" if int(m.group(1)) >= 60 else "soft" if int(m.group(1)) <= 45 else "unknown"
        if m := _CANON.match(part):
            return "sharp" if int(m.group(1)) >= 30 else "soft"
    d = description.upper()
    if any(w in d for w in ("BONE", "LUNG")):
        return "sharp"
    return "unknown"


def plane_of(orientation: np.ndarray | None) -> str:
    """'axial', 'coronal', 'sagittal' or 'oblique' (normal > 30 degrees from every axis) from
    ImageOrientationPatient; '' when there is none."""
    if orientation is None:
        return ""
    normal = np.cross(orientation[:3], orientation[3:])
    axis = int(np.argmax(np.abs(normal)))
    if abs(normal[axis]) < np.cos(np.radians(30)):
        return "oblique"
    return ("sagittal", "coronal", "axial")[axis]  # LPS: x normal = sagittal, y = coronal, z = axial


def _ct_rank(s) -> tuple[int, int]:
    """0 is best: soft or unknown kernel before sharp; axial (or gantry-tilted, or unknown) before reformats."""
    return (kernel_class(s.kernel, s.description) == "sharp", s.plane in ("coronal", "sagittal"))


def preferred_series(series: Sequence) -> tuple[object | None, str]:
    """(the series to load, why it is not simply the largest: '' when it is). `series` are SeriesSummary-like
    (modality, description, n_files, kind, kernel, plane), largest first as `scan` sorts them."""
    if not series:
        return None, ""
    largest = series[0]
    if largest.kind != "dicom" or largest.modality != "CT":
        return largest, ""
    ct = [s for s in series if s.kind == "dicom" and s.modality == "CT"]
    best = min(ct, key=lambda s: (*_ct_rank(s), -s.n_files))  # min is stable: the largest among equals
    if best is largest:
        return largest, ""
    sharp, _ = _ct_rank(largest)
    why = "a bone/lung-kernel reconstruction" if sharp else f"a {largest.plane} reformat"
    return best, f"the larger {largest.description or largest.series_uid} ({largest.n_files} files) is {why}"


def default_series(series: Sequence) -> tuple[object | None, str]:
    """What `load` opens (and the viewer first) when no series is named: DICOM before NIfTI, image series before
    a lone localizer whose only file was dropped, then `preferred_series`. Returns (series, why not the largest)."""
    dicom = [s for s in series if s.kind == "dicom"]
    if not dicom:
        return (series[0] if series else None), ""
    real = [s for s in dicom if not all(w.code == WarningCode.LOCALIZER_DROPPED for w in s.warnings) or s.n_files > 1]
    return preferred_series(real or dicom)
