"""Limits and guards for hostile input: what a file may ask us to allocate, which failures cost one file,
and the capture of library warnings into coded LoadWarnings (never printed to the user's terminal).

Why here: every reader (DICOM headers, pixel decoding, NIfTI) must apply the same limits, and a native
decoder that panics (pyo3's PanicException derives from BaseException) must cost one file, not the series.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from core.volume import LoadWarning, WarningCode

MAX_MATRIX = 8192  # rows or columns of one image; larger is not a CT/MR slice
MAX_FORCED_PARSE_BYTES = 64 * 1024 * 1024  # a file without the DICM preamble is parsed only below this size
LARGE_VOLUME_BYTES = 1 << 30  # float32 volume size that earns a large-volume warning
DEFAULT_MAX_VOLUME_MB = 2048  # float32 volume ceiling; NEUROREVIEW_MAX_VOLUME_MB overrides it
MAX_ABS_POSITION_MM = 1e5  # 100 m from the scanner's origin: a position beyond that is corrupt
PIXEL_SPACING_RANGE_MM = (0.005, 50.0)
ORTHOGONAL_TOLERANCE = 0.01  # |cos| between row and column directions; also |norm - 1|
MAX_ABS_SLOPE = 1e4
MAX_ABS_INTERCEPT = 1e6
MAX_CT_HU = 32767.0  # above any CT scale (even the extended one): signed data read as unsigned, or a bad slope


def max_volume_bytes() -> int:
    """The configurable memory ceiling of one loaded volume (float32 voxels)."""
    try:
        mb = float(os.environ.get("NEUROREVIEW_MAX_VOLUME_MB", DEFAULT_MAX_VOLUME_MB))
    except ValueError:
        mb = DEFAULT_MAX_VOLUME_MB
    return int(max(mb, 0.01) * 1024 * 1024)


def volume_size_check(shape: tuple[int, ...], path: str) -> LoadWarning | None:
    """Raise LoadError before allocating a volume over the ceiling; a warning for a large one."""
    from core.errors import LoadError

    n = 1
    for s in shape:
        n *= int(s)
    nbytes = n * 4
    ceiling = max_volume_bytes()
    if nbytes > ceiling:
        raise LoadError(f"volume of {' x '.join(str(int(s)) for s in shape)} voxels needs {nbytes / 2**30:.1f} GiB, over the "
                        f"{ceiling / 2**30:.1f} GiB limit (set NEUROREVIEW_MAX_VOLUME_MB to raise it)", path, code="too-large")
    if nbytes > LARGE_VOLUME_BYTES:
        return LoadWarning(WarningCode.LARGE_VOLUME, f"large volume: {nbytes / 2**30:.1f} GiB in memory", path)
    return None


def is_decoder_failure(exc: BaseException) -> bool:
    """True for failures that make one file unusable: any Exception, and native-decoder panics
    (pyo3_runtime.PanicException derives from BaseException). Never Ctrl-C or exit."""
    if isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit)):
        return False
    return isinstance(exc, Exception) or type(exc).__name__ == "PanicException"


def one_line(text: object, limit: int = 300) -> str:
    """Library messages can span lines (nibabel, pydicom): the user gets one line."""
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 3] + "..."


def finite_floats(value, count: int | None = None) -> np.ndarray | None:
    """A tag's numbers as float64, or None when missing, malformed, of the wrong count or not finite."""
    if value is None:
        return None
    try:
        items = list(value) if not isinstance(value, (str, bytes, int, float)) else [value]
        arr = np.asarray([float(v) for v in items], dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        return None
    if count is not None and arr.size != count:
        return None
    return arr if arr.size and np.all(np.isfinite(arr)) else None


_LOGGERS = ("pydicom", "nibabel", "nibabel.global")  # nibabel.global has its own stderr handler
_lock = threading.RLock()
_sinks: list[list[str]] = []  # the open capture sections, innermost last
_local = threading.local()
_saved: dict = {}


def _deliver(message: str) -> None:
    """To the capture section of the emitting thread, else (decoder worker threads) the innermost one."""
    sink = getattr(_local, "sink", None)
    if sink is None:
        with _lock:
            sink = _sinks[-1] if _sinks else None
    if sink is not None:
        sink.append(message)


class _Dispatch(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        _deliver(record.getMessage())


def _show(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ARG001 - warnings.showwarning's signature
    _deliver(str(message))


def _install() -> None:
    handler = _Dispatch()
    _saved["loggers"] = []
    for name in _LOGGERS:
        lg = logging.getLogger(name)
        _saved["loggers"].append((lg, lg.propagate, list(lg.handlers)))
        for h in list(lg.handlers):
            lg.removeHandler(h)
        lg.addHandler(handler)
        lg.propagate = False
    _saved["handler"] = handler
    _saved["showwarning"], _saved["filters"] = warnings.showwarning, list(warnings.filters)
    warnings.showwarning = _show
    warnings.simplefilter("always")


def _restore() -> None:
    for lg, prop, handlers in _saved.pop("loggers"):
        lg.removeHandler(_saved["handler"])
        for h in handlers:
            lg.addHandler(h)
        lg.propagate = prop
    warnings.showwarning = _saved.pop("showwarning")
    warnings.filters[:] = _saved.pop("filters")
    getattr(warnings, "_filters_mutated", lambda: None)()  # invalidate "once" caches, as catch_warnings does


def current_sink() -> list[str] | None:
    """The capture section of this thread (hand it to worker threads with `bound_sink`)."""
    return getattr(_local, "sink", None)


@contextmanager
def bound_sink(sink: list[str] | None) -> Iterator[None]:
    """Messages of this (worker) thread go to ``sink``: a decoder pool thread reports to the load that started it."""
    previous = getattr(_local, "sink", None)
    _local.sink = sink
    try:
        yield
    finally:
        _local.sink = previous


@contextmanager
def captured_library_warnings(sink: list[str]) -> Iterator[list[str]]:
    """Python warnings and pydicom/nibabel log records (WARNING and up) go into ``sink`` instead of stderr.

    Thread-safe: the first open section installs the capture, the last one restores it (loads run in
    the viewer's and the PACS listener's worker threads); each section gets its own thread's messages."""
    with _lock:
        if not _sinks:
            _install()
        _sinks.append(sink)
    previous = getattr(_local, "sink", None)
    _local.sink = sink
    try:
        yield sink
    finally:
        _local.sink = previous
        with _lock:
            for i in range(len(_sinks) - 1, -1, -1):
                if _sinks[i] is sink:
                    del _sinks[i]
                    break
            if not _sinks:
                _restore()


def library_warnings(messages: list[str], path: str) -> list[LoadWarning]:
    """Coded warnings for captured library messages, one per distinct message (with a count)."""
    counts: dict[str, int] = {}
    for m in messages:
        key = one_line(m, 200)
        counts[key] = counts.get(key, 0) + 1
    return [LoadWarning(WarningCode.LIBRARY_WARNING, m + (f" ({n} times)" if n > 1 else ""), path) for m, n in counts.items()]


_native: dict = {"depth": 0}


@contextmanager
def captured_native_stderr(sink: list[str]) -> Iterator[list[str]]:
    """Native decoders write straight to file descriptor 2 (a Rust panic prints its message and a
    backtrace there before pyo3 turns it into an exception): while they run, fd 2 goes to a temporary
    file, and each message's first line lands in ``sink``. Used only around compressed pixel decoding.
    Thread-safe: nested or concurrent sections share one redirect; each takes the text written so far."""
    with _lock:
        if _native["depth"] == 0:
            try:
                sys.stderr.flush()
            except (AttributeError, OSError, ValueError):
                pass
            try:
                saved = os.dup(2)
            except OSError:  # no fd 2 (a windowed app): nothing can leak to a terminal
                saved = None
            tmp = tempfile.TemporaryFile() if saved is not None else None
            if tmp is not None:
                os.dup2(tmp.fileno(), 2)
            _native.update(saved=saved, tmp=tmp, offset=0)
        _native["depth"] += 1
    try:
        yield sink
    finally:
        with _lock:
            _native["depth"] -= 1
            tmp = _native["tmp"]
            text = ""
            if tmp is not None:
                tmp.seek(_native["offset"])
                data = tmp.read(1 << 16)
                _native["offset"] += len(data)
                text = data.decode("utf-8", "replace")
            if _native["depth"] == 0 and tmp is not None:
                os.dup2(_native["saved"], 2)
                os.close(_native["saved"])
                tmp.close()
                _native.update(saved=None, tmp=None, offset=0)
        sink.extend(line.strip() for line in text.splitlines()
                    if line.strip() and not line.startswith((" ", "\t")) and not line.startswith(("note:", "stack backtrace")))
