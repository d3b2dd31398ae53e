"""The real 8-bit head CT slice sets in ../shared/data, at the model grid, split by patient.

- CT-ICH (Hssayeni et al. 2020, PhysioNet, CC BY 4.0 up to v1.2): 67 trauma patients, per-slice labels of
  the five subtypes, anterior up. No masks.
- PHE-SICH-CT-IDS (Ma et al. 2024, non-commercial use): 99 patients with a basal-ganglia hematoma, outlines
  of the perihematomal region (the hematoma lies inside), anterior at the image's left (rotate 90 clockwise).
  Only "any" and "intraparenchymal" are known on it (intraventricular and subarachnoid extension is not
  labelled: masked in the loss); the patient side of the export is undocumented, so its lesions count as
  "basal-ganglia hemorrhage, side unknown".

Splits are by patient, stratified by the rarest finding a patient has, made once with a fixed seed and
stored in `splits.json` beside this file: the test patients are never used for any choice.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm import tqdm

from core.imaging.pseudo_hu import hu_to_window8
from core.models.preprocess import MODEL_SIZE, slice_image_to_hu, to_square_grid
from training.ct_data.cache_key import REAL_SLICE_CODE, cache_path
from training.ct_data.phantom import SliceSeries
from training.datasets.rsna import ICH_LABELS

SPLITS_FILE = Path(__file__).with_name("splits.json")
SUBTYPES_BY_RARITY = ("subdural", "intraventricular", "subarachnoid", "intraparenchymal", "epidural")
FRACTIONS = {"test": 0.2, "val": 0.15}
PHE_ROTATE = 90


def to_grid8(image: np.ndarray, rotate: int = 0) -> np.ndarray:
    """An 8-bit brain-window slice image -> uint8 [256, 256] at the model grid (the one shared path)."""
    return hu_to_window8(slice_image_to_hu(image, "brain", rotate))


def mask_to_grid(mask: np.ndarray, rotate: int = 0) -> np.ndarray:
    """A slice image's lesion mask -> bool [256, 256], turned, padded and resized as `to_grid8` does the image."""
    m = (mask > 0).astype(np.uint8)
    if rotate:
        m = np.rot90(m, k=-rotate // 90)
    return to_square_grid(np.ascontiguousarray(m), 0, MODEL_SIZE, nearest=True).astype(bool)


def _read_gray(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise OSError(f"cannot read image {path}")
    return img


#: correlation of two neighbouring slices' 64x64 thumbnails below which they are not neighbours in the body
ORDER_BREAK_CORRELATION = 0.5
#: an end slice resembling a far slice this much more than its neighbour was filed at the wrong end
STRAY_END_MARGIN = 0.2


def slice_order_check(img: np.ndarray) -> tuple[list[int], list[int]]:
    """(inner breaks: i where slice i+1 does not continue slice i, stray end slices) of a patient's files,
    from the correlation of their thumbnails: CT-ICH's numbering is sometimes out of anatomical order."""
    x = np.stack([cv2.resize(im, (64, 64), interpolation=cv2.INTER_AREA).astype(np.float32).ravel() for im in img])
    x = (x - x.mean(1, keepdims=True)) / (x.std(1, keepdims=True) + 1e-6)
    corr = x @ x.T / x.shape[1]
    n = len(img)
    stray = [e for e, nb in ((0, 1), (n - 1, n - 2))
             if max(corr[e, j] for j in range(n) if abs(j - e) > 1) - corr[e, nb] > STRAY_END_MARGIN]
    inner = [i for i in range(n - 1) if corr[i, i + 1] < ORDER_BREAK_CORRELATION and i not in stray and i + 1 not in stray]
    return inner, stray


def checked_labels(labels: np.ndarray, img: np.ndarray) -> tuple[np.ndarray, str]:
    """CT-ICH's labels are per slice number; where the image numbering is out of anatomical order they cannot
    be trusted. A stray end slice loses its labels; a break inside a patient with any hemorrhage label makes
    the whole patient unknown (patient 49: 'epidural' on neck slices). A patient without any hemorrhage keeps
    its all-zero labels (they hold in any order)."""
    if labels[:, 0].max() <= 0 or len(img) < 4:
        return labels, ""
    inner, stray = slice_order_check(img)
    out = labels.copy()
    if inner:
        out[:] = -1
        return out, f"slice order broken after slices {[b + 1 for b in inner]}: all labels unknown"
    out[stray] = -1
    return out, f"stray end slice(s) {[e + 1 for e in stray]}: labels unknown" if stray else ""


def load_ct_ich(root: Path, cache: Path) -> list[SliceSeries]:
    cpath = cache_path(cache, "ct_ich", REAL_SLICE_CODE)
    df = pd.read_csv(root / "slices.csv").sort_values(["patient", "slice"])
    if not cpath.exists():
        cache.mkdir(parents=True, exist_ok=True)
        imgs = np.stack([to_grid8(_read_gray(root / "images" / f)) for f in tqdm(df.filename, desc="CT-ICH", unit="img")])
        tmp = cpath.with_name(f".{cpath.stem}.tmp.npz")
        np.savez_compressed(tmp, img=imgs)
        os.replace(tmp, cpath)
    imgs = np.load(cpath)["img"]
    out = []
    pos = 0
    for pid, g in df.groupby("patient", sort=False):
        n = len(g)
        labels, why = checked_labels(g[list(ICH_LABELS)].to_numpy(np.float32), imgs[pos:pos + n])
        if why:
            print(f"CT-ICH patient {int(pid)}: {why}")
        bg = np.where(labels[:, 2] > 0, -1, 0).astype(np.int8)  # an intraparenchymal bleed may be in the basal ganglia
        out.append(SliceSeries(f"ctich_{int(pid):03d}", "ct-ich", imgs[pos:pos + n], labels, bg, None, patient=f"ctich_{int(pid):03d}"))
        pos += n
    return out


def load_phe_sich(root: Path, cache: Path) -> list[SliceSeries]:
    cpath = cache_path(cache, "phe_sich", REAL_SLICE_CODE)
    df = pd.read_csv(root / "slices.csv", dtype={"patient": str}).sort_values("filename")
    if not cpath.exists():
        cache.mkdir(parents=True, exist_ok=True)
        imgs, masks = [], []
        for f in tqdm(df.filename, desc="PHE-SICH", unit="img"):
            imgs.append(to_grid8(_read_gray(root / "images" / f), PHE_ROTATE))
            mp = root / "masks" / f
            masks.append(mask_to_grid(_read_gray(mp) if mp.exists() else np.zeros((512, 512), np.uint8), PHE_ROTATE))
        tmp = cpath.with_name(f".{cpath.stem}.tmp.npz")
        np.savez_compressed(tmp, img=np.stack(imgs), mask=np.stack(masks))
        os.replace(tmp, cpath)
    z = np.load(cpath)
    imgs, masks = z["img"], z["mask"]
    out = []
    pos = 0
    for pid, g in df.groupby("patient", sort=False):
        n = len(g)
        les = g["lesion"].to_numpy(np.float32)
        les = np.where(np.isnan(les), -1.0, les)  # a few slices carry no lesion label: unknown, not negative
        labels = np.zeros((n, len(ICH_LABELS)), np.float32)
        labels[:, 0] = les  # any
        labels[:, 2] = les  # intraparenchymal
        labels[:, 3] = -1  # intraventricular: not labelled
        labels[:, 4] = -1  # subarachnoid: not labelled
        labels[les < 0] = -1
        bg = np.where(les > 0, 3, np.where(les < 0, -1, 0)).astype(np.int8)
        m = masks[pos:pos + n] & (les[:, None, None] > 0)
        out.append(SliceSeries(f"phe_{pid}", "phe-sich", imgs[pos:pos + n], labels, bg, m, patient=f"phe_{pid}"))
        pos += n
    return out


def _stratum(s: SliceSeries) -> str:
    if s.source == "phe-sich":
        return "phe"
    present = {lab for j, lab in enumerate(ICH_LABELS) if (s.labels[:, j] > 0).any()}
    for sub in SUBTYPES_BY_RARITY:
        if sub in present:
            return sub
    return "none"


def make_splits(series: list[SliceSeries], seed: int = 2026) -> dict[str, str]:
    """patient -> 'train' | 'val' | 'test', stratified by the rarest finding (each stratum of >= 3 gives a test patient)."""
    rng = np.random.default_rng(seed)
    strata: dict[str, list[str]] = {}
    for s in series:
        strata.setdefault(_stratum(s), []).append(s.patient)
    out = {}
    for name in sorted(strata):
        pts = sorted(strata[name])
        rng.shuffle(pts)
        n = len(pts)
        n_test = max(1, round(n * FRACTIONS["test"])) if n >= 3 else 0
        n_val = max(1, round(n * FRACTIONS["val"])) if n >= 5 else 0
        for i, p in enumerate(pts):
            out[p] = "test" if i < n_test else ("val" if i < n_test + n_val else "train")
    return out


def load_splits(series: list[SliceSeries]) -> dict[str, str]:
    """The stored split; patients not in it (a new data version) are refused, not silently re-split."""
    if not SPLITS_FILE.exists():
        splits = make_splits(series)
        SPLITS_FILE.write_text(json.dumps(dict(sorted(splits.items())), indent=0) + "\n")
        return splits
    splits = json.loads(SPLITS_FILE.read_text())
    missing = [s.patient for s in series if s.patient not in splits]
    if missing:
        raise ValueError(f"{len(missing)} patients are not in {SPLITS_FILE} (e.g. {missing[:3]}): the data changed; make new splits deliberately")
    return splits
