"""CQ500 (Chilamkurthy et al., Lancet 2018; qure.ai) reads -> the six ICH labels per subject.

Format, as published with the data set and as public loaders read it (checked with the code
search: loaders that test the header `name,Category,R1:ICH,R1:IPH,...` verbatim): `reads.csv` has
one row per subject, `name` like `CQ500-CT-12`, `Category`, then for each reader R1, R2, R3 the 0/1
columns `Rk:ICH, Rk:IPH, Rk:IVH, Rk:SDH, Rk:EDH, Rk:SAH, Rk:BleedLocation-Left,
Rk:BleedLocation-Right, Rk:ChronicBleed, Rk:Fracture, Rk:CalvarialFracture, Rk:OtherFracture,
Rk:MassEffect, Rk:MidlineShift`. The images are one folder per subject, `CQ500CT12 CQ500CT12/Unknown
Study/<series description>/CT*.dcm`, with several series per subject (thin and plain, soft-tissue
and bone kernels).

Truth is the readers' majority (at least 2 of 3), per label. CQ500 reads are per subject, not per
slice, so only series-level metrics can be computed. `BleedLocation-Left/Right` locate any bleed,
not a basal-ganglia one, so the laterality model has no CQ500 truth.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import InputError
from core.io import ScanResult, SeriesSummary, scan
from core.io.series_choice import kernel_class

READERS = ("R1", "R2", "R3")
# our label -> CQ500 column stem
LABEL_COLUMNS = {"any": "ICH", "epidural": "EDH", "intraparenchymal": "IPH", "intraventricular": "IVH",
                 "subarachnoid": "SAH", "subdural": "SDH"}
_NAME = re.compile(r"^CQ500-?CT-?(\d+)$", re.IGNORECASE)


@dataclass
class CQ500Subject:
    name: str  # as in reads.csv, e.g. CQ500-CT-12
    folder: Path  # the subject's image folder
    labels: np.ndarray  # uint8 [6] majority truth in ICH label order
    votes: np.ndarray  # uint8 [6] number of readers calling each label


def subject_number(name: str) -> int:
    """`CQ500-CT-12`, `CQ500CT12` -> 12."""
    m = _NAME.match(name.strip())
    if not m:
        raise InputError(f"not a CQ500 subject name: {name!r}")
    return int(m.group(1))


def read_reads(csv_path: str | Path, labels: tuple[str, ...]) -> pd.DataFrame:
    """reads.csv -> index subject name; columns `<label>` (majority, 0/1) and `<label>_votes`."""
    path = Path(csv_path)
    if not path.is_file():
        raise InputError(f"CQ500 reads table not found: {path}", path=str(path))
    df = pd.read_csv(path)
    need = ["name"] + [f"{r}:{LABEL_COLUMNS[lab]}" for r in READERS for lab in labels]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise InputError(f"{path} is not a CQ500 reads table: missing columns {missing}", path=str(path))
    out = pd.DataFrame(index=df["name"].astype(str).str.strip())
    for lab in labels:
        votes = sum(df[f"{r}:{LABEL_COLUMNS[lab]}"].fillna(0).astype(int).to_numpy() for r in READERS)
        out[f"{lab}_votes"] = votes
        out[lab] = (votes >= 2).astype(np.uint8)
    return out


def subject_folders(root: str | Path) -> dict[int, Path]:
    """Subject number -> image folder (`CQ500CT12 CQ500CT12` or `CQ500-CT-12`), searched two levels deep."""
    root = Path(root)
    found: dict[int, Path] = {}
    for p in sorted(list(root.glob("*")) + list(root.glob("*/*"))):
        if not p.is_dir():
            continue
        head = p.name.split(" ")[0]
        try:
            n = subject_number(head)
        except InputError:
            continue
        found.setdefault(n, p)
    return found


def pick_series(result: ScanResult) -> SeriesSummary | None:
    """The series a reader would score: CT, not a bone/lung kernel (core.io.series_choice), not a reformat, 16-80 slices (the 5 mm plain series)
    when there is one, else the CT series with the fewest slices above 16 (thin series are slower
    but score the same way)."""
    cands = [s for s in result.series if s.kind == "dicom" and s.modality == "CT" and kernel_class(s.kernel, s.description) != "sharp"
             and s.plane not in ("coronal", "sagittal") and s.shape[0] >= 16]
    if not cands:
        return None
    thick = [s for s in cands if s.shape[0] <= 80]
    return max(thick, key=lambda s: s.shape[0]) if thick else min(cands, key=lambda s: s.shape[0])


def load_cq500(root: str | Path, labels: tuple[str, ...]) -> list[CQ500Subject]:
    """Subjects of a CQ500 folder (reads.csv beside the subject folders) with their majority labels."""
    root = Path(root)
    reads = read_reads(root / "reads.csv", labels)
    folders = subject_folders(root)
    subjects = []
    for name, row in reads.iterrows():
        n = subject_number(str(name))
        if n not in folders:
            continue  # reads cover all 491 subjects; a partial download has fewer folders
        subjects.append(CQ500Subject(str(name), folders[n], row[list(labels)].to_numpy(np.uint8),
                                     row[[f"{lab}_votes" for lab in labels]].to_numpy(np.uint8)))
    if not subjects:
        raise InputError(f"no subject folder under {root} matches a row of reads.csv", path=str(root))
    return subjects


def series_for(subject: CQ500Subject) -> tuple[ScanResult, SeriesSummary]:
    result = scan(subject.folder)
    s = pick_series(result)
    if s is None:
        raise InputError(f"{subject.name}: no non-bone CT series of 16 or more slices in {subject.folder}", path=str(subject.folder))
    return result, s
