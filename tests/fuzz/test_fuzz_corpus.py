"""Issue 17's fuzz corpus: every case through `info` and (where it matters) `score`, contract checked.

The first case of every kind runs in the quick part; the rest is marked slow (CI runs both). Case count
and run time are printed at the end of each part (pytest -s, or the -ra summary of a failure).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fuzz import contract
from tests.fuzz.corpus import REAL_KINDS, base_hu, builders, real_case, write_base

ROOT = Path(__file__).resolve().parents[2]
LEANING_MARGIN = 0.1  # left/right leanings closer than this are noise, not a side to compare
ALL = builders()
_seen: set[str] = set()
QUICK, REST = [], []
for _id, _build in ALL:
    _kind = _id.rsplit("-", 1)[0].split("=")[0]
    (REST if _kind in _seen else QUICK).append((_id, _build))
    _seen.add(_kind)


@pytest.fixture(scope="module")
def baseline_side(tmp_path_factory) -> str:
    """The side the BG model leans to on the clean generated series (the blob is in the left basal ganglia)."""
    folder = tmp_path_factory.mktemp("clean") / "ct"
    write_base(folder, 1)
    run = contract.run_cli(["score", str(folder), "--json"])
    assert run.rc == 0, run.err
    report = json.loads(run.out)
    print(f"clean generated series: BG left {report['bg']['series_probs']['left']:.3f}, right {report['bg']['series_probs']['right']:.3f}")
    return contract.raw_side(report, LEANING_MARGIN)


def _check(build, tmp_path, baseline_side):
    t0 = time.perf_counter()
    case = build(tmp_path)
    problems = contract.case_problems(case, baseline_side)
    assert not problems, f"{case.id} ({case.target}): " + "; ".join(problems)
    return time.perf_counter() - t0


@pytest.mark.parametrize("build", [b for _, b in QUICK], ids=[i for i, _ in QUICK])
def test_quick_corpus(build, tmp_path, baseline_side):
    _check(build, tmp_path, baseline_side)


@pytest.mark.slow
@pytest.mark.parametrize("build", [b for _, b in REST], ids=[i for i, _ in REST])
def test_full_corpus(build, tmp_path, baseline_side):
    _check(build, tmp_path, baseline_side)


def test_corpus_size():
    """The corpus stays a few hundred cases, every kind in the quick part."""
    print(f"fuzz corpus: {len(ALL)} generated cases ({len(QUICK)} quick, {len(REST)} slow) + {len(REAL_KINDS)} on the real GE series")
    assert 200 <= len(ALL) <= 600 and len(QUICK) >= 40


@pytest.fixture(scope="module")
def ge_baseline(shared_data) -> tuple[Path, str]:
    source = shared_data / "ct-ge-head-tilt"
    if not source.is_dir():
        pytest.skip(f"{source} is absent")
    run = contract.run_cli(["score", str(source), "--json"], seconds=120)
    assert run.rc == 0, run.err
    report = json.loads(run.out)
    print(f"clean GE series: BG left {report['bg']['series_probs']['left']:.3f}, right {report['bg']['series_probs']['right']:.3f}")
    return source, contract.raw_side(report, LEANING_MARGIN)


@pytest.mark.slow
@pytest.mark.parametrize("what", REAL_KINDS)
def test_real_ge_series_mutations(what, tmp_path, ge_baseline):
    source, side = ge_baseline
    case = real_case(tmp_path, 7, source, what)
    problems = contract.case_problems(case, side)
    assert not problems, f"{case.id}: " + "; ".join(problems)


@pytest.mark.parametrize("what", ["zeros-2GB", "rle-panic", "nothing", "nan-slope"])
def test_as_a_subprocess(what, tmp_path):
    """The real process: exit codes, one stderr line, no traceback, no hang (the 2 GB file of zeros)."""
    from tests.fuzz.corpus import extra_files_case, lonely_file_case, rle_case, tag_case

    case = {"zeros-2GB": lambda: extra_files_case(tmp_path, 11, "zeros-2GB"),
            "rle-panic": lambda: rle_case(tmp_path, 5, "flip"),  # this seed makes the Rust RLE decoder panic
            "nothing": lambda: lonely_file_case(tmp_path, 13, "random"),
            "nan-slope": lambda: tag_case(tmp_path, 14, "RescaleSlope", "nan", True)}[what]()
    for command in ("info", "score"):
        out = subprocess.run([sys.executable, "-m", "app", command, str(case.target)], capture_output=True, text=True,
                             timeout=120, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        problems = contract.contract_problems(case, contract.Run(command, out.returncode, out.stdout, out.stderr))
        assert not problems, f"{command} {case.id}: {problems}\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}"


def test_base_blob_is_left():
    """The corpus's truth: the hyperdense blob sits at low x, the patient's left in canonical R, A, S arrays."""
    hu = base_hu(0)
    ys, xs = (hu[5] == 70).nonzero()
    assert xs.mean() < hu.shape[2] / 2
