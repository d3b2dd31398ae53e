"""Geometry warnings a series will get when it loads, predicted from its headers alone (no pixels).

The series picker and `neuroreview info --headers-only` show them before anything is read, so a tilted
or unevenly spaced series is flagged where the user chooses it, not only after loading.
Same rules and wording as `core.io.dicom_series.load_stack` (geometry.TILT_TOLERANCE_DEG, spacing_report).
"""

from __future__ import annotations

import numpy as np

from core.io import geometry
from core.volume import LoadWarning, WarningCode


def header_warnings(stack, source: str) -> list[LoadWarning]:
    """Tilt and spacing warnings for one `core.io.dicom_series.Stack` (empty when the headers lack geometry)."""
    headers = stack.headers
    if len(headers) < 2 or not all(h.position is not None and h.orientation is not None and h.pixel_spacing is not None
                                   for h in headers):
        return []
    first = headers[0]
    row_dir = first.orientation[:3] / np.linalg.norm(first.orientation[:3])
    col_dir = first.orientation[3:] / np.linalg.norm(first.orientation[3:])
    normal = np.cross(row_dir, col_dir)
    normal /= np.linalg.norm(normal)
    positions = np.stack(sorted((h.position for h in headers), key=lambda p: float(p @ normal)))
    geom = geometry.stack_geometry(row_dir, col_dir, normal, positions, first.pixel_spacing)
    out: list[LoadWarning] = []
    tilt = geom.tilt_deg
    if tilt > geometry.TILT_TOLERANCE_DEG:
        tag = f" (GantryDetectorTilt {first.gantry_tilt:g})" if first.gantry_tilt else ""
        out.append(LoadWarning(WarningCode.GANTRY_TILT,
                               f"gantry tilt {tilt:.1f} deg{tag}: slices will be realigned by resampling", source))
    med, irregular, missing = geometry.spacing_report(geom.d)
    if irregular and med > 0:
        gaps = np.unique(np.round(np.diff(geom.d), 2))
        what = f"{len(missing)} gap(s) look like missing slices; " if missing else ""
        out.append(LoadWarning(WarningCode.IRREGULAR_SPACING,
                               f"slice spacing varies ({', '.join(f'{g:g}' for g in gaps[:8])} mm): {what}"
                               f"will be resampled to {med:.2f} mm", source))
    return out


def series_header_warnings(scan_result, series_uid: str) -> list[LoadWarning]:
    """`header_warnings` of one series of a `core.io.ScanResult` (NIfTI and unknown UIDs: none)."""
    stack = scan_result._stacks.get(series_uid)  # noqa: SLF001 (the scan keeps its stacks for load())
    if stack is None:
        return []
    return header_warnings(stack, scan_result.root or stack.first.path)
