"""Where a study's cases and truth come from: a folder (series discovery), a case-list CSV, a truth CSV.

The store keeps only a path (plus the series UID when a folder holds several) and a pseudonymous ID;
a CSV-given case ID equal to the DICOM PatientID of its series is refused, so a patient identifier does
not slip into the study as a "pseudonym".
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from core.errors import InputError, LoadError

TRUE = {"1", "true", "yes", "y", "present", "positive"}
FALSE = {"0", "false", "no", "n", "absent", "negative"}


@dataclass
class CaseSource:
    path: str
    case_id: str | None = None
    series_uid: str | None = None


@dataclass
class Discovery:
    cases: list[CaseSource]
    skipped: list[str]  # one line each: what was not taken and why


def discover_cases(folder: str | Path, modalities: tuple[str, ...] = ("CT",)) -> Discovery:
    """Every CT series (core.io discovery) and every NIfTI file under a folder becomes a case."""
    from core.io import scan

    folder = Path(folder)
    res = scan(folder)
    cases: list[CaseSource] = []
    skipped = [str(w) for w in res.problems]
    per_dir: dict[str, int] = {}
    for s in res.series:
        if s.kind == "dicom":
            per_dir[s.path] = per_dir.get(s.path, 0) + 1
    for s in sorted(res.series, key=lambda s: (s.path, s.series_uid)):
        if s.kind == "nifti":
            cases.append(CaseSource(str(Path(s.path).resolve())))
        elif s.modality in modalities:
            # the series UID is kept only when its folder holds several series (so the loader can pick it)
            cases.append(CaseSource(str(Path(s.path).resolve()), series_uid=s.series_uid if per_dir[s.path] > 1 else None))
        else:
            skipped.append(f"{s.path}: {s.modality} series {s.description or s.series_uid} is not {'/'.join(modalities)}")
    if not cases:
        raise LoadError(f"no {'/'.join(modalities)} series or NIfTI files found", str(folder))
    return Discovery(cases, skipped)


def _rows(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise LoadError(f"cannot read the CSV ({exc})", str(path)) from exc
    if not rows:
        raise InputError("the CSV has no rows", str(path))
    return [{(k or "").strip(): (v or "").strip() for k, v in r.items()} for r in rows]


def _resolve(base: Path, p: str) -> str:
    q = Path(p).expanduser()
    return str((q if q.is_absolute() else base / q).resolve())


def read_case_csv(path: str | Path, check_identifiers: bool = True) -> list[CaseSource]:
    """A case list: column `path` (relative to the CSV's folder or absolute), optional `case_id`, `series_uid`."""
    path = Path(path)
    rows = _rows(path)
    if "path" not in rows[0]:
        raise InputError(f"the case list needs a 'path' column (found: {', '.join(rows[0])})", str(path))
    out = []
    for i, r in enumerate(rows, 2):
        if not r["path"]:
            raise InputError(f"row {i}: empty path", str(path))
        p = _resolve(path.parent, r["path"])
        if not Path(p).exists():
            raise LoadError(f"row {i}: no such file or folder {p}", str(path))
        out.append(CaseSource(p, r.get("case_id") or None, r.get("series_uid") or None))
    if check_identifiers:
        _refuse_patient_ids(out, path)
    return out


def _refuse_patient_ids(cases: list[CaseSource], csv_path: Path) -> None:
    from core.io import scan

    for c in cases:
        if not c.case_id:
            continue
        try:
            found = scan(c.path).series
        except LoadError:
            continue  # unreadable cases fail later, with their own message
        for s in found:
            if s.patient_id and s.patient_id.strip() == c.case_id:
                raise InputError(f"case_id {c.case_id!r} is the DICOM PatientID of {c.path}: use a pseudonym, or leave "
                                 f"case_id empty and the store generates one", str(csv_path))


def read_truth_csv(path: str | Path, labels: list[str], case_ids: dict[str, str]) -> tuple[list[tuple[str, str, bool]], list[str]]:
    """Truth: column `case_id` or `path`, then one 0/1 column per label. Returns (rows, label columns found).
    `case_ids` maps a case's path (resolved) to its ID."""
    path = Path(path)
    rows = _rows(path)
    cols = list(rows[0])
    key = "case_id" if "case_id" in cols else "path" if "path" in cols else None
    if key is None:
        raise InputError(f"the truth CSV needs a 'case_id' or 'path' column (found: {', '.join(cols)})", str(path))
    found = [c for c in cols if c in labels]
    if not found:
        raise InputError(f"the truth CSV has no label column (study labels: {', '.join(labels)}; found: "
                         f"{', '.join(cols)})", str(path))
    known = set(case_ids.values())
    out = []
    for i, r in enumerate(rows, 2):
        if key == "case_id":
            cid = r["case_id"]
            if cid not in known:
                raise InputError(f"row {i}: the study has no case {cid!r}", str(path))
        else:
            p = _resolve(path.parent, r["path"])
            if p not in case_ids:
                raise InputError(f"row {i}: no case of this study has the path {p}", str(path))
            cid = case_ids[p]
        for lab in found:
            v = r[lab].lower()
            if v in TRUE:
                out.append((cid, lab, True))
            elif v in FALSE:
                out.append((cid, lab, False))
            else:
                raise InputError(f"row {i}, column {lab}: {r[lab]!r} is not 0/1", str(path))
    return out, found
