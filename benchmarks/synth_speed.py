"""Generation speed of the study data: CT series (35 slices, 512x512, DICOM written) and skull-stripped
MRI subjects (1 mm, 176x256x256, NIfTI written), with 1 and 2 worker processes.

    python benchmarks/synth_speed.py [--ct 6] [--mri 4]

Targets (issue 3): >= 5 CT series/min and >= 10 MRI subjects/min on a 2-core machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.synth.__main__ import main as synth  # noqa: E402


def timed(argv: list[str]) -> float:
    t = time.perf_counter()
    assert synth(argv) == 0
    return time.perf_counter() - t


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ct", type=int, default=6)
    parser.add_argument("--mri", type=int, default=4)
    args = parser.parse_args()
    from training.synth.mri import load_template

    load_template()  # the one-off reference mask is cached before timing
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (1, 2):
            dt = timed(["ct", "--n", str(args.ct), "--out", f"{tmp}/ct{workers}", "--seed", "5", "--workers", str(workers)])
            rows.append((f"CT series (28-40 slices, DICOM) workers={workers}", args.ct / dt * 60, 5))
            dt = timed(["mri", "--n", str(args.mri), "--strips", "1", "--out", f"{tmp}/mri{workers}", "--seed", "5", "--workers", str(workers)])
            rows.append((f"MRI subjects (1 strip each, NIfTI) workers={workers}", args.mri / dt * 60, 10))
    print()
    for name, rate, target in rows:
        print(f"{name:<48} {rate:6.1f} per minute  (target >= {target})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
