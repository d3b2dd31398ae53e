"""RSNA 2019 Intracranial Hemorrhage format -> per-series slice arrays and labels.

Reads `stage_2_train.csv` (`ID_<hex>_<subtype>,Label`) and the DICOM folder through `core.io`
(so training sees exactly what the app sees), groups slices into series by SeriesInstanceUID and
orders them on the slice normal. `bg_labels.csv` (series-level none/left/right) is optional.
Preprocessed series are cached as .npz (HU at 256x256, int16) beside nothing the user owns, named by a fingerprint of
the loading code (training.ct_data.cache_key).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from core.errors import LoadError
from core.io import load, scan
from core.models.preprocess import display_slices
from training.ct_data.cache_key import RSNA_CODE, code_fingerprint

ICH_LABELS = ("any", "epidural", "intraparenchymal", "intraventricular", "subarachnoid", "subdural")
BG_CLASSES = ("none", "left", "right")


@dataclass
class Series:
    uid: str
    hu: np.ndarray  # int16 [z, 256, 256], radiological orientation
    labels: np.ndarray  # uint8 [z, 6] in ICH_LABELS order
    image_ids: list[str]
    bg_side: str | None  # none/left/right when known
    bg_slice: np.ndarray | None  # uint8 [z]: 0 none, 1 left, 2 right per slice (from masks when present)
    calc_slice: np.ndarray | None = None  # bool [z]: basal-ganglia calcification on the slice (generated masks only)


def read_labels(csv_path: Path) -> pd.DataFrame:
    """Wide table: index ImageID, columns the six labels (duplicates in the real CSV dropped)."""
    df = pd.read_csv(csv_path).drop_duplicates("ID")
    parts = df["ID"].str.rsplit("_", n=1, expand=True)
    df = df.assign(ImageID=parts[0], subtype=parts[1])
    wide = df.pivot(index="ImageID", columns="subtype", values="Label")
    missing = [c for c in ICH_LABELS if c not in wide.columns]
    if missing:
        raise ValueError(f"{csv_path} lacks labels {missing}")
    return wide[list(ICH_LABELS)].astype(np.uint8)


def load_rsna(root: str | Path, cache_dir: str | Path | None = None, limit: int | None = None) -> list[Series]:
    root = Path(root)
    labels = read_labels(root / "stage_2_train.csv")
    bg = pd.read_csv(root / "bg_labels.csv").set_index("SeriesInstanceUID") if (root / "bg_labels.csv").exists() else None
    masks_dir = root / "masks"
    images = root / "stage_2_train"
    result = scan(images)
    uids = [s.series_uid for s in result.series if s.kind == "dicom"]
    if limit:
        uids = uids[:limit]
    cache = Path(cache_dir) if cache_dir else None
    if cache:
        cache.mkdir(parents=True, exist_ok=True)
    fp = code_fingerprint(RSNA_CODE)  # a change to the loader or the grid must not be served from an old cache
    out: list[Series] = []
    for uid in tqdm(uids, desc="series", unit="series"):
        key = hashlib.sha1(uid.encode()).hexdigest()[:16]
        cpath = cache / f"{key}.{fp}.npz" if cache else None
        if cpath is not None and cpath.exists():
            z = np.load(cpath, allow_pickle=False)
            hu, ids = z["hu"], [str(i) for i in z["ids"]]
        else:
            try:
                vol = load(images, series_uid=uid, scanned=result)
            except LoadError as exc:
                print(f"skipped series {uid}: {exc}")
                continue
            if len(vol.ids.files) != vol.shape[0]:
                print(f"skipped series {uid}: resampled on load ({len(vol.ids.files)} files, {vol.shape[0]} slices)")
                continue
            hu = np.clip(np.rint(display_slices(vol)), -1024, 3071).astype(np.int16)
            ids = [Path(f).stem for f in vol.ids.files]
            if cpath is not None:
                np.savez(cpath, hu=hu, ids=np.array(ids))
        if not all(i in labels.index for i in ids):
            print(f"skipped series {uid}: slices without labels")
            continue
        side = None if bg is None or uid not in bg.index else str(bg.loc[uid, "bg_side"])
        bg_slice, calc_slice = None, None
        mpath = masks_dir / f"{uid}.npz"
        if side is not None:
            bg_slice = np.zeros(len(ids), dtype=np.uint8)
        if side is not None and mpath.exists():
            with np.load(mpath) as m:
                if side != "none":
                    vox = m["bg_hematoma"].reshape(len(ids), -1).sum(axis=1)
                    bg_slice[vox >= 20] = BG_CLASSES.index(side)
                if "calcification" in m.files:
                    calc_slice = m["calcification"].reshape(len(ids), -1).sum(axis=1) >= 20
        out.append(Series(uid, hu, labels.loc[ids].to_numpy(), ids, side, bg_slice, calc_slice))
    return out


def split_by_series(series: list[Series], held_out: float = 0.2) -> tuple[list[Series], list[Series]]:
    """Deterministic split by series (never by slice: slice splits leak a patient into both sides)."""
    def bucket(s: Series) -> float:
        return int(hashlib.sha1(s.uid.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    test = [s for s in series if bucket(s) < held_out]
    train = [s for s in series if bucket(s) >= held_out]
    return train, test
