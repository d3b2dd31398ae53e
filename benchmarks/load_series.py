"""Load a generated 40-slice 512x512 CT series: NeuroReview's loader vs SimpleITK's ImageSeriesReader.

    python benchmarks/load_series.py [--repeats 7]

Both read the same files from the page cache in one run; prints medians and the ratio
(ours / SimpleITK; target <= 1.0). SimpleITK does no tilt/spacing checks and no reorientation.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import SimpleITK as sitk  # noqa: E402

from core.io import load  # noqa: E402
from tests.core.io.dicom_factory import phantom_hu, write_ct_series  # noqa: E402


def sitk_load(folder: Path) -> np.ndarray:
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    return sitk.GetArrayFromImage(reader.Execute())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "ct"
        write_ct_series(folder, phantom_hu(40, 512, 512), slice_mm=5.0, pixel_mm=0.45)
        ours, peer = [], []
        a = load(folder).voxels
        b = sitk_load(folder)
        assert a.shape == b.shape, (a.shape, b.shape)
        for _ in range(args.repeats):  # interleave so both see the same machine state
            t = time.perf_counter(); load(folder); ours.append(time.perf_counter() - t)
            t = time.perf_counter(); sitk_load(folder); peer.append(time.perf_counter() - t)
    mo, mp = statistics.median(ours), statistics.median(peer)
    print(f"series: 40 x 512 x 512 int16, uncompressed, {args.repeats} repeats")
    print(f"neuroreview core.io.load        median {mo * 1000:7.1f} ms")
    print(f"SimpleITK ImageSeriesReader     median {mp * 1000:7.1f} ms")
    print(f"ratio ours/SimpleITK            {mo / mp:7.2f}x  (target <= 1.0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
