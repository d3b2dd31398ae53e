"""The C-STORE SCP: receives instances from allowed senders and files them into the LocalStore.

Security defaults (each tested): binds 127.0.0.1 unless told otherwise; accepts associations only
from the configured calling AE titles (others are rejected by pynetdicom and logged here); paths come
from sanitised UIDs (`core.pacs.store.safe_part`); instance size and disk use are capped; nothing is
overwritten; optional TLS. A success status goes back only after the file is on disk (fsync).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from io import BytesIO

from core.errors import InputError
from core.pacs.nodes import ListenerSettings
from core.pacs.store import Filed, LocalStore, Outcome
from core.pacs.worklist import InstanceInfo

log = logging.getLogger("neuroreview.pacs")

SUCCESS = 0x0000
OUT_OF_RESOURCES = 0xA700
CANNOT_UNDERSTAND = 0xC000
PROCESSING_FAILURE = 0x0110

OnStored = Callable[[Filed, InstanceInfo], None]


def storage_contexts():
    """Every storage SOP class with every transfer syntax pynetdicom knows (compressed CT included)."""
    from pynetdicom import ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, build_context

    return [build_context(cx.abstract_syntax, ALL_TRANSFER_SYNTAXES) for cx in AllStoragePresentationContexts]


def instance_info(ds) -> InstanceInfo:
    def g(kw: str) -> str:
        return str(ds.get(kw, "") or "")

    return InstanceInfo(g("StudyInstanceUID"), g("SeriesInstanceUID"), g("PatientID"), g("PatientName"), g("StudyDate"),
                        g("Modality"), g("SeriesDescription"))


class Listener:
    """pynetdicom server in background threads; `start()` returns at once, `stop()` shuts it down."""

    def __init__(self, settings: ListenerSettings, store: LocalStore, on_stored: OnStored | None = None,
                 ssl_context=None) -> None:
        if not settings.allowed_calling_aets:
            raise InputError("no calling AE title is allowed to send: list them (pacs.json listener.allowed_calling_aets "
                             "or `neuroreview listen --allow AET`)")
        self.settings = settings
        self.store = store
        self.on_stored = on_stored
        self.ssl_context = ssl_context
        self.server = None
        self.counts = {o.value: 0 for o in Outcome} | {"rejected-associations": 0, "unreadable": 0}

    @property
    def address(self) -> tuple[str, int]:
        return self.server.server_address[:2]

    def start(self) -> None:
        from pynetdicom import AE, evt

        ae = AE(ae_title=self.settings.ae_title)
        ae.supported_contexts = storage_contexts()
        from pynetdicom.sop_class import Verification

        ae.add_supported_context(Verification)
        ae.require_calling_aet = list(self.settings.allowed_calling_aets)
        ae.maximum_associations = 8
        handlers = [(evt.EVT_C_STORE, self._on_store), (evt.EVT_REJECTED, self._on_rejected)]
        try:
            self.server = ae.start_server((self.settings.bind, self.settings.port), block=False, evt_handlers=handlers,
                                          ssl_context=self.ssl_context)
        except OSError as exc:
            raise InputError(f"cannot listen on {self.settings.bind}:{self.settings.port}: {exc.strerror or exc}") from None
        host, port = self.address
        log.info("listening as %s on %s:%d%s", self.settings.ae_title, host, port, " (TLS)" if self.ssl_context else "")

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server = None

    def _on_rejected(self, event) -> None:
        self.counts["rejected-associations"] += 1
        req = event.assoc.requestor
        log.warning("rejected association from %s:%s calling AE %r (not in the allowed calling AE titles)",
                    req.address, req.port, req.ae_title)

    def _on_store(self, event) -> int:
        sop_uid = str(event.request.AffectedSOPInstanceUID or "")
        calling = event.assoc.requestor.ae_title
        try:
            data = event.encoded_dataset(include_meta=True)
            import pydicom

            ds = pydicom.dcmread(BytesIO(data), stop_before_pixels=True)
            info = instance_info(ds)
        except Exception as exc:  # a malformed dataset is the sender's problem; log and refuse it
            self.counts["unreadable"] += 1
            log.warning("refused unreadable instance %s from %r: %s", sop_uid, calling, exc)
            return CANNOT_UNDERSTAND
        if not (info.study_uid and info.series_uid and sop_uid):
            self.counts["unreadable"] += 1
            log.warning("refused instance %r from %r: Study/Series/SOP Instance UID missing", sop_uid, calling)
            return CANNOT_UNDERSTAND
        try:
            filed = self.store.file(data, info.study_uid, info.series_uid, sop_uid)
        except OSError as exc:
            log.error("could not file instance %s: %s", sop_uid, exc)
            return OUT_OF_RESOURCES
        self.counts[filed.outcome.value] += 1
        if filed.outcome is Outcome.TOO_LARGE:
            log.warning("refused instance %s from %r: %d bytes over the %d-byte cap", sop_uid, calling, filed.size,
                        self.store.max_instance_bytes)
            return OUT_OF_RESOURCES
        if filed.outcome is Outcome.STORE_FULL:
            log.warning("refused instance %s from %r: store full (%d of %d bytes used)", sop_uid, calling,
                        self.store.used_bytes, self.store.max_store_bytes)
            return OUT_OF_RESOURCES
        if filed.outcome is Outcome.DUPLICATE:
            log.info("duplicate instance %s ignored (first copy kept)", sop_uid)
            return SUCCESS
        if self.on_stored is not None:
            try:
                self.on_stored(filed, info)
            except Exception:  # the instance is safely on disk: bookkeeping trouble must not fail the sender
                log.exception("worklist update failed for %s", filed.path)
        return SUCCESS
