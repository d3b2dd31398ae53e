"""Talking to a PACS node as a client: C-ECHO, C-FIND (study/series), C-GET or C-MOVE with progress
and cancel, and C-STORE of files (our SR and secondary captures going back).

Retrieved instances are filed through the same `LocalStore` as the listener's (sanitised paths,
atomic, never overwriting), so a cancelled retrieve leaves only complete instances behind.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

from core.errors import InputError
from core.pacs.listener import OnStored, instance_info
from core.pacs.nodes import Node
from core.pacs.store import LocalStore, Outcome
from core.pacs.tls import client_context

log = logging.getLogger("neuroreview.pacs")

Progress = Callable[[int, int], None]  # (done, total) sub-operations

# storage classes requested for C-GET (one presentation context each; an association allows 128)
GET_STORAGE = ("CTImageStorage", "EnhancedCTImageStorage", "MRImageStorage", "EnhancedMRImageStorage",
               "SecondaryCaptureImageStorage", "MultiFrameGrayscaleByteSecondaryCaptureImageStorage",
               "MultiFrameTrueColorSecondaryCaptureImageStorage", "ComprehensiveSRStorage", "Comprehensive3DSRStorage",
               "EnhancedSRStorage", "BasicTextSRStorage", "SegmentationStorage", "ParametricMapStorage",
               "XRayAngiographicImageStorage", "DigitalXRayImageStorageForPresentation", "PositronEmissionTomographyImageStorage")

STUDY_KEYS = ("PatientID", "PatientName", "StudyDate", "StudyDescription", "ModalitiesInStudy", "AccessionNumber",
              "NumberOfStudyRelatedSeries", "NumberOfStudyRelatedInstances")
SERIES_KEYS = ("Modality", "SeriesNumber", "SeriesDescription", "NumberOfSeriesRelatedInstances")


@dataclass
class RetrieveResult:
    completed: int = 0
    failed: int = 0
    warning: int = 0
    cancelled: bool = False
    folders: set[Path] = field(default_factory=set)


def _ae(calling_aet: str):
    from pynetdicom import AE

    ae = AE(ae_title=calling_aet)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 30
    return ae


def _associate(ae, node: Node, **kw):
    tls = (client_context(node.tls_ca, hostname_check=False), node.host) if node.tls else None
    assoc = ae.associate(node.host, node.port, ae_title=node.ae_title, tls_args=tls, **kw)
    if not assoc.is_established:
        why = "rejected the association" if assoc.is_rejected else ("aborted the association" if assoc.is_aborted
                                                                     else "did not answer")
        raise InputError(f"PACS node {node.name!r} ({node.ae_title}@{node.host}:{node.port}) {why}")
    return assoc


def echo(node: Node, calling_aet: str) -> int:
    """C-ECHO; returns the status (0 = success) or raises InputError when no association."""
    from pynetdicom.sop_class import Verification

    ae = _ae(calling_aet)
    ae.add_requested_context(Verification)
    assoc = _associate(ae, node)
    try:
        status = assoc.send_c_echo()
        if not status:
            raise InputError(f"PACS node {node.name!r}: no C-ECHO response")
        return int(status.Status)
    finally:
        assoc.release()


def find(node: Node, calling_aet: str, level: str = "STUDY", patient_id: str = "", study_date: str = "",
         modality: str = "", study_uid: str = "") -> list[dict]:
    """C-FIND in the Study Root model. `study_date` may be a DICOM range ("20240101-20241231").
    Returns one dict per match with the UIDs and the keys in STUDY_KEYS or SERIES_KEYS."""
    from pydicom import Dataset
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as FindModel

    if level not in ("STUDY", "SERIES"):
        raise InputError(f"query level must be STUDY or SERIES, got {level!r}")
    q = Dataset()
    q.QueryRetrieveLevel = level
    q.StudyInstanceUID = study_uid
    keys = STUDY_KEYS if level == "STUDY" else SERIES_KEYS
    for k in keys:
        setattr(q, k, "")
    if level == "STUDY":
        q.PatientID = patient_id
        q.StudyDate = study_date
        q.ModalitiesInStudy = modality
    else:
        if not study_uid:
            raise InputError("a SERIES query needs the StudyInstanceUID")
        q.SeriesInstanceUID = ""
        q.Modality = modality
    ae = _ae(calling_aet)
    ae.add_requested_context(FindModel)
    assoc = _associate(ae, node)
    out: list[dict] = []
    try:
        for status, ident in assoc.send_c_find(q, FindModel):
            if status is None:
                raise InputError(f"PACS node {node.name!r}: C-FIND got no response (timeout or abort)")
            if status.Status in (0xFF00, 0xFF01) and ident is not None:
                row = {k: str(ident.get(k, "") or "") for k in ("StudyInstanceUID", "SeriesInstanceUID", *keys)}
                out.append(row)
            elif status.Status not in (0x0000, 0xFF00, 0xFF01):
                raise InputError(f"PACS node {node.name!r}: C-FIND failed with status 0x{status.Status:04X}")
    finally:
        assoc.release()
    return out


def _identifier(study_uid: str, series_uid: str = ""):
    from pydicom import Dataset

    ds = Dataset()
    ds.QueryRetrieveLevel = "SERIES" if series_uid else "STUDY"
    ds.StudyInstanceUID = study_uid
    if series_uid:
        ds.SeriesInstanceUID = series_uid
    return ds


def _file_handler(store: LocalStore, result: RetrieveResult, on_stored: OnStored | None):
    import pydicom

    def handle(event) -> int:
        data = event.encoded_dataset(include_meta=True)
        info = instance_info(pydicom.dcmread(BytesIO(data), stop_before_pixels=True))
        filed = store.file(data, info.study_uid, info.series_uid, str(event.request.AffectedSOPInstanceUID))
        if filed.outcome in (Outcome.TOO_LARGE, Outcome.STORE_FULL):
            log.warning("retrieved instance not filed: %s", filed.outcome.value)
            return 0xA700
        result.folders.add(filed.path.parent)
        if filed.outcome is Outcome.STORED and on_stored is not None:
            on_stored(filed, info)
        return 0x0000

    return handle


def _drive(responses, assoc, result: RetrieveResult, progress: Progress | None, cancel: threading.Event | None) -> None:
    """Consume C-GET/C-MOVE responses, report progress, abort the association on cancel."""
    for status, _ident in responses:
        if status is None:
            if cancel is not None and cancel.is_set():
                result.cancelled = True
                return
            raise InputError("retrieve: no response from the PACS (timeout or abort)")
        s = int(status.Status)
        done = int(status.get("NumberOfCompletedSuboperations", 0) or 0)
        failed = int(status.get("NumberOfFailedSuboperations", 0) or 0)
        warn = int(status.get("NumberOfWarningSuboperations", 0) or 0)
        remaining = int(status.get("NumberOfRemainingSuboperations", 0) or 0)
        result.completed, result.failed, result.warning = done, failed, warn
        if progress is not None:
            progress(done + failed + warn, done + failed + warn + remaining)
        if cancel is not None and cancel.is_set():
            assoc.abort()
            result.cancelled = True
            return
        if s not in (0x0000, 0xFF00, 0xB000, 0xFE00):
            raise InputError(f"retrieve failed with status 0x{s:04X} ({failed} sub-operation(s) failed)")


def get(node: Node, calling_aet: str, store: LocalStore, study_uid: str, series_uid: str = "",
        progress: Progress | None = None, cancel: threading.Event | None = None,
        on_stored: OnStored | None = None) -> RetrieveResult:
    """C-GET a series (or a whole study) into `store` over one association."""
    from pynetdicom import ALL_TRANSFER_SYNTAXES, build_role, evt, sop_class
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelGet as GetModel

    ae = _ae(calling_aet)
    ae.add_requested_context(GetModel)
    roles = []
    for name in GET_STORAGE:
        uid = getattr(sop_class, name)
        ae.add_requested_context(uid, ALL_TRANSFER_SYNTAXES)
        roles.append(build_role(uid, scp_role=True))
    result = RetrieveResult()
    assoc = _associate(ae, node, ext_neg=roles, evt_handlers=[(evt.EVT_C_STORE, _file_handler(store, result, on_stored))])
    try:
        _drive(assoc.send_c_get(_identifier(study_uid, series_uid), GetModel), assoc, result, progress, cancel)
    finally:
        if assoc.is_established:
            assoc.release()
    return result


def move(node: Node, calling_aet: str, destination_aet: str, study_uid: str, series_uid: str = "",
         progress: Progress | None = None, cancel: threading.Event | None = None) -> RetrieveResult:
    """C-MOVE to `destination_aet` (normally our own listener, which the PACS must know by AE title)."""
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelMove as MoveModel

    ae = _ae(calling_aet)
    ae.add_requested_context(MoveModel)
    result = RetrieveResult()
    assoc = _associate(ae, node)
    try:
        _drive(assoc.send_c_move(_identifier(study_uid, series_uid), destination_aet, MoveModel), assoc, result,
               progress, cancel)
    finally:
        if assoc.is_established:
            assoc.release()
    return result


def send(node: Node, calling_aet: str, paths: Iterable[str | Path]) -> list[tuple[str, int]]:
    """C-STORE files to a node; returns (path, status) per file. Raises when a file is refused."""
    import pydicom

    datasets = [(str(p), pydicom.dcmread(p)) for p in paths]
    ae = _ae(calling_aet)
    for sop, ts in {(ds.SOPClassUID, ds.file_meta.TransferSyntaxUID) for _, ds in datasets}:
        ae.add_requested_context(sop, ts)
    assoc = _associate(ae, node)
    out = []
    try:
        for path, ds in datasets:
            status = assoc.send_c_store(ds)
            code = int(status.Status) if status else -1
            out.append((path, code))
            if code not in (0x0000, 0xB000, 0xB007, 0xB006):
                raise InputError(f"PACS node {node.name!r} refused the instance (status "
                                 f"{'none' if code < 0 else f'0x{code:04X}'})", path)
    finally:
        if assoc.is_established:
            assoc.release()
    return out
