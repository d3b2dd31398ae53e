"""Reader studies: the store (SQLite/PostgreSQL, Alembic-migrated, append-only reads), the reader's
blinded session, data frames for statistics and exports.

    StudyStore(db)                  coordinator API (create, cases, readers, truth, model outputs, status)
    ReaderSession(store, s, r)      a reader's view: next case, unaided read, then model findings + aided read
    load_frames(store, study)       pandas frames for core.study.stats / core.study.export
    QCRatings(store)                skull-strip QC review ratings (core.study.qc_ratings): per reviewer and file sha256
"""

from core.study.session import ReaderSession
from core.study.store import (AidedAnswer, Answer, BlindingError, CaseView, ModelFinding, OODVerdict, ReadRecord,
                              StudyError, StudyRecord, StudyStore)

__all__ = ["AidedAnswer", "Answer", "BlindingError", "CaseView", "ModelFinding", "OODVerdict", "ReadRecord", "ReaderSession",
           "StudyError", "StudyRecord", "StudyStore"]
