"""What a reader can do, and nothing more: read the next case, save the unaided read, then (aided arm
only, and only after that save) see the model's findings and save the aided read.

There is no method that returns the truth, other readers' reads, or the model's output before the
reader's own unaided read of the case is committed. Coordinator work goes through `StudyStore`.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping

from core.study.schema import utcnow
from core.study.store import AidedAnswer, Answer, BlindingError, CaseView, ModelFinding, StudyError, StudyStore


class ReaderSession:
    def __init__(self, store: StudyStore, study: str, reader: str) -> None:
        info = store.study(study)  # raises on an unknown study
        if reader not in store.readers(study):
            raise StudyError(f"{reader!r} is not a reader of study {study!r} (add with `neuroreview study add-readers`)")
        self.__store = store
        self.study = study
        self.reader = reader
        self.labels: tuple[str, ...] = info.labels
        self.score_kind: str = info.score_kind
        self.arms: tuple[str, ...] = info.arms
        self._case: CaseView | None = None
        self._started: dict[tuple[str, str], _dt.datetime] = {}

    def current_case(self) -> CaseView | None:
        """The case to read now (resumes after a restart); None when the reader has finished."""
        self._case = self.__store.next_case(self.study, self.reader)
        if self._case is not None:
            self._started.setdefault((self._case.case_id, self._case.arm), utcnow())
        return self._case

    def progress(self) -> tuple[int, int]:
        return self.__store.progress(self.study, self.reader)

    def _require(self, arm: str) -> CaseView:
        case = self.current_case()
        if case is None:
            raise StudyError("every case is read: nothing to save")
        if case.arm != arm:
            raise StudyError(f"case {case.case_id} is in the {case.arm} step, not {arm}")
        return case

    def save_unaided(self, answers: Mapping[str, Answer], seconds: float | None = None) -> int:
        """Commit the unaided read of the current case (all labels); returns the read ID."""
        case = self._require("unaided")
        return self.__store.save_read(self.study, self.reader, case.case_id, answers,
                                      self._started[(case.case_id, "unaided")], seconds)

    def model_findings(self) -> dict[str, ModelFinding]:
        """The model's per-label findings for the current case; BlindingError in the unaided step."""
        case = self.current_case()
        if case is None:
            raise StudyError("every case is read")
        if case.arm != "aided":
            raise BlindingError(f"case {case.case_id}: the model's findings show only after your unaided read is "
                                f"saved, and only in a study with the aided arm")
        found = self.__store.reader_model_findings(self.study, self.reader, case.case_id)
        self._started.setdefault((case.case_id, "aided"), utcnow())
        return found

    def save_aided(self, answers: Mapping[str, AidedAnswer], seconds: float | None = None) -> int:
        """Commit agreement, final answers and heat-map ratings for the current case; returns the read ID."""
        case = self._require("aided")
        return self.__store.save_aided(self.study, self.reader, case.case_id, answers,
                                       self._started.get((case.case_id, "aided"), utcnow()), seconds)
