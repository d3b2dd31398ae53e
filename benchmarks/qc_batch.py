"""Skull-strip QC speed: ONNX Runtime vs torch eager per volume (same weights, same input), batch
throughput with 1 vs 2 worker processes on 1 mm 256x256x176 volumes, and peak memory.

    python benchmarks/qc_batch.py [--n 8] [--torch-weights /tmp/h3/qc.pt]

Medians over repeats in one run; ratios against the peer measured in the same run.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=8, help="volumes in the throughput runs")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--torch-weights", default=None, help="state_dict saved by training.qc --save-torch")
    args = ap.parse_args()
    import numpy as np
    import torch

    from core.io import load
    from core.paths import demo_dir
    from core.qc.engine import run_batch
    from core.qc.preprocess import qc_input
    from core.tasks.skullstrip import SkullStripScorer
    from training.qc import QCExport, QCNet

    torch.set_num_threads(1)
    src = demo_dir() / "mri" / "good.nii.gz"
    vol = load(str(src))
    print(f"volume {vol.voxels.shape} spacing {tuple(round(s, 3) for s in vol.spacing)}")
    x = qc_input(vol.voxels)[None, None]
    scorer = SkullStripScorer(threads=1)
    m = scorer.model
    t_ort = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        m.run({"image": x}, ["probs", "cam"])
        t_ort.append(time.perf_counter() - t0)
    net = QCNet()
    if args.torch_weights:
        net.load_state_dict(torch.load(args.torch_weights))
    mod = QCExport(net).eval()
    t_torch = []
    with torch.no_grad():
        xt = torch.from_numpy(x)
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            mod(xt)
            t_torch.append(time.perf_counter() - t0)
    o, t = statistics.median(t_ort), statistics.median(t_torch)
    print(f"model only, 1 thread: ONNX Runtime {o * 1000:.0f} ms, torch eager {t * 1000:.0f} ms (torch/ORT {t / o:.2f}x)")
    t_pre = []
    for _ in range(3):
        t0 = time.perf_counter()
        scorer.score(load(str(src)))
        t_pre.append(time.perf_counter() - t0)
    print(f"one volume end to end (load + preprocess + model + measures): {statistics.median(t_pre):.2f} s")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        names = ["good", "face_kept", "brain_cut"]
        for i in range(args.n):
            shutil.copy(demo_dir() / "mri" / f"{names[i % 3]}.nii.gz", folder / f"v{i:03d}.nii.gz")
        rates = {}
        for w in (1, 2):
            out = Path(tmp) / f"r{w}.csv"
            t0 = time.perf_counter()
            run_batch(folder, out, workers=w, progress=False, thumbs=True)
            dt = time.perf_counter() - t0
            rates[w] = args.n / dt * 60
            print(f"batch of {args.n} with thumbnails, {w} worker(s): {dt:.1f} s, {rates[w]:.1f} volumes/min")
        print(f"2 vs 1 workers: {rates[2] / rates[1]:.2f}x")
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS: this process {own:.0f} MB, largest worker {kids:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
