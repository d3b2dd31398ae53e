"""`neuroreview info PATH`: what a file or folder holds, before anyone reads it."""

from __future__ import annotations

import argparse
import json

from app.cli.options import add_modality_argument


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="list the series in a DICOM folder/file or a NIfTI file, with warnings")
    p.add_argument("path", nargs="?", default=None, help="file or folder (default: the bundled demo CT)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--headers-only", action="store_true", help="do not read pixels (faster; tilt and spacing warnings predicted from the headers)")
    add_modality_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.errors import LoadError
    from core.io import load, scan
    from core.paths import demo_ct_dir

    path = args.path or str(demo_ct_dir())
    result = scan(path)
    if not result.series:
        load(path, scanned=result)  # raises the LoadError that names the file(s): exit 2, one line on stderr
    from core.io.series_choice import default_series

    opened, why = default_series(result.series)
    series_out = []
    failures: list[LoadError] = []
    for s in result.series:
        entry = s.to_dict()
        entry["default"] = s is opened  # what `score` and `view` open when no series is named
        if s is opened and why:
            entry["default_because"] = why
        if args.headers_only:  # tilt and uneven spacing are visible in the headers: say so before loading
            from core.io.preview import series_header_warnings

            entry["warnings"] += [w.to_dict() for w in series_header_warnings(result, s.series_uid)]
        else:
            try:
                vol = (load(path, series_uid=s.series_uid, scanned=result, modality=args.modality) if s.kind == "dicom"
                       else load(s.path, modality=args.modality))
                desc = vol.describe()
                entry.update({"modality": vol.modality, "geometry_verified": vol.geometry_verified,
                    "volume_shape_zyx": desc["shape_zyx"], "spacing_zyx_mm": desc["spacing_zyx_mm"],
                    "axcodes": desc["axcodes"], "value_range": desc["value_range"], "window": desc["window"],
                    "warnings": [w for w in desc["warnings"] if w["code"] != "skipped-file" or w["path"] not in {p.path for p in result.problems}],
                })
                entry["warnings"] = [w for w in entry["warnings"] if not (w["code"] == "mixed-series" and w["path"] == path)]
            except LoadError as exc:
                entry["error"] = str(exc)
                failures.append(exc)
        series_out.append(entry)
    report = {"path": path, "series": series_out, "skipped_files": [w.to_dict() for w in result.problems]}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print_text(report)
    if failures and len(failures) == len(series_out):  # nothing loaded: an error, not a listing
        if len(failures) == 1:
            raise failures[0]
        raise LoadError(f"none of the {len(failures)} series could be loaded; first: {failures[0]}", None, code="nothing-loaded")
    return 0


def _print_text(report: dict) -> None:
    print(f"{report['path']}: {len(report['series'])} series, {len(report['skipped_files'])} file(s) skipped")
    for i, s in enumerate(report["series"], 1):
        shape = s.get("volume_shape_zyx") or s["shape"]
        spacing = s.get("spacing_zyx_mm")
        sp = f"spacing {spacing[0]:.3g} x {spacing[1]:.3g} x {spacing[2]:.3g} mm (z, y, x)" if spacing else (
            f"pixel spacing {s['pixel_spacing'][0]:.3g} x {s['pixel_spacing'][1]:.3g} mm" if s.get("pixel_spacing") else "")
        print(f"  [{i}] {s['modality'] or 'modality ?'} {s['description'] or '(no description)'}  {s['n_files']} file(s) -> "
              f"{shape[0]} x {shape[1]} x {shape[2]} voxels (slices x rows x columns), {sp}")
        recon = ", ".join(x for x in (f"kernel {s['kernel']}" if s.get("kernel") else "", s.get("plane", "")) if x)
        print(f"      series {s['series_uid']}" + (f"  ({recon})" if recon else ""))
        if s.get("default") and len(report["series"]) > 1:
            because = f": {s['default_because']}" if s.get("default_because") else " (the largest)"
            print(f"      opened by default{because}")
        if s.get("error"):
            print(f"      not loaded: {s['error']}")
        for w in s.get("warnings", []):
            where = f" [{w['path']}]" if w.get("path") else ""
            print(f"      warning {w['code']}: {w['message']}{where}")
    for w in report["skipped_files"]:
        print(f"  skipped {w['path']}: {w['message']}")
