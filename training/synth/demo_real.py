"""The real-anatomy demo cases (issue 12 item 10): the real GE head CT (neurolabusc/dcm_qa_ct, BSD-2-Clause)
unmodified as the normal demo, and the same series with a generated acute subdural hematoma and
intraventricular hemorrhage inserted in HU (`training.synth.real_bleed`) as the bleed demo.

Both are written with the original headers; the bleed series gets new Series/SOP Instance UIDs
(deterministic), a SeriesDescription saying it was modified with a generated bleed for research only,
ImageType DERIVED and a DerivationDescription. Pixel data is JPEG-LS lossless (read by pylibjpeg-libjpeg,
a runtime dependency) to keep the bundle small. Needs the development data (../shared/data); the result
is committed under resources/demo/ct/, so nothing needs that folder at run time.

    python -m training.synth.demo_real [--src ../shared/data/ct-ge-head-tilt] [--out resources/demo]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pydicom
from pydicom.uid import JPEGLSLossless, generate_uid

from training.synth.real_bleed import intraventricular, subdural

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT.parent / "shared" / "data" / "ct-ge-head-tilt"
SEED = 20261
BLEED_DIR, NORMAL_DIR = "ct/real_bleed", "ct/real_normal"
# native slices (0-based, InstanceNumber - 1) by what they show: supratentorial for the subdural,
# the lateral ventricles' bodies and occipital horns for the intraventricular blood
SUBDURAL_SLICES = range(12, 25)
SUBDURAL_MAX_MM = 12.0
IVH_SLICES = range(16, 21)
DESCRIPTION = "HEAD MODIFIED: GENERATED ACUTE SDH + IVH INSERTED, RESEARCH ONLY"
LICENSE_NAME = "LICENSE-ge-head-ct.txt"


def _read(src: Path) -> list[pydicom.Dataset]:
    files = [pydicom.dcmread(p) for p in sorted(src.glob("*.dcm"))]
    return sorted(files, key=lambda ds: int(ds.InstanceNumber))


def _hu(ds: pydicom.Dataset) -> tuple[np.ndarray, np.ndarray]:
    raw = ds.pixel_array
    pad = raw == int(ds.PixelPaddingValue) if "PixelPaddingValue" in ds else np.zeros(raw.shape, bool)
    return (raw * float(ds.RescaleSlope) + float(ds.RescaleIntercept)).astype(np.float32), pad


def _store(ds: pydicom.Dataset, hu: np.ndarray, pad: np.ndarray) -> None:
    raw = np.rint((hu - float(ds.RescaleIntercept)) / float(ds.RescaleSlope))
    info = np.iinfo(ds.pixel_array.dtype)
    raw = np.clip(raw, info.min, info.max).astype(ds.pixel_array.dtype)
    raw[pad] = ds.pixel_array[pad]  # the padding outside the field of view stays as it was
    ds.PixelData = raw.tobytes()


def bleed_slices(datasets: list[pydicom.Dataset], kinds: tuple[str, ...]) -> dict[int, dict[str, np.ndarray]]:
    """{native index: {kind: blood weight}} and the pixel changes applied in place to `datasets`."""
    rng = np.random.default_rng(SEED)
    n = len(SUBDURAL_SLICES)
    weights: dict[int, dict[str, np.ndarray]] = {}
    for i, ds in enumerate(datasets):
        hu, pad = _hu(ds)
        px = float(ds.PixelSpacing[0])
        out = hu
        w: dict[str, np.ndarray] = {}
        if "subdural" in kinds and i in SUBDURAL_SLICES:
            t = SUBDURAL_MAX_MM * np.sin(np.pi * (i - SUBDURAL_SLICES.start + 0.5) / n)
            ins = subdural(out, px, "image-left", float(t), 160.0, rng, blood_hu=72.0)  # image left = patient right
            out, w["subdural"] = ins.hu, ins.weight
        if "intraventricular" in kinds and i in IVH_SLICES:
            ins = intraventricular(out, px, 0.55, rng, blood_hu=64.0)
            out, w["intraventricular"] = ins.hu, ins.weight
        if w:
            _store(ds, out, pad)
            weights[i] = w
    return weights


def _mark_modified(datasets: list[pydicom.Dataset], tag: str) -> None:
    series = generate_uid(entropy_srcs=[str(datasets[0].SeriesInstanceUID), tag])
    for ds in datasets:
        sop = generate_uid(entropy_srcs=[str(ds.SOPInstanceUID), tag])
        ds.SeriesInstanceUID = series
        ds.SOPInstanceUID = sop
        ds.file_meta.MediaStorageSOPInstanceUID = sop
        ds.SeriesDescription = DESCRIPTION
        ds.SeriesNumber = 9000 + int(ds.get("SeriesNumber", 0) or 0)
        ds.ImageType = ["DERIVED", "SECONDARY", "AXIAL"]
        ds.DerivationDescription = ("Generated acute subdural hematoma and intraventricular hemorrhage inserted in HU by "
                                    "NeuroReview training.synth.demo_real (not a real finding); research use only")


def _write(datasets: list[pydicom.Dataset], folder: Path, names: list[str]) -> int:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for ds, name in zip(datasets, names):
        ds.compress(JPEGLSLossless, generate_instance_uid=False)
        ds.save_as(folder / name, enforce_file_format=True)
    return sum(p.stat().st_size for p in folder.iterdir())


def _positive_slices(folder: Path, reference: Path, min_px: int = 200) -> list[int]:
    """Slices of the loaded (tilt-corrected) volume where the inserted blood changed >= min_px voxels by > 10 HU."""
    from core.io import load

    a, b = load(folder).voxels, load(reference).voxels
    changed = (np.abs(a - b) > 10.0).sum(axis=(1, 2))
    return [int(k) for k in np.nonzero(changed >= min_px)[0]]


def make(src: Path, out: Path) -> dict:
    names = [f"{int(ds.InstanceNumber):02d}.dcm" for ds in _read(src)]
    normal = _read(src)
    size_n = _write(normal, out / NORMAL_DIR, names)
    truth: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        per_kind = {}
        for kind in ("subdural", "intraventricular"):
            part = _read(src)
            bleed_slices(part, (kind,))
            _write(part, Path(tmp) / kind, names)
            per_kind[kind] = _positive_slices(Path(tmp) / kind, out / NORMAL_DIR)
    bleed = _read(src)
    weights = bleed_slices(bleed, ("subdural", "intraventricular"))
    _mark_modified(bleed, "neuroreview-demo-bleed")
    size_b = _write(bleed, out / BLEED_DIR, names)
    shutil.copy(src / "LICENSE", out / "ct" / LICENSE_NAME)
    n = len(bleed)
    any_slices = sorted(set(per_kind["subdural"]) | set(per_kind["intraventricular"]))
    from core.io import load

    nz = load(out / NORMAL_DIR).shape[0]
    labels = {"any": True, "epidural": False, "intraparenchymal": False, "intraventricular": True, "subarachnoid": False, "subdural": True}
    truth[BLEED_DIR] = {"modality": "CT", "source": "real GE head CT (neurolabusc/dcm_qa_ct In/GE, BSD-2-Clause) + generated blood",
                        "seed": SEED, "slices": nz, "native_slices": n, "series_labels": labels, "bg_side": "none",
                        "calcification": False, "subdural_side": "right",
                        "positive_slices": {"any": any_slices, **per_kind},
                        "native_positive_slices": {k: sorted(i for i, w in weights.items() if k in w) for k in ("subdural", "intraventricular")},
                        "max_blood_px": {k: int(sum((w[k] > 0.5).sum() for w in weights.values() if k in w)) for k in ("subdural", "intraventricular")}}
    truth[NORMAL_DIR] = {"modality": "CT", "source": "real GE head CT (neurolabusc/dcm_qa_ct In/GE, BSD-2-Clause), unmodified",
                         "slices": nz, "native_slices": n, "series_labels": {k: False for k in labels}, "bg_side": "none",
                         "calcification": False, "positive_slices": {},
                         "note": "no acute blood on a brain-window read; an old left posterior hypodensity"}
    print(f"wrote {out / NORMAL_DIR} ({size_n / 1e6:.1f} MB) and {out / BLEED_DIR} ({size_b / 1e6:.1f} MB): "
          f"subdural on loaded slices {per_kind['subdural']}, intraventricular on {per_kind['intraventricular']}")
    return truth


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", default=str(SRC))
    parser.add_argument("--out", default=str(ROOT / "resources" / "demo"))
    args = parser.parse_args()
    src, out = Path(args.src), Path(args.out)
    if not (src / "LICENSE").is_file() or not list(src.glob("*.dcm")):
        print(f"the real GE head CT is not at {src} (development data): the committed real demo cases stay as they are")
        return 1
    labels_path = out / "labels.json"
    labels = json.loads(labels_path.read_text()) if labels_path.exists() else {}
    labels.update(make(src, out))
    labels_path.write_text(json.dumps(labels, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
