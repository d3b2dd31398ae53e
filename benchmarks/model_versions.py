"""Scoring time of the bundled CT models against another version of them, on the real demo series.

    git show REV:resources/models/ich_cnn.onnx > OLD/ich_cnn.onnx   (and the other ich_*/bg_* files with their .json)
    .venv/bin/python benchmarks/model_versions.py --baseline OLD [--repeats 7] [--threads 2]

Why: 0.4.2 reads every slice twice (mirror averaging inside the ONNX graph); this prints what that costs the user.
Both sides: warm sessions, the same volume, ICH + BG scoring, timed alternately in one run, medians and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.io import load  # noqa: E402
from core.models.registry import ModelRegistry  # noqa: E402
from core.paths import demo_ct_dir, models_dir  # noqa: E402
from core.tasks import CTScorer  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", required=True, help="a folder with another version's ich_cnn, ich_bilstm, ich_ood, bg_laterality (.onnx + .json)")
    ap.add_argument("--series", default=str(demo_ct_dir()))
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    vol = load(args.series)
    scorers = {"baseline": CTScorer(ModelRegistry([Path(args.baseline)]), threads=args.threads),
               "bundled": CTScorer(ModelRegistry([models_dir()]), threads=args.threads)}
    versions = {k: s.model("ich_cnn").card.version for k, s in scorers.items()}
    for s in scorers.values():  # warm-up: sessions open, as in the running app
        s.score_ich(vol)
        s.score_bg(vol)
    times: dict[str, list[float]] = {k: [] for k in scorers}
    for _ in range(args.repeats):
        for k, s in scorers.items():
            s._cache = None
            t = time.perf_counter()
            s.score_ich(vol)
            s.score_bg(vol)
            times[k].append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{vol.shape[0]} slices, {args.threads} threads, {args.repeats} alternating runs each, median ICH + BG scoring:")
    for k in scorers:
        print(f"  {k:<9} ich_cnn {versions[k]:<6} {med[k]:.3f} s")
    print(f"  ratio bundled / baseline: {med['bundled'] / med['baseline']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
