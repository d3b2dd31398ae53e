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
        self.min_seconds: float = info.min_seconds  # before an unaided read can be saved
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

    def model_findings(self, case_id: str | None = None) -> dict[str, ModelFinding]:
        """The model's per-label findings for the current case (or a finished one, to correct it);
        BlindingError while the reader's unaided read of that case is not saved."""
        if case_id is not None:
            if case_id not in self.finished():
                raise BlindingError(f"case {case_id}: the model's findings show only after your unaided read is saved")
            return self.__store.reader_model_findings(self.study, self.reader, case_id)
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

    # -- going back to a finished case (a correction is a new read that supersedes the old one)
    def finished(self) -> list[str]:
        """Case IDs this reader has finished in every arm, in their reading order."""
        return self.__store.finished_cases(self.study, self.reader)

    @property
    def correction_arm(self) -> str:
        """What a correction changes: the aided read (the unaided one is fixed once the model may have been
        seen), or the unaided read in a study without the aided arm."""
        return "aided" if "aided" in self.arms else "unaided"

    def case(self, case_id: str) -> CaseView:
        """A finished case, to look at it again or correct it."""
        order = self.finished()
        if case_id not in order:
            raise StudyError(f"case {case_id} is not among your finished cases")
        return self.__store.case_view(self.study, self.reader, case_id, self.correction_arm)

    def my_read(self, case_id: str):
        """Your own latest read of a finished case in the arm a correction changes (never the truth)."""
        self.case(case_id)
        trail = [r for r in self.__store.audit_trail(self.study, case_id, self.reader)
                 if r.arm == self.correction_arm and r.current]
        return trail[-1]

    def correct(self, case_id: str, answers: Mapping, seconds: float | None = None) -> int:
        """Commit a corrected read of a finished case; the old read stays in the audit trail."""
        old = self.my_read(case_id)
        started = utcnow()
        if self.correction_arm == "aided":
            return self.__store.save_aided(self.study, self.reader, case_id, answers, started, seconds, supersedes=old.read_id)
        return self.__store.save_read(self.study, self.reader, case_id, answers, started, seconds, supersedes=old.read_id)
