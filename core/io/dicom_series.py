"""Series assembly: group DICOM headers into stacks and turn one stack into a Volume."""

from __future__ import annotations

import os
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from core.errors import LoadError
from core.io import geometry
from core.io.headers import DicomHeader
from core.io.pixels import CT_AIR_HU, read_slice
from core.io.safety import (
    bound_sink, captured_native_stderr, current_sink, is_decoder_failure, library_warnings, one_line, volume_size_check,
)
from core.volume import LoadWarning, SeriesIds, Volume, WarningCode, Window

DUPLICATE_TOLERANCE_MM = 0.01


@dataclass
class Stack:
    """Files of one series that form one geometric stack (same orientation and matrix)."""

    uid: str  # SeriesInstanceUID, suffixed '#2', '#3' when one UID holds several stacks
    headers: list[DicomHeader]
    warnings: list[LoadWarning] = field(default_factory=list)

    @property
    def first(self) -> DicomHeader:
        return self.headers[0]


def group_stacks(headers: list[DicomHeader]) -> list[Stack]:
    """Group by SeriesInstanceUID (split by patient/study identity), split by orientation/matrix
    (and acquisition), drop localizers."""
    by_uid: dict[str, list[DicomHeader]] = defaultdict(list)
    for h in headers:
        by_uid[h.series_uid].append(h)
    stacks: list[Stack] = []
    for uid, all_hs in by_uid.items():
        identities = _split_identities(uid, all_hs)
        for ident_uid, hs, ident_warnings in identities:
            found = _stacks_of_uid(ident_uid, hs)
            if found:
                found[0].warnings[:0] = ident_warnings + _duplicate_uid_warnings(hs)
            stacks.extend(found)
    return stacks


def _split_identities(uid: str, hs: list[DicomHeader]) -> list[tuple[str, list[DicomHeader], list[LoadWarning]]]:
    """One series UID holding files of several patients or studies is split, each part warned about."""
    parts: dict[tuple[str, str], list[DicomHeader]] = defaultdict(list)
    for h in hs:
        parts[(h.patient_id, h.study_uid)].append(h)
    if len(parts) == 1:
        return [(uid, hs, [])]
    ordered = sorted(parts.items(), key=lambda kv: len(kv[1]), reverse=True)
    out = []
    for i, ((pid, study), part) in enumerate(ordered):
        others = ", ".join(f"{len(p)} file(s) of patient {o_pid or '?'} study {o_study or '?'} (first {os.path.basename(p[0].path)})"
                           for (o_pid, o_study), p in ordered if p is not part)
        warn = LoadWarning(WarningCode.MIXED_IDENTITY,
                           f"series {uid} mixes {len(ordered)} patient/study identities; split: this part is "
                           f"{len(part)} file(s) of patient {pid or '?'} study {study or '?'}; others: {others}",
                           part[0].path)
        out.append((uid if i == 0 else f"{uid}@{i + 1}", part, [warn]))
    return out


def _duplicate_uid_warnings(hs: list[DicomHeader]) -> list[LoadWarning]:
    seen: dict[str, list[DicomHeader]] = defaultdict(list)
    for h in hs:
        if h.sop_uid:
            seen[h.sop_uid].append(h)
    out = []
    for sop, dup in seen.items():
        if len(dup) > 1:
            out.append(LoadWarning(WarningCode.DUPLICATE_UID,
                                   f"{len(dup)} files share SOPInstanceUID {sop} (copies or a broken export)", dup[1].path))
    return out[:5]


def _stacks_of_uid(uid: str, hs: list[DicomHeader]) -> list[Stack]:
    stacks: list[Stack] = []
    dropped = [h for h in hs if h.is_localizer]
    hs = [h for h in hs if not h.is_localizer]
    parts: dict[tuple, list[DicomHeader]] = defaultdict(list)
    broken = [h for h in hs if h.orientation is None]  # missing or invalid orientation: not a scout
    for h in hs:
        if h.orientation is not None:
            parts[(h.orientation_key(), h.rows, h.columns)].append(h)
    for h in broken:  # joins the largest part of its matrix; load_stack names it and leaves it out
        same = [p for p in parts.values() if (p[0].rows, p[0].columns) == (h.rows, h.columns)]
        (max(same, key=len) if same else parts[((), h.rows, h.columns)]).append(h)
    ordered = sorted(parts.values(), key=len, reverse=True)
    if len(ordered) > 1:
        # a handful of slices in another orientation beside a real stack are scouts
        main = len(ordered[0])
        keep = [p for p in ordered if len(p) > 3 or len(p) * 4 > main]
        for p in ordered:
            if not any(p is k for k in keep):
                dropped.extend(p)
        ordered = keep
    split: list[list[DicomHeader]] = []
    for part in ordered:
        split.extend(_split_acquisitions(part))
    for i, part in enumerate(split):
        stack = Stack(uid if i == 0 else f"{uid}#{i + 1}", part)
        if len(split) > 1:
            stack.warnings.append(LoadWarning(
                WarningCode.MIXED_SERIES,
                f"series {uid} holds {len(split)} stacks (orientation, matrix or acquisition differ); this is stack {i + 1}",
                os.path.dirname(part[0].path)))
        if i == 0:
            for h in dropped:
                stack.warnings.append(LoadWarning(WarningCode.LOCALIZER_DROPPED, "localizer/scout image left out of the volume", h.path))
        stacks.append(stack)
    if not split and dropped:
        for h in dropped:
            stacks.append(Stack(uid, [h], [LoadWarning(WarningCode.LOCALIZER_DROPPED, "series holds only localizer images", h.path)]))
    return stacks


def _split_acquisitions(part: list[DicomHeader]) -> list[list[DicomHeader]]:
    """Split a stack by AcquisitionNumber when each acquisition is a full stack of its own."""
    acqs: dict[str, list[DicomHeader]] = defaultdict(list)
    for h in part:
        acqs[h.acquisition].append(h)
    if len(acqs) < 2 or any(len(v) < 2 for v in acqs.values()):
        return [part]
    def has_dupes(hs: list[DicomHeader]) -> bool:
        pos = [tuple(np.round(h.position, 2)) for h in hs if h.position is not None]
        return len(set(pos)) < len(pos)
    if has_dupes(part) and not any(has_dupes(v) for v in acqs.values()):
        return sorted(acqs.values(), key=len, reverse=True)
    return [part]


def _read_into(headers: list[DicomHeader], modality: str, flip_rows: bool, flip_cols: bool,
               out: np.ndarray) -> list[tuple[list[LoadWarning], tuple | None] | LoadWarning]:
    """Decode each file straight into its slice of ``out`` (threads: file reads and numpy release the GIL)."""
    sink = current_sink()

    def one(k: int):
        with bound_sink(sink):  # library warnings of this slice belong to this load
            return _one(k)

    def _one(k: int):
        h = headers[k]
        if (h.rows, h.columns) != out.shape[1:]:
            return LoadWarning(WarningCode.SKIPPED_FILE, f"matrix {h.rows}x{h.columns} differs from the series' {out.shape[1]}x{out.shape[2]}", h.path)
        try:
            _, warns, win = read_slice(h.dataset if h.dataset is not None else h.path, modality, flip_rows, flip_cols, out=out[k])
            return warns, win
        except LoadError as exc:
            return LoadWarning(WarningCode.SKIPPED_FILE, exc.message, h.path)
        except BaseException as exc:  # noqa: BLE001 - one bad slice costs that slice (native panics included)
            if not is_decoder_failure(exc):
                raise
            return LoadWarning(WarningCode.SKIPPED_FILE, f"slice cannot be read ({type(exc).__name__}: {one_line(exc, 160)})", h.path)
    if len(headers) < 8:
        return [one(k) for k in range(len(headers))]
    with ThreadPoolExecutor(max_workers=min(4, (os.cpu_count() or 2))) as pool:
        return list(pool.map(one, range(len(headers))))


def load_stack(stack: Stack, source: str, modality: str | None = None) -> Volume:
    """Read pixels, order slices, check spacing, correct tilt, resample, reorient to R, A, S."""
    warnings = list(stack.warnings)
    headers, geometric, geo_warnings = _usable_geometry(stack.headers, source)
    warnings.extend(geo_warnings)
    first = headers[0]
    modality = (modality or first.modality).upper()
    flip_rows = flip_cols = False
    if geometric:
        row_dir = first.orientation[:3] / np.linalg.norm(first.orientation[:3])
        col_dir = first.orientation[3:] / np.linalg.norm(first.orientation[3:])
        normal = np.cross(row_dir, col_dir)
        normal /= np.linalg.norm(normal)
        headers = sorted(headers, key=lambda h: (float(h.position @ normal), h.instance))
        kept, dupes = _dedupe_positions(headers, normal)
        if len(kept) == 1 and len({h.sop_uid for h in headers}) >= 3:  # distinct images, one position: positions are wrong
            geometric = False
            warnings.append(LoadWarning(WarningCode.INVALID_TAG, f"all {len(headers)} slices share ImagePositionPatient "
                                        f"{np.round(first.position, 2).tolist()}: positions unusable", headers[0].path))
    if geometric:
        warnings.extend(dupes)
        headers, far = _drop_far_ends(kept, normal)
        warnings.extend(far)
        flip_rows, flip_cols = geometry.inplane_flips(row_dir, col_dir)
    else:
        headers = sorted(headers, key=lambda h: h.instance)
        warnings.append(LoadWarning(WarningCode.GEOMETRY_UNVERIFIED, "no valid ImagePositionPatient/Orientation/PixelSpacing: slices "
                                    "ordered by InstanceNumber, 1 mm spacing and axial orientation assumed; left/right not verified", source))

    big = volume_size_check((len(headers), first.rows, first.columns), source)
    if big:
        warnings.append(big)
    stack_arr = np.empty((len(headers), first.rows, first.columns), dtype=np.float32)
    if any(_compressed(h) for h in headers):  # native decoders: their own stderr output becomes warnings
        native: list[str] = []
        with captured_native_stderr(native):
            results = _read_into(headers, modality, flip_rows, flip_cols, stack_arr)
        warnings.extend(library_warnings(native, source))
    else:
        results = _read_into(headers, modality, flip_rows, flip_cols, stack_arr)
    good_idx, window = [], None
    for k, res in enumerate(results):
        if isinstance(res, LoadWarning):
            warnings.append(res)
            continue
        w, win = res
        warnings.extend(w)
        good_idx.append(k)
        window = window or win
    if not good_idx:
        first_bad = next((w for w in warnings if w.code == WarningCode.SKIPPED_FILE and w.path), None)
        why = f"; first {os.path.basename(first_bad.path)}: {first_bad.message}" if first_bad else ""
        raise LoadError(f"no slice of series {stack.uid} could be used{why}", source, code="nothing-decoded")
    if len(good_idx) < len(headers):
        stack_arr = stack_arr[good_idx]
    good = [headers[k] for k in good_idx]
    warnings = _collapse(warnings)
    fill = CT_AIR_HU if modality == "CT" else float(stack_arr.min())

    if geometric:
        dy, dx = first.pixel_spacing
        positions = np.stack([h.position for h in good])
        # stored arrays may be flipped: express geometry in the flipped index directions
        eff_row, eff_col = (-row_dir if flip_cols else row_dir), (-col_dir if flip_rows else col_dir)
        shift0 = (row_dir * dx * (first.columns - 1) if flip_cols else 0) + (col_dir * dy * (first.rows - 1) if flip_rows else 0)
        geom = geometry.stack_geometry(eff_row, eff_col, normal, positions + shift0, first.pixel_spacing)
        dz = float(first.pixel_spacing[0])
        if len(good) == 1:
            warnings.append(LoadWarning(WarningCode.SINGLE_SLICE, "series has a single slice: no 3-D views, no series-level scoring", good[0].path))
        else:
            tilt = geom.tilt_deg
            tag_tilt = first.gantry_tilt
            if tilt > geometry.TILT_TOLERANCE_DEG:
                warnings.append(LoadWarning(WarningCode.GANTRY_TILT,
                    f"gantry tilt {tilt:.1f} deg" + (f" (GantryDetectorTilt {tag_tilt:g})" if tag_tilt else "") + ": slices realigned by resampling", source))
                stack_arr = geometry.correct_tilt(stack_arr, geom, fill)
            med, irregular, missing = geometry.spacing_report(geom.d)
            if med <= 0:
                raise LoadError("slice positions do not advance along the slice normal", source)
            for i in missing:
                warnings.append(LoadWarning(WarningCode.MISSING_SLICE,
                    f"gap of {geom.d[i + 1] - geom.d[i]:.2f} mm (usual {med:.2f} mm) after this slice: about {round((geom.d[i + 1] - geom.d[i]) / med) - 1} slice(s) missing; interpolated",
                    good[i].path))
            if irregular:
                gaps = np.unique(np.round(np.diff(geom.d), 2))
                if not (missing and len(missing) == int(np.sum(np.abs(np.diff(geom.d) - med) > 0.05 * med))):
                    warnings.append(LoadWarning(WarningCode.IRREGULAR_SPACING,
                        f"slice spacing varies ({', '.join(f'{g:g}' for g in gaps[:8])} mm): resampled to {med:.2f} mm", source))
                big = volume_size_check((int((geom.d[-1] - geom.d[0]) / med) + 1, *stack_arr.shape[1:]), source)
                if big:
                    warnings.append(big)
                stack_arr, _ = geometry.resample_z(stack_arr, geom.d, med)
            dz = med
        aff = geometry.LPS_TO_RAS @ geometry.lps_affine(geom, dz)
    else:
        aff = np.diag([-1.0, -1.0, 1.0, 1.0])

    try:
        voxels, aff, _ = geometry.to_canonical(stack_arr, aff)
    except (ValueError, np.linalg.LinAlgError) as exc:  # geometry is validated upstream; this is the last guard
        raise LoadError(f"slice geometry cannot be resolved ({type(exc).__name__}: {exc})", source, code="invalid-geometry") from None
    ids = SeriesIds(
        patient_id=first.patient_id, study_uid=first.study_uid, series_uid=stack.uid,
        series_description=first.series_description, series_number=first.series_number,
        source=source, files=tuple(h.path for h in good),
    )
    win = Window(width=window[0], level=window[1]) if window else None
    return Volume(voxels=voxels, affine=aff, modality=modality, ids=ids, warnings=tuple(warnings), window=win)


MAX_TAG_WARNINGS = 30
FAR_GAP_MM = 100.0  # an end slice farther than this (and 20 usual gaps) from the next is not part of the stack


def _dedupe_positions(headers: list[DicomHeader], normal: np.ndarray) -> tuple[list[DicomHeader], list[LoadWarning]]:
    """Headers sorted along the normal, with slices at an already-seen position left out (and named)."""
    kept: list[DicomHeader] = []
    warnings: list[LoadWarning] = []
    for h in headers:
        if kept and abs(float((h.position - kept[-1].position) @ normal)) < DUPLICATE_TOLERANCE_MM:
            warnings.append(LoadWarning(WarningCode.DUPLICATE_POSITION,
                                        f"same slice position as {os.path.basename(kept[-1].path)}; left out", h.path))
            continue
        kept.append(h)
    return kept, warnings


def _drop_far_ends(headers: list[DicomHeader], normal: np.ndarray) -> tuple[list[DicomHeader], list[LoadWarning]]:
    """Leave out end slices whose position is far from the rest (a corrupt position would otherwise
    stretch the resampled volume over metres of empty slices)."""
    warnings: list[LoadWarning] = []
    while len(headers) >= 3:
        d = np.array([float(h.position @ normal) for h in headers])
        gaps = np.diff(d)
        limit = max(FAR_GAP_MM, 20 * float(np.median(gaps)))
        if gaps[0] > limit:
            far, headers = headers[0], headers[1:]
        elif gaps[-1] > limit:
            far, headers = headers[-1], headers[:-1]
        else:
            break
        warnings.append(LoadWarning(WarningCode.INVALID_TAG, f"ImagePositionPatient {np.round(far.position, 1).tolist()} lies far "
                                    f"from the rest of the series (gap over {limit:.0f} mm): slice left out", far.path))
    return headers, warnings


def _compressed(h: DicomHeader) -> bool:
    syntax = getattr(getattr(h.dataset, "file_meta", None), "TransferSyntaxUID", None)
    return bool(syntax is not None and getattr(syntax, "is_compressed", False))


def _usable_geometry(headers: list[DicomHeader], source: str) -> tuple[list[DicomHeader], bool, list[LoadWarning]]:
    """(headers to use, geometric?, warnings): files with invalid geometry tags are left out, each named,
    when the rest of the stack has valid geometry; otherwise the stack loads without geometry, unverified."""
    warnings: list[LoadWarning] = []
    geo = [h for h in headers if h.geometric]
    if len(geo) == len(headers) or (len(geo) >= 2 and 2 * len(geo) >= len(headers)):
        used = geo
        for h in headers:
            if not h.geometric:
                why = "; ".join(h.problems) or "ImagePositionPatient/Orientation/PixelSpacing missing"
                warnings.append(LoadWarning(WarningCode.INVALID_TAG, f"{why}: slice left out", h.path))
    else:
        used = list(headers)
    for h in used:
        for why in h.problems:
            warnings.append(LoadWarning(WarningCode.INVALID_TAG, why, h.path))
    if len(warnings) > MAX_TAG_WARNINGS:  # one per file would drown the rest: the first ones, and a count
        more = len(warnings) - MAX_TAG_WARNINGS
        warnings = warnings[:MAX_TAG_WARNINGS] + [LoadWarning(WarningCode.INVALID_TAG, f"... and {more} more invalid-tag warnings", source)]
    mirrored = [h for h in used if h.mirrored_spacing]
    if mirrored:
        warnings.insert(0, LoadWarning(WarningCode.GEOMETRY_UNVERIFIED,
                                       f"negative PixelSpacing in {len(mirrored)} file(s) (made positive): the image may be "
                                       "mirrored, left/right not verified", mirrored[0].path))
    return used, len(geo) == len(used), warnings


def _collapse(warnings: list[LoadWarning]) -> list[LoadWarning]:
    out, seen = [], {}
    for w in warnings:
        if w.code in (WarningCode.MISSING_RESCALE, WarningCode.FIXED_ENCODING):
            if w.code in seen:
                seen[w.code] += 1
                continue
            seen[w.code] = 1
        out.append(w)
    return [LoadWarning(w.code, f"{w.message} ({seen[w.code]} slices)", w.path) if w.code in seen and seen[w.code] > 1 else w for w in out]
