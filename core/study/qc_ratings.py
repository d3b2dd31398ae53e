"""Skull-strip QC review ratings in the study store: every reviewer's verdict on every file, keyed by the
file's content (sha256 of its bytes) and the reviewer, and the agreement between reviewers.

Why content and reviewer: a path key orphans ratings when the data folder moves, and a newest-wins key
across reviewers shows one reviewer's verdict to the next as their own. Why the study store: one database
(SQLite file or shared PostgreSQL) holds every human read, with the same append-only triggers.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import select

from core.study.schema import QC_VERDICTS, QCRating, utcnow
from core.study.stats import KappaResult, cohen_kappa_table, fleiss_kappa_ci
from core.study.store import StudyError, StudyStore


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """sha256 of a file's bytes (what a rating is keyed by)."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while block := fh.read(chunk):
                h.update(block)
    except OSError as exc:
        raise StudyError(f"cannot read the file to key its rating ({exc.strerror})", str(path)) from exc
    return h.hexdigest()


@dataclass(frozen=True)
class QCRatingRecord:
    sha256: str
    reviewer: str
    verdict: str
    note: str
    path: str
    seconds: float | None
    rated_at: _dt.datetime


def _rec(r: QCRating) -> QCRatingRecord:
    return QCRatingRecord(r.sha256, r.reviewer, r.verdict, r.note, r.path, r.seconds, r.rated_at)


class QCRatings:
    """QC ratings over an open StudyStore (its engine and migrations)."""

    def __init__(self, store: StudyStore) -> None:
        self.store = store

    def rate(self, path: str | Path, verdict: str, reviewer: str, note: str = "", sha256: str | None = None,
             seconds: float | None = None) -> QCRatingRecord:
        """Save one verdict at once (its own transaction); `sha256` is computed from the file when not given."""
        if verdict not in QC_VERDICTS:
            raise StudyError(f"verdict must be one of {', '.join(QC_VERDICTS)}, got {verdict!r}")
        reviewer = (reviewer or "").strip()
        if not reviewer:
            raise StudyError("a QC rating needs a reviewer name")
        sha = sha256 or file_sha256(path)
        row = QCRating(sha256=sha, reviewer=reviewer, verdict=verdict, note=note, path=str(path),
                       seconds=None if seconds is None else float(seconds), rated_at=utcnow())
        with self.store._session() as s, s.begin():
            s.add(row)
        return _rec(row)

    def _rows(self, shas: Iterable[str] | None = None) -> list[QCRating]:
        q = select(QCRating).order_by(QCRating.rated_at, QCRating.id)
        if shas is not None:
            q = q.where(QCRating.sha256.in_(list(shas)))
        with self.store._rsession() as s:
            return list(s.scalars(q))

    def latest(self, shas: Iterable[str] | None = None) -> dict[str, dict[str, QCRatingRecord]]:
        """sha256 -> reviewer -> that reviewer's newest rating of the file."""
        out: dict[str, dict[str, QCRatingRecord]] = {}
        for r in self._rows(shas):  # oldest first: a newer rating of the same key replaces it
            out.setdefault(r.sha256, {})[r.reviewer] = _rec(r)
        return out

    def history(self, sha256: str) -> list[QCRatingRecord]:
        """Every rating of one file by every reviewer, oldest first (the audit trail)."""
        return [_rec(r) for r in self._rows([sha256])]


@dataclass(frozen=True)
class QCAgreement:
    reviewers: list[str]
    n_files: int  # files rated by at least two reviewers
    n_agree: int  # of those, files on which every reviewer gave the same verdict
    kappa: KappaResult | None  # Cohen's (two reviewers) or Fleiss' (more), on files every reviewer rated

    @property
    def percent(self) -> float:
        return 100.0 * self.n_agree / self.n_files if self.n_files else float("nan")

    def text(self) -> str:
        if self.n_files == 0:
            return f"agreement: no file rated by two reviewers yet ({len(self.reviewers)} reviewer(s))"
        k = ""
        if self.kappa is not None and np.isfinite(self.kappa.kappa):
            name = "Cohen's" if len(self.reviewers) == 2 else "Fleiss'"
            k = f", {name} kappa {self.kappa.kappa:.2f} ({self.kappa.lo:.2f} to {self.kappa.hi:.2f})"
        return (f"agreement: {len(self.reviewers)} reviewers, {self.n_agree} of {self.n_files} files rated by two or "
                f"more agree ({self.percent:.0f}%){k}")


def agreement(latest: dict[str, dict[str, QCRatingRecord]]) -> QCAgreement:
    """How often reviewers give the same verdict, over each reviewer's newest rating per file."""
    reviewers = sorted({rv for per in latest.values() for rv in per})
    multi = [per for per in latest.values() if len(per) >= 2]
    n_agree = sum(len({r.verdict for r in per.values()}) == 1 for per in multi)
    full = [per for per in multi if len(per) == len(reviewers)]
    kappa = None
    if len(reviewers) >= 2 and len(full) >= 2:
        codes = np.array([[QC_VERDICTS.index(per[rv].verdict) for rv in reviewers] for per in full])
        if len(reviewers) == 2:
            table = np.zeros((len(QC_VERDICTS), len(QC_VERDICTS)))
            np.add.at(table, (codes[:, 0], codes[:, 1]), 1)
            used = np.flatnonzero(table.sum(0) + table.sum(1))
            kappa = cohen_kappa_table(table[np.ix_(used, used)]) if len(used) >= 2 else None
        else:
            kappa = fleiss_kappa_ci(codes)
    return QCAgreement(reviewers, len(multi), n_agree, kappa)
