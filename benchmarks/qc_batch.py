"""Skull-strip QC speed: ONNX Runtime vs torch eager per volume (same weights, same input), batch
throughput with 1 vs 2 worker processes on 1 mm 256x256x176 volumes, and peak memory.

    python benchmarks/qc_batch.py [--n 8]

The torch peer is training.qc's network with the bundled ONNX model's own weights (read from its
initializers: the export folded each BatchNorm into its convolution, so the convolution takes the folded
weight and the BatchNorm becomes the identity plus the folded bias); its outputs are checked against ONNX
Runtime's on the same input before timing. Both sides get one untimed warm-up run and the same repeats.
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


def torch_from_onnx(onnx_path: Path):
    """training.qc.QCExport holding the ONNX file's weights (see the module notes)."""
    import onnx
    import torch
    from onnx import numpy_helper

    from training.qc import QCExport, QCNet

    g = onnx.load(str(onnx_path)).graph
    init = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    face = "net.face.weight" in init  # 2.1: the face score per cell, a 1x1x1 convolution with no BatchNorm to fold
    convs = [(init[n.input[1]], init[n.input[2]]) for n in g.node if n.op_type == "Conv" and n.input[1] != "net.face.weight"]
    fc2 = init["net.fc2.weight"]
    import inspect

    kw = {"n_out": fc2.shape[0]} if "n_out" in inspect.signature(QCNet).parameters else {}
    net = QCNet(width=convs[0][0].shape[0], **kw)
    if net.fc2.weight.shape != fc2.shape:
        raise SystemExit(f"{onnx_path.name} has {fc2.shape[0]} outputs, training.qc.QCNet {net.fc2.weight.shape[0]}")
    mods = [m for m in net.features.modules() if isinstance(m, torch.nn.Conv3d)]
    bns = [m for m in net.features.modules() if isinstance(m, torch.nn.BatchNorm3d)]
    if len(mods) != len(convs):
        raise SystemExit(f"{onnx_path.name} has {len(convs)} convolutions, training.qc.QCNet {len(mods)}: not the same net")
    with torch.no_grad():
        for conv, bn, (w, b) in zip(mods, bns, convs):
            conv.weight.copy_(torch.from_numpy(w.copy()))
            bn.weight.fill_(1.0)
            bn.bias.copy_(torch.from_numpy(b.copy()))
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0 - bn.eps)  # (x - 0) / sqrt(var + eps) = x
        for name in ("fc1", "fc2", "face") if face else ("fc1", "fc2"):
            getattr(net, name).weight.copy_(torch.from_numpy(init[f"net.{name}.weight"].copy()))
            getattr(net, name).bias.copy_(torch.from_numpy(init[f"net.{name}.bias"].copy()))
    return QCExport(net).eval()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=8, help="volumes in the throughput runs")
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    import numpy as np
    import torch

    from core.io import load
    from core.paths import demo_dir
    from core.qc.engine import run_batch
    from core.qc.preprocess import qc_input
    from core.tasks.skullstrip import SkullStripScorer

    torch.set_num_threads(1)
    src = demo_dir() / "mri" / "good.nii.gz"
    vol = load(str(src))
    print(f"volume {vol.voxels.shape} spacing {tuple(round(s, 3) for s in vol.spacing)}")
    x = qc_input(vol.voxels, vol.spacing)[None, None]
    scorer = SkullStripScorer(threads=1)
    m = scorer.model
    m.run({"image": x}, ["probs", "cam"])  # warm-up, untimed (the torch side gets one too)
    t_ort = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        m.run({"image": x}, ["probs", "cam"])
        t_ort.append(time.perf_counter() - t0)
    mod = torch_from_onnx(m.card.onnx_path)
    t_torch = []
    with torch.no_grad():
        xt = torch.from_numpy(x)
        diff = float(np.abs(mod(xt)[0].numpy() - m.run({"image": x}, ["probs"])["probs"]).max())  # and warm-up
        if diff > 1e-4:
            raise SystemExit(f"torch peer and ONNX model disagree by {diff:.2e}: not the same weights")
        print(f"torch peer = the ONNX model's weights: max |probability difference| {diff:.1e}")
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
