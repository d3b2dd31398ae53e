"""End to end against a real PACS (Orthanc): the demo series goes in by C-STORE, NeuroReview finds and
retrieves it, scores it, sends the SR and the Grad-CAM secondary captures back, and Orthanc files them
in the same study. Also C-MOVE to our listener, a cancelled retrieve, and the CLI's echo."""

from __future__ import annotations

import os
import subprocess
import threading

import pydicom
import pytest

from core.pacs import client
from core.pacs.listener import Listener
from core.pacs.nodes import ListenerSettings
from core.pacs.results import score_and_write
from core.pacs.store import LocalStore
from tests.core.pacs.helpers import DEMO, NEUROREVIEW, free_port

pytestmark = pytest.mark.orthanc
AET = "NRTEST"


def _count(case: str) -> int:
    return len(list((DEMO / case).glob("*.dcm")))


def _upload(orthanc, case: str) -> pydicom.Dataset:
    files = sorted((DEMO / case).glob("*.dcm"))
    statuses = client.send(orthanc.node, AET, files)
    assert {s for _, s in statuses} == {0}
    return pydicom.dcmread(files[0], stop_before_pixels=True)


def test_query_retrieve_score_and_send_results_back(orthanc, tmp_path):
    src = _upload(orthanc, "hemorrhage")
    studies = client.find(orthanc.node, AET, "STUDY", patient_id=src.PatientID)
    assert [s["StudyInstanceUID"] for s in studies] == [src.StudyInstanceUID]
    series = client.find(orthanc.node, AET, "SERIES", study_uid=src.StudyInstanceUID, modality="CT")
    assert src.SeriesInstanceUID in [s["SeriesInstanceUID"] for s in series]

    store = LocalStore(tmp_path / "store")
    seen: list[tuple[int, int]] = []
    res = client.get(orthanc.node, AET, store, src.StudyInstanceUID, src.SeriesInstanceUID,
                     progress=lambda d, t: seen.append((d, t)))
    n = _count("hemorrhage")
    assert (res.completed, res.failed, res.cancelled) == (n, 0, False)
    assert seen[-1] == (n, n) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    (folder,) = res.folders
    assert {p.stem for p in folder.glob("*.dcm")} == {pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID
                                                      for p in (DEMO / "hemorrhage").glob("*.dcm")}

    written = score_and_write(str(folder), tmp_path / "results")
    assert written.secondary_captures  # the demo case is flagged: its Grad-CAM goes back too
    client.send(orthanc.node, AET, written.paths)

    in_pacs = client.find(orthanc.node, AET, "SERIES", study_uid=src.StudyInstanceUID)
    by_uid = {s["SeriesInstanceUID"]: s for s in in_pacs}
    sr = pydicom.dcmread(written.sr)
    sc = pydicom.dcmread(written.secondary_captures[0])
    assert by_uid[sr.SeriesInstanceUID]["Modality"] == "SR"
    assert by_uid[sc.SeriesInstanceUID]["Modality"] == "OT"
    assert int(by_uid[sc.SeriesInstanceUID]["NumberOfSeriesRelatedInstances"]) == len(written.secondary_captures)
    # and through Orthanc's REST API: the SR it stored is ours, in the source patient's study
    found = orthanc.rest("/tools/find", "POST", {"Level": "Instance", "Query": {"SOPInstanceUID": sr.SOPInstanceUID},
                                                 "Expand": True})
    (inst,) = found
    tags = orthanc.rest(f"/instances/{inst['ID']}/simplified-tags")
    assert (tags["StudyInstanceUID"], tags["PatientID"], tags["Modality"]) == (src.StudyInstanceUID, src.PatientID, "SR")


def test_c_move_to_our_listener(orthanc, tmp_path):
    src = _upload(orthanc, "normal")
    port = free_port()
    orthanc.rest("/modalities/nr-move-test", "PUT", {"AET": "NRMOVE", "Host": "127.0.0.1", "Port": port})
    lis = Listener(ListenerSettings(ae_title="NRMOVE", port=port, allowed_calling_aets=[orthanc.node.ae_title]),
                   LocalStore(tmp_path / "store"))
    lis.start()
    try:
        res = client.move(orthanc.node, AET, "NRMOVE", src.StudyInstanceUID, src.SeriesInstanceUID)
    finally:
        lis.stop()
    assert (res.completed, res.failed) == (_count("normal"), 0)
    folder = tmp_path / "store" / src.StudyInstanceUID / src.SeriesInstanceUID
    assert len(list(folder.glob("*.dcm"))) == _count("normal")


def test_cancelled_retrieve_keeps_only_complete_instances(orthanc, tmp_path):
    src = _upload(orthanc, "bg_left")
    store = LocalStore(tmp_path / "store")
    cancel = threading.Event()

    def progress(done: int, total: int) -> None:
        if done >= 5:
            cancel.set()

    res = client.get(orthanc.node, AET, store, src.StudyInstanceUID, src.SeriesInstanceUID, progress=progress, cancel=cancel)
    assert res.cancelled
    got = list(store.root.rglob("*.dcm"))
    assert 5 <= len(got) < _count("bg_left")
    for p in got:
        pydicom.dcmread(p).pixel_array  # each one whole
    assert list((store.root / ".incoming").iterdir()) == []


def test_cli_add_echo_and_send_results(orthanc, tmp_path):
    env = dict(os.environ, NEUROREVIEW_HOME=str(tmp_path))
    n = orthanc.node
    subprocess.run([NEUROREVIEW, "pacs", "add", "main", n.ae_title, n.host, str(n.port)], env=env, check=True,
                   capture_output=True)
    out = subprocess.run([NEUROREVIEW, "pacs", "echo", "main"], env=env, capture_output=True, text=True)
    assert out.returncode == 0 and "success" in out.stdout, out.stderr
    bad = subprocess.run([NEUROREVIEW, "pacs", "echo", "nowhere"], env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown PACS node 'nowhere'" in bad.stderr

    src = _upload(orthanc, "hemorrhage")

    def sr_series() -> set[str]:
        return {s["SeriesInstanceUID"] for s in client.find(n, AET, "SERIES", study_uid=src.StudyInstanceUID)
                if s["Modality"] == "SR"}

    before = sr_series()
    sent = subprocess.run([NEUROREVIEW, "pacs", "--calling-aet", AET, "send-results", "main", str(DEMO / "hemorrhage"),
                           "--out", str(tmp_path / "out")], env=env, capture_output=True, text=True)
    assert sent.returncode == 0, sent.stderr
    assert "sent SR" in sent.stdout and "not for clinical use" in sent.stdout
    (new,) = sr_series() - before
    (sr_file,) = (tmp_path / "out").glob("SR_*.dcm")
    assert pydicom.dcmread(sr_file).SeriesInstanceUID == new
