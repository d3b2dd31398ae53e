"""Start-up prefetch: read the series named on the command line in a forked process while this process
imports Qt and pyqtgraph and builds the window. On two cores the two halves of start-up run side by side
instead of one after the other (the loader's imports, pydicom/scipy/nibabel, cost as much as Qt's).

Fork happens before Qt is imported (no threads yet, so forking is safe). Where fork does not exist the
caller loads in a thread instead, as for any later open; that path is the normal one, not a stand-in.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from typing import Any


def _child(path: str, conn) -> None:
    try:
        from core.errors import NeuroReviewError
        from core.io import load, scan

        try:
            result = scan(path)
            if len(result.series) > 1:
                conn.send(("several", None))  # the window's series picker takes over
            elif result.series and result.series[0].kind == "nifti":
                conn.send(("volume", load(result.series[0].path)))
            else:
                conn.send(("volume", load(path, scanned=result)))
        except NeuroReviewError as exc:
            conn.send(("error", str(exc)))
    except Exception as exc:  # a bug in loading: still a message, the window survives
        conn.send(("error", f"unexpected {type(exc).__name__}: {exc} [{path}]"))
    finally:
        conn.close()


def _threads() -> int:
    """Threads of this process, native ones included (Linux: /proc; elsewhere Python's own count)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        import threading

        return threading.active_count()


class Prefetch:
    """`Prefetch.start(path)` -> a running prefetch, or None where fork is unavailable."""

    def __init__(self, path: str, proc, conn) -> None:
        self.path, self._proc, self._conn = path, proc, conn

    @classmethod
    def start(cls, path: str | os.PathLike) -> "Prefetch | None":
        """None where fork is unavailable or unsafe: a process that already runs other threads (Qt, ONNX Runtime,
        a thread pool) may hold a lock at the moment of the fork, and the child then waits on it for ever (seen:
        a child stuck in pydicom's reader under a test process with 13 other threads)."""
        if "fork" not in mp.get_all_start_methods() or _threads() > 1:
            return None
        ctx = mp.get_context("fork")
        recv, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_child, args=(str(path), send), name="neuroreview-prefetch", daemon=True)
        proc.start()
        send.close()
        return cls(str(path), proc, recv)

    def wait(self) -> tuple[str, Any]:
        """Block (call from a thread: the pipe read releases the GIL) until the child answers:
        ('volume', Volume) | ('several', None) | ('error', message)."""
        try:
            kind, value = self._conn.recv()
        except EOFError:
            code = self._proc.exitcode if not self._proc.is_alive() else None
            kind, value = "error", f"the loading process ended without an answer (exit code {code}) [{self.path}]"
        finally:
            self._conn.close()
            self._proc.join(timeout=5)
        return kind, value
