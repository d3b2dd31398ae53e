"""Running the bundled models off the GUI thread: a QObject worker in a QThread, progress by stage
and batch, cancellation between batches, errors as messages (never a crash), results applied to
the `ViewerState` on the GUI thread only, and only when the volume they were computed for is still
the one shown. A cancelled run leaves the state untouched.

The CT models are run through `core.tasks.CTScorer` itself (same code as the CLI, so the numbers
are the same); a thin wrapper around each ONNX session reports every batch and checks the cancel
flag before it, which is what makes a long series cancellable without duplicating the scorer.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot

from core.errors import NeuroReviewError
from core.models.preprocess import check_ct_series
from core.models.registry import ModelRegistry
from core.models.runtime import LoadedModel
from core.tasks.ct import BATCH, CT_CNN, CTScorer
from core.tasks.dispatch import Analyses, analyses_for
from core.tasks.skullstrip import SkullStripScorer
from core.volume import Volume

log = logging.getLogger(__name__)

STAGE_OF_MODEL = {CT_CNN: "ICH + BG CNN", "ich_cnn": "ICH CNN", "ich_ood": "input check", "ich_bilstm": "BiLSTM", "bg_laterality": "BG laterality",
                  "skullstrip_qc": "skull-strip QC"}


class Cancelled(Exception):
    """Raised inside a worker when the user pressed cancel; never reaches the user as an error."""


class Job:
    """What a background function gets: `check()` raises Cancelled once cancel was asked,
    `report(stage, done, total)` feeds the progress bar. Thread-safe."""

    def __init__(self, emit: Callable[[str, int, int], None]) -> None:
        self._cancel = threading.Event()
        self._emit = emit

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check(self) -> None:
        if self._cancel.is_set():
            raise Cancelled()

    def report(self, stage: str, done: int, total: int) -> None:
        self.check()
        self._emit(stage, done, total)


class WatchedModel:
    """A LoadedModel whose every `run` first checks for cancel and reports one step of progress."""

    def __init__(self, inner: LoadedModel, before_run: Callable[[str], None]) -> None:
        self._inner = inner
        self._before_run = before_run

    def __getattr__(self, name: str) -> Any:  # card, provider, device, session...
        return getattr(self._inner, name)

    def run(self, feeds: dict, outputs: list[str] | None = None) -> dict:
        second = self._inner.second_card  # a merged session runs both models: the stage says so
        self._before_run(self._inner.card.name + (f"+{second.name}" if second is not None else ""))
        return self._inner.run(feeds, outputs)


class WatchedCTScorer(CTScorer):
    """CTScorer whose model runs go through `WatchedModel` while a watcher is set (one scoring run at a
    time); `raw_model` gives the plain shared session (occlusion wraps it with its own watcher)."""

    def __init__(self, registry: ModelRegistry | None = None, threads: int | None = None) -> None:
        super().__init__(registry, threads)
        self.watcher: Callable[[str], None] | None = None
        self._lock = threading.Lock()

    def raw_model(self, name: str) -> LoadedModel:
        with self._lock:  # the scoring and occlusion threads may ask for the same model at once
            return super().model(name)

    def model(self, name: str) -> Any:
        m = self.raw_model(name)
        return m if self.watcher is None else WatchedModel(m, self.watcher)


@dataclass
class ScoringOutcome:
    volume: Volume
    ich: Any = None
    bg: Any = None
    qc: Any = None
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)


# -- generic worker ------------------------------------------------------------------------------
class _Worker(QObject):
    progress = Signal(str, int, int)
    succeeded = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    ended = Signal()

    def __init__(self, fn: Callable[[Job], Any]) -> None:
        super().__init__()
        self.fn = fn
        self.job = Job(self.progress.emit)

    @Slot()
    def run(self) -> None:
        try:
            result = self.fn(self.job)
        except Cancelled:
            self.cancelled.emit()
        except NeuroReviewError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # a bug or an unexpected runtime failure: a message, logged with its traceback
            log.exception("background job failed")
            self.failed.emit(f"{type(exc).__name__}: {exc}")
        else:
            if self.job.cancelled:
                self.cancelled.emit()
            else:
                self.succeeded.emit(result)
        self.ended.emit()


class BackgroundRunner(QObject):
    """Runs one function at a time in its own QThread. Signals arrive on the GUI thread:
    progress(stage, done, total), succeeded(result), failed(message), cancelled(), finished(status)
    with status 'done' | 'failed' | 'cancelled' after any of them."""

    started = Signal()
    progress = Signal(str, int, int)
    succeeded = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    finished = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread: QThread | None = None
        self._worker: _Worker | None = None
        self._status = "done"
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    def is_running(self) -> bool:
        return self._thread is not None

    def start(self, fn: Callable[[Job], Any]) -> bool:
        """False (and nothing started) when a job is still running."""
        if self._thread is not None:
            return False
        thread, worker = QThread(), _Worker(fn)
        worker.moveToThread(thread)
        worker.progress.connect(self.progress)
        worker.succeeded.connect(self._on_succeeded)
        worker.failed.connect(self._on_failed)
        worker.cancelled.connect(self._on_cancelled)
        worker.ended.connect(self._on_ended)
        thread.started.connect(worker.run)
        self._thread, self._worker, self._status = thread, worker, "done"
        thread.start()
        self.started.emit()
        return True

    def cancel(self) -> None:
        if self._worker is not None:
            self._worker.job.cancel()

    def shutdown(self, wait_ms: int = 30000) -> None:
        """Cancel and wait for the thread (window close, app quit, test teardown)."""
        if self._thread is not None:
            self.cancel()
            self._thread.quit()
            self._thread.wait(wait_ms)
            self._thread = self._worker = None

    def _on_succeeded(self, result: object) -> None:
        self._status = "done"
        self.succeeded.emit(result)

    def _on_failed(self, message: str) -> None:
        self._status = "failed"
        self.failed.emit(message)

    def _on_cancelled(self) -> None:
        self._status = "cancelled"
        self.cancelled.emit()

    def _on_ended(self) -> None:
        thread = self._thread
        self._thread = self._worker = None
        if thread is not None:
            thread.quit()
            thread.wait()
        self.finished.emit(self._status)


# -- scoring -------------------------------------------------------------------------------------
_SHARED: dict[str, Any] = {}


def shared_ct_scorer() -> WatchedCTScorer:
    """One CT scorer per process: sessions stay open for scoring, occlusion and the next series."""
    if "ct" not in _SHARED:
        _SHARED["ct"] = WatchedCTScorer()
    return _SHARED["ct"]


def shared_mr_scorer() -> SkullStripScorer:
    if "mr" not in _SHARED:
        _SHARED["mr"] = SkullStripScorer()
    return _SHARED["mr"]


_LAST_ANALYSES: list = [lambda: None, None]  # [weakref to the volume, its Analyses]


def analyses(volume: Volume) -> Analyses:
    """core.tasks.dispatch.analyses_for, remembered for the last volume (the panels ask again and again for the
    shown one); a weak reference, so a closed series is not kept alive."""
    if _LAST_ANALYSES[0]() is not volume:
        _LAST_ANALYSES[:] = [weakref.ref(volume), analyses_for(volume)]
    return _LAST_ANALYSES[1]


def task_for(volume: Volume) -> str | None:
    """'ct' | 'mr' | None (no model applies; `analyses(volume).reason` says why): the one dispatch decision."""
    return analyses(volume).kind


def score_ct(volume: Volume, scorer: WatchedCTScorer, job: Job) -> ScoringOutcome:
    """ICH (CNN + BiLSTM) then BG laterality, reporting every model batch."""
    check_ct_series(volume, "head CT scoring")  # refuse before loading anything
    from core.tasks.slabs import slab_plan

    nb = math.ceil(slab_plan(volume.shape[0], volume.spacing[0]).n_slabs / BATCH)  # thin series run on ~5 mm slabs
    names = (CT_CNN, "ich_ood", "ich_bilstm")  # CT_CNN: the ICH CNN and the BG model, one trunk, one session
    step = 0
    t_all = time.perf_counter()
    stage_t: dict[str, float] = {}
    total = len(names) + 1 + nb + 1 + 1 + nb  # load, slices, CNN batches, OOD, BiLSTM, BG batches (if BG runs apart)
    for name in names:
        job.report("loading models", step, total)
        scorer.raw_model(name)
        step += 1
    if scorer.raw_model(CT_CNN).second_outputs is not None:
        total -= nb  # the BG head runs in the CNN's batches
    job.report("preparing slices", step, total)
    t0 = time.perf_counter()
    scorer.model_slices(volume)
    stage_t["slices"] = time.perf_counter() - t0
    step += 1

    def before_run(model_name: str) -> None:
        nonlocal step
        job.report(STAGE_OF_MODEL.get(model_name, model_name), step, total)
        step += 1

    scorer.watcher = before_run
    try:
        ich = scorer.score_ich(volume)
        bg = scorer.score_bg(volume)
    finally:
        scorer.watcher = None
    stage_t.update({f"ich_{k}": v for k, v in ich.timings.items()})
    stage_t.update({f"bg_{k}": v for k, v in bg.timings.items()})
    job.report("done", total, total)
    return ScoringOutcome(volume, ich=ich, bg=bg, seconds=time.perf_counter() - t_all, stage_seconds=stage_t)


def score_mr(volume: Volume, scorer: SkullStripScorer, job: Job) -> ScoringOutcome:
    t_all = time.perf_counter()
    job.report("loading models", 0, 3)
    _ = scorer.model
    job.report("skull-strip QC", 1, 3)
    qc = scorer.score(volume)
    job.report("done", 3, 3)
    return ScoringOutcome(volume, qc=qc, seconds=time.perf_counter() - t_all, stage_seconds=dict(qc.timings))


class ScoringRunner(QObject):
    """Scores `state.volume` in the background and writes the findings into the state.

    Signals: started(), progress(stage, done, total), done(ScoringOutcome) after the state got the
    results, failed(message), cancelled(), finished(status: 'done' | 'failed' | 'cancelled' | 'discarded').
    """

    started = Signal()
    progress = Signal(str, int, int)
    done = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    finished = Signal(str)

    def __init__(self, state: Any, ct_scorer: WatchedCTScorer | None = None, mr_scorer: SkullStripScorer | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.ct_scorer = ct_scorer or shared_ct_scorer()
        self.mr_scorer = mr_scorer or shared_mr_scorer()
        self.last: ScoringOutcome | None = None
        self._volume: Volume | None = None
        self._runner = BackgroundRunner(self)
        self._runner.started.connect(self.started)
        self._runner.progress.connect(self.progress)
        self._runner.succeeded.connect(self._apply)
        self._runner.failed.connect(self.failed)
        self._runner.cancelled.connect(self.cancelled)
        self._runner.finished.connect(self._finished)
        self._discarded = False
        state.volumeChanged.connect(self._volume_changed)

    def is_running(self) -> bool:
        return self._runner.is_running()

    def start(self, task: str | None = None) -> bool:
        """Score the state's volume: task 'ct', 'mr' or None (what core.tasks.dispatch says applies). False when
        nothing started (no volume, a run is going on, or no model applies: then `failed` carries the reason)."""
        volume = self.state.volume
        if volume is None or self._runner.is_running():
            return False
        if task is None:
            found = analyses(volume)
            if not found.applies:  # said as a failed run would say it, so every listener resets the same way
                src = volume.ids.source
                self.failed.emit(f"{found.reason} [{src}]" if src else found.reason)
                self.finished.emit("failed")
                return False
            task = found.kind
        if task not in ("ct", "mr"):
            raise ValueError(task)
        self._volume, self._discarded = volume, False
        if task == "ct":
            scorer = self.ct_scorer
            return self._runner.start(lambda job: score_ct(volume, scorer, job))
        mr = self.mr_scorer
        return self._runner.start(lambda job: score_mr(volume, mr, job))

    def cancel(self) -> None:
        self._runner.cancel()

    def shutdown(self) -> None:
        self._runner.shutdown()

    def _volume_changed(self) -> None:
        if self._runner.is_running() and self.state.volume is not self._volume:
            self._runner.cancel()

    def _apply(self, outcome: ScoringOutcome) -> None:
        if outcome.volume is not self.state.volume:  # another series was opened meanwhile
            self._discarded = True
            return
        self.last = outcome
        self.state.set_findings(ich=outcome.ich, bg=outcome.bg, qc=outcome.qc)
        self.done.emit(outcome)

    def _finished(self, status: str) -> None:
        self.finished.emit("discarded" if self._discarded and status == "done" else status)
