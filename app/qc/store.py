"""QC ratings saved at once to SQLite (SQLAlchemy): who, when, which file, the verdict and a note.

Default file: `<user data dir>/qc_reviews.sqlite` (the reader-study store had not landed in core/study
when this was written); every rating is a new row, so a change of mind keeps the history.
"""

from __future__ import annotations

import datetime as _dt
import getpass
from pathlib import Path

from sqlalchemy import DateTime, Integer, String, Text, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

VERDICTS = ("pass", "face kept", "brain cut", "both", "unsure")


class _Base(DeclarativeBase):
    pass


class QCRating(_Base):
    __tablename__ = "qc_rating"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(String(1024), index=True)
    verdict: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    reviewer: Mapped[str] = mapped_column(String(128))
    at: Mapped[_dt.datetime] = mapped_column(DateTime)


class RatingStore:
    def __init__(self, url_or_path: str | Path | None = None) -> None:
        if url_or_path is None:
            from core.paths import user_data_dir

            url_or_path = user_data_dir() / "qc_reviews.sqlite"
        url = str(url_or_path) if "://" in str(url_or_path) else f"sqlite:///{url_or_path}"
        self.engine = create_engine(url)
        _Base.metadata.create_all(self.engine)

    def rate(self, path: str, verdict: str, note: str = "", reviewer: str | None = None) -> QCRating:
        if verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {verdict!r}")
        r = QCRating(path=path, verdict=verdict, note=note, reviewer=reviewer or getpass.getuser(),
                     at=_dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None))
        with Session(self.engine) as s, s.begin():
            s.add(r)
        return r

    def latest(self) -> dict[str, QCRating]:
        """The newest rating of each file."""
        with Session(self.engine) as s:
            rows = s.scalars(select(QCRating).order_by(QCRating.at, QCRating.id)).all()
            s.expunge_all()
        return {r.path: r for r in rows}
