"""Opening data: a background loader (scan, then load, off the GUI thread so nothing freezes), and the
warnings of a scanned series including those its headers predict (shown by the series browser)."""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Signal


class BackgroundLoader(QObject):
    """Runs core.io's scan/load in a daemon thread; results come back as queued signals.

    A newer request supersedes an older one (its results are dropped), so opening a second case while
    the first is still loading is safe.
    """

    scanned = Signal(str, object)  # path, ScanResult
    loaded = Signal(str, object)  # path, Volume
    failed = Signal(str, str)  # path, message naming the file
    busy = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._generation = 0
        self._running: int | None = None  # generation of the job still running
        for sig in (self.scanned, self.loaded, self.failed):  # connected first: runs before the window's slots
            sig.connect(self._reported)

    def _reported(self, *_args) -> None:
        self._running = None

    @property
    def busy_now(self) -> bool:
        """A requested scan/load has not reported back yet."""
        return self._running is not None

    def _run(self, path: str, job) -> None:
        self._generation += 1
        gen = self._generation
        self._running = gen
        self.busy.emit(True)

        def work() -> None:
            from core.errors import NeuroReviewError

            try:
                kind, result = job()
            except NeuroReviewError as exc:
                kind, result = "failed", str(exc)
            except Exception as exc:  # a loader bug: still a message, never a dead window
                kind, result = "failed", f"unexpected {type(exc).__name__}: {exc} [{path}]"
            if gen != self._generation:
                return
            try:
                self.busy.emit(False)
                getattr(self, kind).emit(path, result)
            except RuntimeError:  # the window closed while this was loading: nobody to tell
                pass

        threading.Thread(target=work, name="neuroreview-load", daemon=True).start()

    def scan(self, path: str) -> None:
        def job():
            from core.io import scan

            return "scanned", scan(path)

        self._run(path, job)

    def adopt(self, prefetch) -> None:
        """Take over an `app.viewer.prefetch.Prefetch` started at launch: its volume, its error, or, when
        the folder holds several series, a scan here for the picker."""
        def job():
            kind, value = prefetch.wait()
            if kind == "volume":
                return "loaded", value
            if kind == "error":
                return "failed", value
            from core.io import scan

            return "scanned", scan(prefetch.path)

        self._run(prefetch.path, job)

    def load(self, path: str, series_uid: str | None = None, scanned=None) -> None:
        def job():
            from core.io import load

            return "loaded", load(path, series_uid=series_uid, scanned=scanned)

        self._run(path, job)


def series_warnings(scan_result, s) -> list:
    """The scan's warnings of a series plus those its headers predict for loading (tilt, uneven spacing)."""
    from core.io.preview import series_header_warnings

    return list(s.warnings) + series_header_warnings(scan_result, s.series_uid)
