"""Batch QC engine on the bundled demo MRI strips: rows, errors by name, resume after kill -9,
dask LocalCluster, HTML report. Uses the bundled skullstrip_qc model through the real runtime."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.paths import demo_dir
from core.qc import engine
from core.qc.engine import COLUMNS, discover, read_done, run_batch
from core.qc.report import write_report
from tests.qc_thresholds import lenient_resources

DEMO = ["good", "face_kept", "brain_cut"]


def _folder(tmp: Path, copies: int = 1) -> Path:
    root = tmp / "in"
    for c in range(copies):
        d = root / f"site{c}" / "sub"
        d.mkdir(parents=True)
        for n in DEMO:
            shutil.copy(demo_dir() / "mri" / f"{n}.nii.gz", d / f"{n}.nii.gz")
    (root / "broken.nii.gz").write_bytes(b"\x1f\x8b not really gzip")
    (root / "notes.txt").write_text("ignored")
    return root


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_batch_rows_errors_resume_and_report(tmp_path, monkeypatch):
    # the bundled model flags the demo's good strip (a known miss, test_skullstrip.py): a passing row comes from a card
    # copy that flags brain loss at 0.7 (tests/qc_thresholds.py); the probabilities are the model's own
    monkeypatch.setenv("NEUROREVIEW_RESOURCES", str(lenient_resources(tmp_path)))
    monkeypatch.setattr(engine, "_SCORER", None)  # the per-process scorer reads the card when first made
    root = _folder(tmp_path)
    assert len(discover(root)) == 4
    out = tmp_path / "res.csv"
    s = run_batch(root, out, workers=1, progress=False)
    rows = {Path(r["path"]).name: r for r in _rows(out)}
    assert set(rows) == {"good.nii.gz", "face_kept.nii.gz", "brain_cut.nii.gz", "broken.nii.gz"}
    assert rows["broken.nii.gz"]["status"] == "error" and rows["broken.nii.gz"]["error"]
    assert s.errors and s.errors[0][0].endswith("broken.nii.gz")
    assert rows["good.nii.gz"]["verdict"] == "pass"
    assert rows["face_kept.nii.gz"]["flag_face"] == "1"
    assert rows["brain_cut.nii.gz"]["flag_brain_loss"] == "1"
    # rerun: nothing scored again, nothing duplicated
    s2 = run_batch(root, out, workers=1, progress=False)
    assert s2.done == 0 and s2.skipped == 4 and len(_rows(out)) == 4
    html = write_report(out, tmp_path / "r.html").read_text()
    assert html.count("src='r_thumbs/") == 3 and len(list((tmp_path / "r_thumbs").glob("*.png"))) == 3
    assert "src='http" not in html and "<link" not in html  # nothing from the network
    # flagged files come before the pass and after the unreadable one
    order = [html.index(n) for n in ("broken.nii.gz", "face_kept.nii.gz", "brain_cut.nii.gz", "good.nii.gz")]
    assert order[0] < min(order[1:3]) and max(order[1:3]) < order[3]


@pytest.mark.slow
def test_kill_minus_9_then_rerun_gives_each_file_once_with_equal_scores(tmp_path):
    root = _folder(tmp_path, copies=3)
    files = discover(root)
    out = tmp_path / "res.csv"
    cmd = [sys.executable, "-m", "app", "qc", str(root), "--out", str(out), "--no-thumbs"]
    env = dict(os.environ, NEUROREVIEW_THREADS="1")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        if out.exists() and out.read_text().count("\n") >= 4:  # header + 3 rows
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = read_done(out)
    assert 3 <= len(partial) < len(files)
    subprocess.run(cmd, env=env, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
    rows = _rows(out)
    paths = [r["path"] for r in rows]
    assert sorted(paths) == sorted(map(str, files))  # each file exactly once
    by = {r["path"]: r for r in rows}
    for p, r in partial.items():  # rows written before the kill are unchanged
        assert by[p] == {k: r[k] for k in COLUMNS}
    for name in DEMO:  # the same file in three folders scores identically across the two runs
        scores = {(by[str(f)]["p_face"], by[str(f)]["p_brain_loss"]) for f in files if f.name == f"{name}.nii.gz"}
        assert len(scores) == 1


@pytest.mark.slow
def test_dask_local_cluster_matches_process_run(tmp_path):
    from dask.distributed import Client, LocalCluster

    root = _folder(tmp_path)
    ref = tmp_path / "ref.csv"
    run_batch(root, ref, workers=1, progress=False, thumbs=False)
    out = tmp_path / "dask.csv"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, Client(cluster) as client:
        s = run_batch(root, out, scheduler=client, progress=False, thumbs=False)
    assert s.done == 4
    a = {r["path"]: (r["status"], r["p_face"], r["p_brain_loss"]) for r in _rows(ref)}
    b = {r["path"]: (r["status"], r["p_face"], r["p_brain_loss"]) for r in _rows(out)}
    assert a == b
