"""Shared helpers of the PACS tests: free ports, small CT instances, waiting, a `neuroreview listen` process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from pydicom import Dataset
from pydicom.dataset import FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

ROOT = Path(__file__).resolve().parents[3]
DEMO = ROOT / "resources" / "demo" / "ct"
NEUROREVIEW = str(Path(sys.executable).parent / "neuroreview")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ct_instance(study: str, series: str, sop: str | None = None, size: int = 16, value: int = 0) -> Dataset:
    """A small valid CT image (uncompressed) with the given UIDs; `value` fills the pixels."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = sop or generate_uid()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
    ds.PatientID, ds.PatientName, ds.Modality = "TEST1", "TEST^ONE", "CT"
    ds.Rows = ds.Columns = size
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.PixelData = np.full((size, size), value, dtype=np.int16).tobytes()
    return ds


def wait_for(pred, timeout: float, what: str, step: float = 0.2):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = pred()
        if got:
            return got
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def start_listen(home: Path, port: int, *extra: str) -> subprocess.Popen:
    """`neuroreview listen` in its own process; returns once it printed that it listens."""
    env = dict(os.environ, NEUROREVIEW_HOME=str(home), OMP_NUM_THREADS="1")
    proc = subprocess.Popen([NEUROREVIEW, "listen", "--port", str(port), *extra], env=env, stdout=subprocess.PIPE,
                            stderr=open(home / "listen.log", "ab"), text=True)
    line = proc.stdout.readline()
    if "listening as" not in line:
        proc.kill()
        raise AssertionError(f"listener did not start: {line!r}; log: {(home / 'listen.log').read_text()[-2000:]}")
    if "--bind" not in extra:
        assert f" on 127.0.0.1:{port}" in line, line  # loopback unless told otherwise
    return proc


def store_c(files_or_datasets, port: int, calling: str, called: str = "NEUROREVIEW", host: str = "127.0.0.1",
            tls=None, on_ack=None) -> list[int]:
    """C-STORE with pynetdicom; returns statuses (-1 when no response); `on_ack(sop_uid)` after each success."""
    import pydicom
    from pynetdicom import AE

    items = [pydicom.dcmread(x) if isinstance(x, (str, Path)) else x for x in files_or_datasets]
    ae = AE(ae_title=calling)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 5  # a killed peer is noticed in seconds, not 30
    for sop, ts in {(d.SOPClassUID, d.file_meta.TransferSyntaxUID) for d in items}:
        ae.add_requested_context(sop, ts)
    assoc = ae.associate(host, port, ae_title=called, tls_args=tls)
    if not assoc.is_established:
        return [-1] * len(items)
    out = []
    try:
        for d in items:
            st = assoc.send_c_store(d) if assoc.is_established else None
            code = int(st.Status) if st else -1
            out.append(code)
            if code == 0 and on_ack:
                on_ack(str(d.SOPInstanceUID))
    finally:
        if assoc.is_established:
            assoc.release()
    return out
