"""`python -m training.synth ct|mri --n N --out DIR --seed S`: make a study data set on disk."""

from __future__ import annotations

import argparse
import sys
import time
from multiprocessing import Pool
from pathlib import Path

from tqdm import tqdm


def _ct_job(args: tuple) -> dict:
    seed, root, slice_mm, size, compress, lesions, bg_side, bg_fraction = args
    from training.synth.ct import make_ct_case
    from training.synth.rsna import write_case_files

    case = make_ct_case(seed, slice_mm=slice_mm, size=size, lesions=lesions, bg_side=bg_side, bg_fraction=bg_fraction)
    return write_case_files(case, root, compress)


def run_ct(args: argparse.Namespace) -> int:
    from training.synth.rsna import DatasetWriter

    root = Path(args.out)
    seeds = [args.seed * 100_000 + i for i in range(args.n)]
    jobs = [(s, str(root), args.slice_mm, args.size, args.compress, None, None, args.bg_fraction) for s in seeds]
    t0 = time.perf_counter()
    with DatasetWriter(root, compress=args.compress) as writer:
        if args.workers > 1:
            with Pool(args.workers) as pool:
                for written in tqdm(pool.imap(_ct_job, jobs), total=len(jobs), desc="CT series", unit="series"):
                    writer.record(written)
        else:
            for job in tqdm(jobs, desc="CT series", unit="series"):
                writer.record(_ct_job(job))
    dt = time.perf_counter() - t0
    print(f"wrote {args.n} series to {root} in {dt:.0f} s ({args.n / dt * 60:.1f} series/min)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.synth", description=__doc__)
    sub = parser.add_subparsers(dest="kind", required=True)
    ct = sub.add_parser("ct", help="head CT series with hemorrhages, RSNA 2019 format")
    ct.add_argument("--n", type=int, default=200)
    ct.add_argument("--out", required=True)
    ct.add_argument("--seed", type=int, default=0)
    ct.add_argument("--slice-mm", type=float, default=5.0)
    ct.add_argument("--size", type=int, default=512)
    ct.add_argument("--workers", type=int, default=1)
    ct.add_argument("--bg-fraction", type=float, default=0.25,
                    help="share of heads with a basal-ganglia hematoma, half left, half right (default 0.25; raise it for BG training sets)")
    ct.add_argument("--compress", action="store_true", help="RLE lossless DICOM (smaller, slower to write)")
    ct.set_defaults(func=run_ct)
    try:
        from training.synth import mri_cli  # the MRI generator registers itself when present
    except ImportError:
        mri_cli = None
    if mri_cli is not None:
        mri_cli.register(sub)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
