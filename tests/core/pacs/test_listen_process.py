"""`neuroreview listen` as its own process: two senders at once (dcmtk's storescu and pynetdicom), both
series land complete and are scored into the worklist in order; a killed listener loses nothing it
acknowledged."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading

import pydicom
import pytest

from tests.core.pacs.helpers import DEMO, NEUROREVIEW, free_port, start_listen, store_c, wait_for


def _uids(folder) -> set[str]:
    return {str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID) for p in folder.glob("*.dcm")}


@pytest.mark.skipif(shutil.which("storescu") is None, reason="dcmtk's storescu is not installed (Debian dcmtk)")
def test_two_series_at_once_land_complete_and_are_triaged_by_score(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    port = free_port()
    proc = start_listen(home, port, "--allow", "STORESCU", "--allow", "PYSCU", "--quiet", "1")
    try:
        sent: dict[str, list[int]] = {}
        t = threading.Thread(target=lambda: sent.setdefault("normal", store_c(sorted((DEMO / "normal").glob("*.dcm")),
                                                                                port, calling="PYSCU")))
        t.start()
        dcmtk = subprocess.run(["storescu", "-aet", "STORESCU", "-aec", "NEUROREVIEW", "-xr", "+sd", "+r", "127.0.0.1", str(port),
                                str(DEMO / "hemorrhage")], capture_output=True, text=True, timeout=120)
        t.join(120)
        assert dcmtk.returncode == 0, dcmtk.stderr
        assert set(sent["normal"]) == {0}
        for case in ("hemorrhage", "normal"):  # every instance, byte for byte
            src = pydicom.dcmread(next((DEMO / case).glob("*.dcm")))
            folder = home / "store" / src.StudyInstanceUID / src.SeriesInstanceUID
            assert _uids(folder) == _uids(DEMO / case)
            for f in (DEMO / case).glob("*.dcm"):
                got = pydicom.dcmread(folder / f"{pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID}.dcm")
                assert got.PixelData == pydicom.dcmread(f).PixelData

        def scored():
            out = subprocess.run([NEUROREVIEW, "worklist", "--json"], capture_output=True, text=True,
                                 env=dict(os.environ, NEUROREVIEW_HOME=str(home)), check=True)
            rows = json.loads(out.stdout)["series"]
            return rows if len(rows) == 2 and all(r["status"] == "scored" for r in rows) else None

        rows = wait_for(scored, 180, "both series scored")
        text = subprocess.run([NEUROREVIEW, "worklist"], capture_output=True, text=True, check=True,
                              env=dict(os.environ, NEUROREVIEW_HOME=str(home))).stdout.splitlines()
        assert text[0].split()[:4] == ["received", "patient", "status", "P(any)"] and len(text) == 4
        assert [line.split()[2] for line in text[1:3]] == [r["patient_id"] for r in rows]  # same order as --json
        # flagged first, then by P(any) (which case comes first is the models' call, not the test's)
        key = [(not r["flagged"], -r["p_any"]) for r in rows]
        assert key == sorted(key)
        assert {r["patient_id"] for r in rows} == {pydicom.dcmread(next((DEMO / c).glob("*.dcm"))).PatientID
                                                   for c in ("hemorrhage", "normal")}
        by_patient = {r["patient_id"]: r for r in rows}
        rows = [by_patient[pydicom.dcmread(next((DEMO / c).glob("*.dcm"))).PatientID] for c in ("hemorrhage", "normal")]
        assert "any" in rows[0]["flagged"] and rows[0]["findings"]["probs"]["any"] == rows[0]["p_any"]
        assert [r["instances"] for r in rows] == [len(list((DEMO / c).glob("*.dcm"))) for c in ("hemorrhage", "normal")]
        assert rows[0]["findings"]["ood"] is None or isinstance(rows[0]["findings"]["ood"], dict)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)


def test_killed_listener_loses_no_acknowledged_instance(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    port = free_port()
    proc = start_listen(home, port, "--allow", "PYSCU", "--no-score")
    files = sorted((DEMO / "bg_left").glob("*.dcm"))
    acked: list[str] = []

    def ack(uid: str) -> None:
        acked.append(uid)
        if len(acked) == 12:
            proc.send_signal(signal.SIGKILL)  # mid-series, while the sender keeps sending

    statuses = store_c(files, port, calling="PYSCU", on_ack=ack)
    proc.wait(30)
    assert len(acked) >= 12 and statuses.count(0) == len(acked) and len(acked) < len(files)
    src = {str(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID): f for f in files}
    study, series = (str(pydicom.dcmread(files[0]).get(k)) for k in ("StudyInstanceUID", "SeriesInstanceUID"))
    folder = home / "store" / study / series
    for uid in acked:  # every acknowledged instance is on disk, complete
        assert pydicom.dcmread(folder / f"{uid}.dcm").PixelData == pydicom.dcmread(src[uid]).PixelData
    for p in folder.glob("*.dcm"):  # and nothing visible is half written
        pydicom.dcmread(p).pixel_array
    # a restarted listener takes the rest of the series; what it already had counts as duplicates
    proc = start_listen(home, port, "--allow", "PYSCU", "--no-score")
    try:
        assert set(store_c(files, port, calling="PYSCU")) == {0}
        assert _uids(folder) == set(src)
        assert list((home / "store" / ".incoming").iterdir()) == []
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
