"""Batch skull-strip QC of a folder: every NIfTI under it (recursive), one CSV row per file appended
and flushed as soon as it is done, so an interrupted run (even kill -9) loses at most the file in
flight and a rerun skips what is already in the CSV. Unreadable files get an `error` row naming
the file and the reason; the rest of the batch goes on.

Work runs in a process pool (each worker one ONNX Runtime session with 1 intra-op thread, loading
the next file while others infer) or on a dask.distributed cluster (`scheduler="tcp://host:port"`,
or a Client passed in). Scores are deterministic: the same file gives the same numbers anywhere.
"""

from __future__ import annotations

import csv
import hashlib
import os
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from core.qc.measures import NORMAL

COLUMNS = ["path", "status", "verdict", "p_face", "p_brain_loss", "p_not_stripped", "flag_face", "flag_brain_loss",
           "flag_not_stripped", "explanation", *NORMAL.keys(), "outside_normal", "shape", "spacing_mm", "model", "provider",
           "seconds", "error"]


def _p(v: float) -> str:
    return "" if v != v else f"{v:.6f}"  # nan (not scorable before the model ran) -> empty


def discover(folder: str | Path) -> list[Path]:
    """All .nii / .nii.gz files under folder, sorted (deterministic order)."""
    folder = Path(folder)
    if folder.is_file():
        return [folder]
    return sorted(p for p in folder.rglob("*") if p.is_file() and (p.name.endswith(".nii") or p.name.endswith(".nii.gz")))


def thumb_name(path: str) -> str:
    return hashlib.sha1(path.encode()).hexdigest()[:16] + ".png"


# ------------------------------------------------------------------ worker side

_SCORER = None


def _scorer():
    global _SCORER
    if _SCORER is None:
        from core.tasks.skullstrip import SkullStripScorer

        _SCORER = SkullStripScorer(threads=1)
    return _SCORER


def score_file(path: str, thumbs_dir: str | None = None) -> dict:
    """One CSV row for one file; never raises for a bad file (the row says what went wrong)."""
    t0 = time.perf_counter()
    row = {c: "" for c in COLUMNS}
    row["path"] = path
    try:
        from core.io import load

        vol = load(path)
        res = _scorer().score(vol)
        m = res.measures.to_dict()
        row.update(status="ok", verdict=res.verdict, p_face=_p(res.p_face), p_brain_loss=_p(res.p_brain_loss),
                   p_not_stripped=_p(res.p_not_stripped), flag_face=int(res.flags["face"]), flag_brain_loss=int(res.flags["brain_loss"]),
                   flag_not_stripped=int(res.flags["not_stripped"]), explanation=res.explanation(),
                   outside_normal="; ".join(res.measures.outside_normal()),
                   shape="x".join(map(str, vol.voxels.shape)), spacing_mm="x".join(f"{s:.3g}" for s in vol.spacing),
                   model=f"{res.model.name} {res.model.version}", provider=res.model.provider, **m)
        if thumbs_dir:
            from core.qc.thumbs import mosaic, png_bytes

            Path(thumbs_dir, thumb_name(path)).write_bytes(png_bytes(mosaic(vol)))
    except Exception as exc:  # one bad file must not stop the batch: report it by name
        from core.errors import NeuroReviewError

        row.update(status="error", error=(exc.message if isinstance(exc, NeuroReviewError) else f"{type(exc).__name__}: {exc}").replace("\n", " "))
    row["seconds"] = f"{time.perf_counter() - t0:.3f}"
    return row


def _init_worker() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _scorer()


# ------------------------------------------------------------------ CSV (append + flush, resumable)

def read_done(csv_path: Path) -> dict[str, dict]:
    """Rows already in the results CSV, by path. A torn last line (killed mid-write) is cut off."""
    if not csv_path.exists() or csv_path.stat().st_size == 0:
        return {}
    raw = csv_path.read_bytes()
    if not raw.endswith(b"\n"):
        cut = raw.rfind(b"\n") + 1
        with open(csv_path, "r+b") as fh:
            fh.truncate(cut)
    with open(csv_path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {r["path"]: r for r in rows if r.get("path") and r.get("status") in ("ok", "error")}


class RowWriter:
    def __init__(self, csv_path: Path) -> None:
        new = not csv_path.exists() or csv_path.stat().st_size == 0
        csv_path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(csv_path, "a", newline="")
        self.w = csv.DictWriter(self.fh, fieldnames=COLUMNS, extrasaction="ignore")
        if new:
            self.w.writeheader()
            self._sync()

    def _sync(self) -> None:
        self.fh.flush()
        os.fsync(self.fh.fileno())

    def write(self, row: dict) -> None:
        self.w.writerow(row)
        self._sync()

    def close(self) -> None:
        self.fh.close()


@dataclass
class BatchSummary:
    total: int
    skipped: int
    done: int
    counts: Counter = field(default_factory=Counter)
    errors: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def text(self) -> str:
        rate = self.done / self.seconds * 60 if self.seconds > 0 else 0.0
        lines = [f"{self.total} files: {self.done} scored now, {self.skipped} already in the results ({rate:.1f} files/min)"]
        lines.append("  " + ", ".join(f"{k}: {v}" for k, v in sorted(self.counts.items())))
        for p, e in self.errors:
            lines.append(f"  error {p}: {e}")
        return "\n".join(lines)


def _run_pool(paths: list[str], workers: int, thumbs: str | None) -> Iterator[dict]:
    if workers <= 1:
        _scorer()
        for p in paths:
            yield score_file(p, thumbs)
        return
    with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker) as ex:
        futs = [ex.submit(score_file, p, thumbs) for p in paths]
        for f in as_completed(futs):
            yield f.result()


def _run_dask(paths: list[str], scheduler, thumbs: str | None) -> Iterator[dict]:
    from dask.distributed import Client, as_completed as das_completed

    client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
    try:
        futs = client.map(score_file, paths, thumbs_dir=thumbs, pure=False)
        for f in das_completed(futs):
            yield f.result()
    finally:
        if client is not scheduler:
            client.close()


def run_batch(folder: str | Path, out_csv: str | Path, workers: int = 1, scheduler=None, thumbs: bool = True,
              progress: bool = True, on_row: Callable[[dict], None] | None = None) -> BatchSummary:
    out_csv = Path(out_csv)
    files = [str(p) for p in discover(folder)]
    done = read_done(out_csv)
    todo = [p for p in files if p not in done]
    thumbs_dir = None
    if thumbs:
        thumbs_dir = str(out_csv.with_name(out_csv.name + ".thumbs"))
        Path(thumbs_dir).mkdir(parents=True, exist_ok=True)
    summary = BatchSummary(total=len(files), skipped=len(files) - len(todo), done=0)
    for r in done.values():
        summary.counts[r["verdict"] or r["status"]] += 1
    writer = RowWriter(out_csv)
    t0 = time.perf_counter()
    rows: Iterable[dict] = _run_dask(todo, scheduler, thumbs_dir) if scheduler is not None else _run_pool(todo, workers, thumbs_dir)
    if progress:
        from tqdm import tqdm

        rows = tqdm(rows, total=len(todo), desc="skull-strip QC", unit="file", dynamic_ncols=True)
    try:
        for row in rows:
            writer.write(row)
            summary.done += 1
            summary.counts[row["verdict"] or row["status"]] += 1
            if row["status"] == "error":
                summary.errors.append((row["path"], row["error"]))
            if on_row:
                on_row(row)
    finally:
        writer.close()
        summary.seconds = time.perf_counter() - t0
    return summary
