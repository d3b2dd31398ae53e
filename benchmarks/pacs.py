"""DICOM receive speed: the three demo CT series (91 instances, RLE) sent by C-STORE over one association
each to `neuroreview listen` vs to Orthanc (the peer PACS, Debian package), medians of N runs; and the
listener's time from the last instance of a series to its score in the worklist (quiet period excluded).

    python benchmarks/pacs.py [--runs 5]      # Orthanc is started here on private ports (needs /usr/sbin/Orthanc)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pydicom

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.core.pacs.helpers import DEMO, free_port, start_listen, store_c  # noqa: E402

CASES = ("hemorrhage", "normal", "bg_left")


def _files() -> list[Path]:
    return [f for c in CASES for f in sorted((DEMO / c).glob("*.dcm"))]


def _send_all(port: int, called: str) -> float:
    t0 = time.perf_counter()
    for c in CASES:
        st = store_c(sorted((DEMO / c).glob("*.dcm")), port, calling="BENCH", called=called)
        assert set(st) == {0}, st
    return time.perf_counter() - t0


def _orthanc(tmp: Path) -> tuple[subprocess.Popen, int, int]:
    dicom, http = free_port(), free_port()
    cfg = {"Name": "bench", "StorageDirectory": str(tmp / "storage"), "IndexDirectory": str(tmp / "index"), "Plugins": [],
           "DicomAet": "ORTHANC", "DicomPort": dicom, "HttpPort": http, "RemoteAccessAllowed": False,
           "AuthenticationEnabled": False, "DicomAlwaysAllowStore": True, "DicomCheckCalledAet": False}
    (tmp / "o.json").write_text(json.dumps(cfg))
    proc = subprocess.Popen([shutil.which("Orthanc") or "/usr/sbin/Orthanc", str(tmp / "o.json")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{http}/system", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    return proc, dicom, http


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    n = len(_files())
    mb = sum(f.stat().st_size for f in _files()) / 1e6
    ours, peer, to_score = [], [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            port = free_port()
            proc = start_listen(tmp, port, "--allow", "BENCH", "--no-score")
            ours.append(_send_all(port, "NEUROREVIEW"))
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
            orth, dicom, _http = _orthanc(tmp)
            peer.append(_send_all(dicom, "ORTHANC"))
            orth.terminate()
            orth.wait(30)
    with tempfile.TemporaryDirectory() as tmp:  # last instance -> scored, per series (quiet period 1 s subtracted)
        tmp = Path(tmp)
        port = free_port()
        proc = start_listen(tmp, port, "--allow", "BENCH", "--quiet", "1")
        from core.pacs.worklist import Worklist

        wl = Worklist(tmp / "worklist.sqlite")
        for c in CASES:
            files = sorted((DEMO / c).glob("*.dcm"))
            uid = str(pydicom.dcmread(files[0], stop_before_pixels=True).SeriesInstanceUID)
            store_c(files, port, calling="BENCH")
            t_last = time.time()
            while not ((row := wl.get(uid)) and row.status == "scored" and row.scored_at > t_last):
                time.sleep(0.05)
            to_score.append(row.scored_at - t_last - 1.0)
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    med_o, med_p = statistics.median(ours), statistics.median(peer)
    print(f"C-STORE of {n} instances ({mb:.1f} MB, 3 series, one association each), median of {args.runs}:")
    print(f"  neuroreview listen (fsync per instance): {med_o:.2f} s  ({n / med_o:.0f} instances/s)")
    print(f"  Orthanc 1.10 (peer):                     {med_p:.2f} s  ({n / med_p:.0f} instances/s)")
    print(f"  ratio ours/peer: {med_o / med_p:.2f}x (higher = slower)")
    print(f"last instance -> scored in the worklist (quiet period excluded), per series: "
          f"{', '.join(f'{t:.2f}' for t in to_score)} s (median {statistics.median(to_score):.2f} s)")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    sys.exit(main())
