"""Which modality a NIfTI volume holds: NIfTI has no Modality tag, so the header's free text and the
values decide. A head CT in Hounsfield units has a lot of air near -1000, some bone above 300 and
(usually) integer values; an MR intensity scale has none of that.
"""

from __future__ import annotations

import re

import numpy as np

CT_WORDS = re.compile(r"(?<![A-Z0-9])(CT|NCCT|CTA|HU|HOUNSFIELD|COMPUTED TOMOGRAPHY)(?![A-Z0-9])")
MR_WORDS = re.compile(r"(?<![A-Z0-9])(MRI?|T1W?|T2W?|FLAIR|MPRAGE|SPGR|DWI|ADC|BOLD|EPI|TSE|SWI|PDW?|MAGNETIC RESONANCE)(?![A-Z0-9])")
MODALITIES = ("CT", "MR")
SAMPLE_VOXELS = 2_000_000


def header_text(header) -> str:
    """The NIfTI header's free-text fields (descrip, intent_name, aux_file, db_name) as one upper-case string."""
    parts = []
    for key in ("descrip", "intent_name", "aux_file", "db_name"):
        try:
            raw = header[key]
        except (KeyError, ValueError):
            continue
        value = raw.item() if hasattr(raw, "item") else raw
        if isinstance(value, bytes):
            value = value.split(b"\0", 1)[0].decode("latin-1", "replace")
        parts.append(str(value))
    return " ".join(parts).upper()


def modality_from_text(text: str) -> str | None:
    """'CT' or 'MR' when the header names one (and not both), else None."""
    ct, mr = bool(CT_WORDS.search(text)), bool(MR_WORDS.search(text))
    if ct != mr:
        return "CT" if ct else "MR"
    return None


def looks_like_hu(values: np.ndarray) -> tuple[bool, str]:
    """(CT?, the evidence in words) from the voxel values (any shape, finite values only used)."""
    flat = values.ravel(order="K")  # no copy for nibabel's Fortran-ordered arrays
    if flat.size > SAMPLE_VOXELS:
        flat = flat[:: flat.size // SAMPLE_VOXELS + 1]
    flat = flat[np.isfinite(flat)]
    if flat.size == 0:
        return False, "no finite values"
    air = float(np.mean((flat >= -1100) & (flat <= -900)))
    below = float(np.mean(flat < -900))
    bone = float(np.mean(flat > 300))
    integer = float(np.mean(flat == np.round(flat)))
    soft = float(np.mean((flat > -100) & (flat < 100)))
    evidence = (f"{air:.0%} of voxels at air (-1100..-900), {bone:.1%} above 300 (bone), {soft:.0%} at -100..100 (soft tissue), "
                f"{integer:.0%} integers")
    is_ct = air >= 0.02 and bone >= 0.0005 and soft >= 0.01 and below <= 0.9 and float(flat.max()) <= 32767 and (integer >= 0.9 or soft >= 0.1)
    return is_ct, evidence


UNSIGNED_HU_OFFSET = 1024


def unsigned_hu_offset(values: np.ndarray) -> int:
    """1024 when the values look like Hounsfield units stored + 1024 without a rescale intercept (air near 0),
    else 0.

    Why a separate, stricter test: such a file has no negative values, like an MR. Beyond the HU rule on the
    shifted values, brain parenchyma (15-60 HU) must make up at least 15% of the non-air voxels: a narrow band
    an MR intensity scale does not fill, and a CT clipped at 0 HU (brain at 30) leaves empty."""
    flat = values.ravel(order="K")
    if flat.size > SAMPLE_VOXELS:
        flat = flat[:: flat.size // SAMPLE_VOXELS + 1]
    flat = flat[np.isfinite(flat)].astype(np.float32)
    if flat.size == 0 or float(flat.min()) < -50:
        return 0
    shifted = flat - UNSIGNED_HU_OFFSET
    if not looks_like_hu(shifted)[0]:
        return 0
    tissue = shifted[shifted > -900]
    brain = float(np.mean((tissue >= 15) & (tissue <= 60))) if tissue.size else 0.0
    return UNSIGNED_HU_OFFSET if brain >= 0.15 else 0


def nifti_modality(header, values: np.ndarray | None) -> tuple[str, str]:
    """('CT' | 'MR', why): the header's words when they name a modality, else the values."""
    named = modality_from_text(header_text(header))
    if named:
        return named, f"header text names {named}"
    if values is None:
        return "MR", "header names no modality; values not read"
    is_ct, evidence = looks_like_hu(values)
    if not is_ct and unsigned_hu_offset(values):
        return "MR", ("values are not Hounsfield units, but they look like a CT stored as HU + 1024 without its intercept (air near 0, "
                      "brain near 1050): if it is a CT, give --modality CT and it is read as HU - 1024")
    return ("CT" if is_ct else "MR"), ("values look like CT Hounsfield units: " if is_ct else "values are not Hounsfield units: ") + evidence
