"""Background triage: a series counts as complete after a quiet period without new instances; it is
then loaded and scored (head CT only) and its findings go into the worklist.

One scoring thread: the machine's cores are better spent on one series at a time than on several
ONNX sessions fighting for them. A series that receives more instances after scoring is scored again.
"""

from __future__ import annotations

import logging
import threading
import time

from core.errors import NeuroReviewError
from core.pacs.findings import Findings, summarize
from core.pacs.worklist import Row, Worklist
from core.tasks.ct import CTScorer

log = logging.getLogger("neuroreview.pacs")


def score_folder(folder: str, series_uid: str, scorer: CTScorer) -> Findings:
    """Load one received series and score it (ICH + BG laterality)."""
    from core.io import load

    vol = load(folder, series_uid=series_uid)
    return summarize(scorer.score_ich(vol), scorer.score_bg(vol))


class Triage:
    def __init__(self, worklist: Worklist, quiet_s: float = 10.0, scorer: CTScorer | None = None, poll_s: float = 0.5) -> None:
        self.worklist = worklist
        self.quiet_s = quiet_s
        self.poll_s = poll_s
        self._scorer = scorer
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.scored = 0

    @property
    def scorer(self) -> CTScorer:
        if self._scorer is None:
            self._scorer = CTScorer()
        return self._scorer

    def start(self) -> None:
        n = self.worklist.recover()
        if n:
            log.info("%d series interrupted while scoring: scoring again", n)
        self._thread = threading.Thread(target=self._loop, name="neuroreview-triage", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_due()
            self._stop.wait(self.poll_s)

    def run_due(self, now: float | None = None) -> int:
        """Score every series whose quiet period has passed; returns how many were processed."""
        done = 0
        for row in self.worklist.due(self.quiet_s, now):
            if self._stop.is_set():
                break
            if self.worklist.claim(row.series_uid, row.last_received):
                self._score(row)
                done += 1
        return done

    def _score(self, row: Row) -> None:
        if row.modality.upper() != "CT":
            self.worklist.set_not_scored(row.series_uid, "not-scored", f"modality {row.modality or '?'}: only head CT is scored")
            return
        t0 = time.perf_counter()
        try:
            findings = score_folder(row.folder, row.series_uid, self.scorer)
        except NeuroReviewError as exc:
            log.warning("series %s not scored: %s", row.series_uid, exc)
            self.worklist.set_not_scored(row.series_uid, "failed", str(exc))
            return
        except Exception as exc:  # a bug must not stop the triage of every later series
            log.exception("series %s: scoring crashed", row.series_uid)
            self.worklist.set_not_scored(row.series_uid, "failed", f"unexpected {type(exc).__name__}: {exc}")
            return
        self.worklist.set_findings(row.series_uid, findings)
        self.scored += 1
        log.info("scored series %s in %.1f s: P(any) %.3f, flagged %s", row.series_uid, time.perf_counter() - t0,
                 findings.p_any, ",".join(findings.flagged) or "none")
