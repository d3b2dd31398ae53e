"""ICH + BG scoring of one head CT series with the two CT models as one session (their shared trunk run once,
core.models.shared_trunk) against the two sessions apart, in one run.

    .venv/bin/python benchmarks/shared_trunk.py [PATH] [--repeats 5] [--threads 2]

PATH defaults to the bundled bleed demo. Prints medians of: session loading (sha256 checks included; the merge
included for ours), and warm scoring (score_ich + score_bg on a new copy of the series each call, so no cached
CNN output is reused), and their ratios; and checks both sides give the same scores before anything is timed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import core.tasks.ct as ct  # noqa: E402
from core.io import load  # noqa: E402
from core.paths import demo_ct_dir  # noqa: E402


def scorer(shared: bool, threads: int) -> ct.CTScorer:
    s = ct.CTScorer(threads=threads)
    if not shared:  # the two files as if they shared nothing: two sessions, the trunk twice
        s._models[ct.CT_CNN] = s.model("ich_cnn")
    return s


def load_time(shared: bool, threads: int) -> float:
    t = time.perf_counter()
    s = scorer(shared, threads)
    for name in (ct.CT_CNN, "ich_ood", "ich_bilstm") + (() if shared else ("bg_laterality",)):
        s.model(name)
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("path", nargs="?", default=str(demo_ct_dir()))
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    vol = load(args.path)
    sides = {"one session": scorer(True, args.threads), "two sessions": scorer(False, args.threads)}
    out = {}
    for name, s in sides.items():  # warm-up, and the check that both give the same scores
        out[name] = (s.score_ich(replace(vol, voxels=vol.voxels.copy())), s.score_bg(replace(vol, voxels=vol.voxels.copy())))
    (i1, b1), (i2, b2) = out.values()
    diff = max(np.abs(i1.slice_probs - i2.slice_probs).max(), np.abs(b1.slice_probs - b2.slice_probs).max())
    if diff > 1e-5:
        raise SystemExit(f"the two sides disagree (max |diff| {diff:.2e}): nothing timed")
    print(f"series {args.path}: {vol.shape[0]} slices; both sides agree (max |diff| {diff:.1e}); {args.threads} threads, {args.repeats} repeats")

    def score(s: ct.CTScorer) -> None:
        v = replace(vol, voxels=vol.voxels.copy())  # a new array: the scorer's caches miss, as for a new series
        s.score_ich(v)
        s.score_bg(v)

    rows = []
    for what, fn in (("load sessions", lambda shared, s: load_time(shared, args.threads)),
                     ("score ICH + BG (warm)", lambda shared, s: _timed(lambda: score(s)))):
        med = {}
        for name, s in sides.items():
            fn(name == "one session", s)  # untimed warm-up, the same for both
            med[name] = statistics.median(fn(name == "one session", s) for _ in range(args.repeats))
        rows.append((what, med["one session"], med["two sessions"]))
    print(f"{'':<24}{'one session':>12}{'two sessions':>14}{'ratio':>8}")
    for what, a, b in rows:
        print(f"{what:<24}{a:>11.3f}s{b:>13.3f}s{b / a:>7.2f}x")
    return 0


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


if __name__ == "__main__":
    raise SystemExit(main())
