"""The local DICOM store the listener files into: `<root>/<study>/<series>/<sop>.dcm`.

Why each rule: a received UID or name can carry `../` or a path separator, so every path part is
sanitised; an instance becomes visible only complete (temp file, fsync, then a hard link that fails
if the name exists), so a killed listener never leaves half a file and never overwrites what it
acknowledged; a repeated SOP Instance UID is ignored (the first copy stays); instance size and total
disk use are capped so a sender cannot fill the disk.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import uuid
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

_SAFE = re.compile(r"[^A-Za-z0-9._-]")
TMP_DIR = ".incoming"


def safe_part(value: str, max_len: int = 64) -> str:
    """One path component from an untrusted value: only [A-Za-z0-9._-], no leading dot, bounded length.

    A value that had to be changed gets a short hash of the original so two different bad values
    never share a folder."""
    raw = str(value or "")
    clean = _SAFE.sub("_", raw).lstrip(".") or "_"
    if clean != raw or len(clean) > max_len:
        digest = hashlib.sha256(raw.encode("utf-8", "surrogateescape")).hexdigest()[:10]
        clean = f"{clean[:max_len - 11]}_{digest}"
    return clean


class Outcome(str, Enum):
    STORED = "stored"
    DUPLICATE = "duplicate"
    TOO_LARGE = "too-large"
    STORE_FULL = "store-full"


@dataclass(frozen=True)
class Filed:
    outcome: Outcome
    path: Path
    size: int


class LocalStore:
    """Files encoded DICOM instances atomically; thread-safe (the listener serves associations in threads)."""

    def __init__(self, root: str | os.PathLike, max_instance_bytes: int = 64 << 20, max_store_bytes: int = 20 << 30) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.tmp = self.root / TMP_DIR
        self.tmp.mkdir(exist_ok=True)
        for stale in self.tmp.iterdir():  # parts left by a killed listener were never acknowledged
            stale.unlink(missing_ok=True)
        self.max_instance_bytes = int(max_instance_bytes)
        self.max_store_bytes = int(max_store_bytes)
        self._lock = threading.Lock()
        self.used_bytes = sum(p.stat().st_size for p in self.root.rglob("*.dcm") if p.is_file())

    def path_for(self, study_uid: str, series_uid: str, sop_uid: str) -> Path:
        return self.root / safe_part(study_uid) / safe_part(series_uid) / f"{safe_part(sop_uid)}.dcm"

    def file(self, data: bytes, study_uid: str, series_uid: str, sop_uid: str) -> Filed:
        """Store one encoded instance (a complete DICOM file: preamble, meta, dataset)."""
        final = self.path_for(study_uid, series_uid, sop_uid)
        size = len(data)
        if size > self.max_instance_bytes:
            return Filed(Outcome.TOO_LARGE, final, size)
        if final.exists():
            return Filed(Outcome.DUPLICATE, final, size)
        with self._lock:  # reserve the space before writing so concurrent senders cannot overshoot
            if self.used_bytes + size > self.max_store_bytes:
                return Filed(Outcome.STORE_FULL, final, size)
            self.used_bytes += size
        part = self.tmp / f"{uuid.uuid4().hex}.part"
        try:
            with open(part, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            if not final.parent.is_dir():
                final.parent.mkdir(parents=True, exist_ok=True)
                _fsync_dir(final.parent.parent)
                _fsync_dir(self.root)
            try:
                os.link(part, final)  # atomic and never replaces an existing file
            except FileExistsError:
                with self._lock:
                    self.used_bytes -= size
                return Filed(Outcome.DUPLICATE, final, size)
            _fsync_dir(final.parent)
        except BaseException:
            with self._lock:
                self.used_bytes -= size
            raise
        finally:
            part.unlink(missing_ok=True)
        return Filed(Outcome.STORED, final, size)


def _fsync_dir(path: Path) -> None:
    """Make the new directory entry durable before the sender is told the instance is safe."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
