"""Scoring a folder of 8-bit head CT slice images (PNG/JPEG exports, public slice datasets) with the ICH CNN.

Why a separate path from `score`: such images carry no geometry, no HU and no slice order, so only the
slice CNN applies (no BiLSTM, no basal-ganglia laterality). Each image is turned back into pseudo-HU by
`core.models.preprocess.slice_image_to_hu` (the same function training used), scored, and given the
out-of-distribution verdict of the scorer. An unreadable image is one error row naming the file; the
rest of the folder is still scored.

DICOM image files in the folder (one slice per file, as RSNA's or a PACS export's) are scored too: they are
in HU and oriented by their header, so `window` and `rotate` do not apply to them; each goes onto the model
grid exactly as a slice of a loaded series does (`display_slices`), and an MR, multi-frame or non-HU file is
an error row naming it.

Orientation of PNG/JPEG images must be given (`rotate`, clockwise degrees; the model reads anterior up). It is checked, not
guessed: with models from 0.5 on, the OOD model's orientation output calls an image that looks turned
(90, 180 or 270 degrees) outside, and the folder-level hint (`orientation_hint`) says so; without it the hint
only warns when the heads look wider than long, which is what a 90-degree export (PHE-SICH) looks like.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import cv2
import numpy as np

from core.errors import InputError, NeuroReviewError
from core.imaging.pseudo_hu import hu_to_window8, to_gray8
from core.io.headers import looks_like_dicom
from core.models.preprocess import display_slices, head_mask_2d, not_hu, slice_image_to_hu

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
DICOM_SUFFIXES = (".dcm", ".dicom")  # and files without a suffix that carry the DICM preamble
CHUNK = 64  # images held in memory and scored at once


@dataclass
class SliceRow:
    """One image's outcome: probabilities per label and the OOD verdict, or the error that stopped it."""

    name: str  # path relative to the folder
    probs: dict[str, float] = field(default_factory=dict)
    ood_score: float = float("nan")
    in_distribution: bool | None = None
    soft_tissue: float = float("nan")  # the shortcut baseline's score (fraction of the slice in soft tissue)
    aspect: float = float("nan")  # head height / width as given (before rotation)
    turned_prob: float = float("nan")  # the OOD model's P(turned by 90/180/270 degrees), when it has that output
    error: str = ""
    kind: str = "image"  # "image" (8-bit PNG/JPEG: window and rotate apply) or "dicom" (HU, oriented by its header)

    @property
    def ok(self) -> bool:
        return not self.error


@dataclass
class SliceFolderResult:
    folder: str
    labels: tuple[str, ...]
    rows: list[SliceRow]
    thresholds: dict[str, float]  # from the model card
    ood_threshold: float
    window: str
    rotate: int
    model: str  # "name version"
    turned_threshold: float = 0.75  # the OOD model card's orientation threshold (median P(turned) of a stack)

    @property
    def scored(self) -> list[SliceRow]:
        return [r for r in self.rows if r.ok]

    @property
    def errors(self) -> list[SliceRow]:
        return [r for r in self.rows if not r.ok]

    @property
    def n_dicom(self) -> int:
        return sum(r.kind == "dicom" for r in self.rows)


def is_dicom_file(path: Path) -> bool:
    return path.suffix.lower() in DICOM_SUFFIXES or (not path.suffix and looks_like_dicom(str(path)))


def find_images(folder: str | Path) -> list[Path]:
    """PNG/JPEG and DICOM files under `folder` (recursive), in name order."""
    root = Path(folder)
    if not root.is_dir():
        raise InputError("not a folder of slice images", str(root), code="not-a-folder")
    return sorted(p for p in root.rglob("*") if p.is_file() and (p.suffix.lower() in IMAGE_SUFFIXES or is_dicom_file(p)))


def read_dicom_slice(path: Path) -> np.ndarray:
    """One DICOM CT image file -> [256, 256] HU on the model grid, as a slice of a loaded series goes there.

    Why refuse rather than guess: an MR image, a multi-frame file or values that are not HU would be scored as
    something they are not; each is an InputError naming the file."""
    from core.io.loader import load

    try:
        vol = load(path)
    except NeuroReviewError as exc:
        raise InputError(exc.message, str(path), code="unreadable-dicom") from None
    if vol.modality != "CT":
        raise InputError(f"modality {vol.modality}: the ICH CNN reads head CT", str(path), code="wrong-modality")
    if vol.shape[0] != 1:
        raise InputError(f"holds {vol.shape[0]} images: score it as a series (neuroreview score)", str(path), code="multi-frame")
    vmin, vmax = float(vol.voxels.min()), float(vol.voxels.max())
    if not (np.isfinite(vmin) and np.isfinite(vmax)):
        raise InputError("the image holds NaN or infinite values", str(path), code="non-finite-values")
    if problem := not_hu(vmin, vmax):
        raise InputError(problem, str(path), code="not-hu")
    return display_slices(vol)[0]


def read_slice_image(path: Path) -> np.ndarray:
    """The image's pixels as stored (gray, RGB(A), 8 or 16 bit); InputError naming the file otherwise."""
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as exc:
        raise InputError(f"cannot read the image: {exc.strerror or exc}", str(path), code="unreadable-image") from None
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if img is None:
        raise InputError("cannot decode the image (not a valid PNG/JPEG)", str(path), code="unreadable-image")
    if img.ndim == 3 and img.shape[2] in (3, 4):
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2RGB if img.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    if min(img.shape[:2]) < 32:
        raise InputError(f"image of {img.shape[1]}x{img.shape[0]} pixels is too small to score", str(path), code="image-too-small")
    return img


def soft_tissue_fraction(hu: np.ndarray) -> float:
    """Shortcut baseline: share of the model grid inside the brain window (neither air/CSF-dark nor bone-white).

    It knows nothing about blood, only how much of the slice is soft tissue (which tracks the slice's
    level in the head); a model that does not clearly beat it has learnt the level, not blood."""
    v = hu_to_window8(hu)
    return float(((v > 0) & (v < 255)).mean())


def head_aspect(gray8: np.ndarray) -> float:
    """Height / width of the head's bounding box in the image as given (NaN when no head is found).

    In a brain-window export air and fat are 0; the head is the largest blob above that (JPEG noise aside)."""
    mask = head_mask_2d(np.where(gray8 > 10, 0.0, -1000.0).astype(np.float32))
    if mask.sum() < 0.02 * mask.size:
        return float("nan")
    ys, xs = np.nonzero(mask)
    return float((ys.max() - ys.min() + 1) / (xs.max() - xs.min() + 1))


def orientation_hint(rows: Iterable[SliceRow], rotate: int, turned_threshold: float = 0.75) -> str:
    """A warning when most images look turned to the model's orientation check, or most heads look wider than
    long after `rotate` (a 90-degree export), else ''.

    Axial heads are longer front-to-back than side-to-side (cephalic index about 0.75-0.85), so after the
    right rotation their outline is taller than wide. It cannot tell 0 from 180 (or 90 from 270). DICOM files
    are left out: their header orients them and `rotate` does not apply."""
    rows = [r for r in rows if r.kind == "image"]
    turned = np.array([r.turned_prob for r in rows if r.ok and np.isfinite(r.turned_prob)])
    if turned.size and float(np.median(turned)) > turned_threshold:
        return (f"the model finds {int((turned > turned_threshold).sum())} of {turned.size} images turned (not anterior up) after --rotate {rotate}: "
                f"they are not scored; give the rotation that puts anterior up (PHE-SICH exports need --rotate 90)")
    asp = np.array([r.aspect for r in rows if r.ok and np.isfinite(r.aspect)])
    if asp.size < 3:
        return ""
    if rotate in (90, 270):
        asp = 1.0 / asp
    median = float(np.median(asp))
    if median < 0.95:
        return (f"the heads look wider than long (median height/width {median:.2f} after --rotate {rotate}): "
                f"the images may be turned by 90 degrees; the model reads anterior up (PHE-SICH exports need --rotate 90)")
    return ""


def score_slice_folder(folder: str | Path, scorer, window: str = "brain", rotate: int = 0,
                       chunk: int = CHUNK) -> SliceFolderResult:
    """Score every PNG/JPEG and DICOM image under `folder` with `scorer.score_slices` (the ICH CNN alone, calibrated).

    Unreadable images become error rows; InputError only when the folder holds no image at all."""
    paths = find_images(folder)
    if not paths:
        raise InputError("no PNG, JPEG or DICOM images in the folder", str(folder), code="no-images")
    root = Path(folder)
    rows: list[SliceRow] = []
    labels: tuple[str, ...] = ()
    thresholds: dict[str, float] = {}
    ood_thr = float("nan")
    model = ""
    for i in range(0, len(paths), chunk):
        pending: list[SliceRow] = []
        hus: list[np.ndarray] = []
        for p in paths[i:i + chunk]:
            row = SliceRow(p.relative_to(root).as_posix(), kind="dicom" if is_dicom_file(p) else "image")
            rows.append(row)
            try:
                if row.kind == "dicom":
                    hu = read_dicom_slice(p)
                else:
                    img = read_slice_image(p)
                    row.aspect = head_aspect(to_gray8(img))
                    hu = slice_image_to_hu(img, window=window, rotate=rotate)
            except InputError as exc:
                row.error = exc.message
                continue
            except ValueError as exc:  # e.g. a 2-channel image to_gray8 cannot read
                row.error = str(exc)
                continue
            row.soft_tissue = soft_tissue_fraction(hu)
            pending.append(row)
            hus.append(hu)
        if not hus:
            continue
        res = scorer.score_slices(np.stack(hus).astype(np.float32))
        labels, thresholds = tuple(res.labels), dict(res.thresholds)
        ood_thr = float(res.ood.threshold)
        model = f"{res.models[0].name} {res.models[0].version}"
        for k, row in enumerate(pending):
            row.probs = {lab: float(res.probs[k, j]) for j, lab in enumerate(labels)}
            row.ood_score = float(res.ood.slice_scores[k])
            row.in_distribution = bool(res.ood.slice_in_distribution[k])
            if res.ood.turned_probs is not None:
                row.turned_prob = float(res.ood.turned_probs[k])
    turned = float(scorer.model("ich_ood").card.thresholds.get("turned", 0.75))  # what ood() judges a stack by
    return SliceFolderResult(str(folder), labels, rows, thresholds, ood_thr, window, rotate, model, turned)


# -- output --------------------------------------------------------------------------------------
def write_csv(result: SliceFolderResult, path: str | Path) -> None:
    """One row per image: filename, one column per label, the OOD columns, the error (empty when scored)."""
    cols = ["filename", *result.labels, "ood_score", "in_distribution", "turned_prob", "error"]
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for r in result.rows:
            probs = [f"{r.probs[lab]:.6f}" if r.ok else "" for lab in result.labels]
            ood = [f"{r.ood_score:.6f}", int(bool(r.in_distribution)), "" if np.isnan(r.turned_prob) else f"{r.turned_prob:.6f}"] if r.ok else ["", "", ""]
            w.writerow([r.name, *probs, *ood, r.error])


# -- labels and evaluation -------------------------------------------------------------------------
def read_labels_csv(path: str | Path) -> dict[str, int]:
    """filename -> 0/1 from a CSV whose first column is the file name and second the any-hemorrhage label.

    The header is free-form: a first row whose second cell is not 0/1 is taken as a header."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the labels file: {exc}", str(p), code="unreadable-labels") from None
    out: dict[str, int] = {}
    for n, rec in enumerate(csv.reader(text.splitlines())):
        if not rec or not rec[0].strip():
            continue
        if len(rec) < 2:
            raise InputError(f"line {n + 1}: expected filename,label", str(p), code="bad-labels")
        val = rec[1].strip()
        if val not in ("0", "1", "0.0", "1.0"):
            if n == 0:
                continue  # header
            raise InputError(f"line {n + 1}: label {val!r} is not 0 or 1", str(p), code="bad-labels")
        out[rec[0].strip()] = int(float(val))
    if not out:
        raise InputError("no labelled rows", str(p), code="bad-labels")
    return out


@dataclass
class SliceEvaluation:
    n: int
    n_pos: int
    n_out_of_distribution: int
    threshold: float
    auc: object  # core.study.stats.AUCResult
    metrics: object  # core.study.stats.BinaryMetrics at the card threshold
    shortcut_auc: object  # AUCResult of the soft-tissue fraction, in its better direction
    shortcut_direction: str  # 'more soft tissue = positive' | 'less soft tissue = positive'
    in_distribution_auc: object | None  # AUC on in-distribution images only
    unmatched_labels: list[str]  # labelled names with no scored image
    unlabelled: int  # scored images without a label


def _match(rows: list[SliceRow], labels: dict[str, int]) -> tuple[list[SliceRow], list[int], list[str]]:
    """Rows with a label: matched by the relative path, else by the bare file name, else by the name without its
    suffix (label files often list image IDs, e.g. RSNA's, without ".dcm"); the last two only when unique."""
    by_name: dict[str, list[SliceRow]] = {}
    by_stem: dict[str, list[SliceRow]] = {}
    for r in rows:
        by_name.setdefault(Path(r.name).name, []).append(r)
        by_stem.setdefault(Path(r.name).stem, []).append(r)
    rel = {r.name: r for r in rows}
    got, truth, missing = [], [], []
    for name, y in labels.items():
        given = Path(name.replace("\\", "/"))
        r = rel.get(given.as_posix())
        if r is None:
            cands = by_name.get(given.name) or by_stem.get(given.name, [])
            r = cands[0] if len(cands) == 1 else None
        if r is None:
            missing.append(name)
            continue
        got.append(r)
        truth.append(y)
    return got, truth, missing


def evaluate(result: SliceFolderResult, labels: dict[str, int], label: str = "any") -> SliceEvaluation:
    """AUC (DeLong CI), sensitivity/specificity at the card threshold, and the shortcut baseline beside it."""
    from core.study.stats import auc_delong, binary_metrics

    rows, truth, missing = _match(result.scored, labels)
    if not rows:
        raise InputError("no labelled file name matches a scored image", result.folder, code="no-labelled-images")
    t = np.asarray(truth, dtype=bool)
    p = np.array([r.probs[label] for r in rows])
    thr = float(result.thresholds.get(label, 0.5))
    soft = np.array([r.soft_tissue for r in rows])
    fwd, rev = auc_delong(t, soft), auc_delong(t, -soft)
    better_rev = np.isfinite(rev.auc) and rev.auc > fwd.auc
    ind = np.array([bool(r.in_distribution) for r in rows])
    ind_auc = auc_delong(t[ind], p[ind]) if ind.any() and not ind.all() else None
    return SliceEvaluation(n=len(rows), n_pos=int(t.sum()), n_out_of_distribution=int((~ind).sum()), threshold=thr,
                           auc=auc_delong(t, p), metrics=binary_metrics(t, p >= thr),
                           shortcut_auc=rev if better_rev else fwd,
                           shortcut_direction="less soft tissue = positive" if better_rev else "more soft tissue = positive",
                           in_distribution_auc=ind_auc, unmatched_labels=missing, unlabelled=len(result.scored) - len(rows))
