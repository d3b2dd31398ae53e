"""The reader-study store: one API over a SQLite file (default) or a PostgreSQL database.

Coordinator functions (create a study, add cases/readers, import truth, store model outputs, status)
live on `StudyStore`; readers go through `core.study.session.ReaderSession`, which can never return the
truth and returns the model's output only once the reader's unaided read of that case is saved.

Design of a study (sequential reading, as in seed 002's assessment plus an aided arm): a reader reads
each case unaided (every label present/absent plus a confidence 1-5 or a probability 0-100), the read is
committed in one transaction; if the study has the aided arm, the model's findings are then shown and
the reader records per label agreement, a final answer (with its own confidence) and a heat-map rating
for each label the model calls present. Reads are append-only: a correction is a new row that names
the read it supersedes; nothing is updated or deleted.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import re
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, func, select
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, selectinload

from core.errors import NeuroReviewError
from core.study.consistency import contradictions
from core.study.schema import (ARMS, RATINGS, SCORE_KINDS, Agreement, Case, HeatmapRating, ModelOutput, Read,
                               ReadAnswer, Reader, Study, Truth, utcnow)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
DEFAULT_DB_NAME = "studies.sqlite"
_PG_LOCK_KEY = 0x4E52_5354  # "NRST": serialises concurrent `upgrade head` on one PostgreSQL database


class StudyError(NeuroReviewError):
    """A study operation that cannot be done (unknown study/case/reader, invalid answers...)."""

    code = "study-error"


class BlindingError(StudyError):
    """The caller asked for something the reader must not see yet (model output) or at all (truth)."""

    code = "blinding"


# ---------------------------------------------------------------------------------------------- values

@dataclass(frozen=True)
class Answer:
    """A reader's answer for one label: present/absent plus confidence 1-5 or probability 0-100."""

    present: bool
    confidence: int | None = None
    probability: float | None = None


@dataclass(frozen=True)
class AidedAnswer:
    """Aided arm, one label: agreement with the model, the final answer (with its own score) and,
    for labels the model calls present, the heat-map rating."""

    agree: bool
    final_present: bool
    confidence: int | None = None
    probability: float | None = None
    rating: str | None = None  # 'correct' | 'partially correct' | 'incorrect'


@dataclass(frozen=True)
class StudyRecord:
    name: str
    description: str
    labels: tuple[str, ...]
    reference_standard: str
    score_kind: str
    arms: tuple[str, ...]
    created_at: _dt.datetime
    min_seconds: float = 0.0


@dataclass(frozen=True)
class CaseRecord:
    case_id: str
    path: str
    series_uid: str | None


@dataclass(frozen=True)
class CaseView:
    """What a reader is given: the pseudonymous ID, where the images are, and where they are in the list."""

    case_id: str
    path: str
    series_uid: str | None
    arm: str  # the arm to read now: 'unaided', or 'aided' once the unaided read is saved
    position: int  # 1-based: this is case `position` of `total` in the reader's order
    total: int


@dataclass(frozen=True)
class OODVerdict:
    """The CT models' out-of-distribution verdict on a case's volume, as stored with its model outputs
    (`core.tasks.ct.OODResult` has the same fields; either can be passed to `add_model_outputs`)."""

    in_distribution: bool
    score: float
    threshold: float
    reason: str = ""


@dataclass(frozen=True)
class ModelFinding:
    label: str
    probability: float  # 0..1
    threshold: float
    present: bool  # probability >= threshold: the model's call (outside the training data it is no finding: `outside`)
    model_name: str
    model_version: str
    model_sha256: str
    provider: str
    output_id: int
    ood: OODVerdict | None = None  # None: stored without a verdict (before revision 0005)

    @property
    def in_distribution(self) -> bool | None:
        """True / False: the stored verdict; None: no verdict was stored with this output."""
        return None if self.ood is None else self.ood.in_distribution

    @property
    def outside(self) -> bool:
        """The stored verdict says the volume is outside the models' training data (the call is not a finding)."""
        return self.ood is not None and not self.ood.in_distribution


@dataclass
class ReadRecord:
    """One row of the audit trail (a read and what was committed with it)."""

    read_id: int
    reader: str
    case_id: str
    arm: str
    started_at: _dt.datetime
    committed_at: _dt.datetime
    seconds: float
    supersedes: int | None
    superseded_by: int | None = None
    answers: dict[str, Answer] = field(default_factory=dict)
    agreements: dict[str, dict] = field(default_factory=dict)  # label -> model_present, agree, final_present
    ratings: dict[str, str] = field(default_factory=dict)

    @property
    def current(self) -> bool:
        return self.superseded_by is None


# ---------------------------------------------------------------------------------------------- engine

def default_db_path() -> Path:
    from core.paths import user_data_dir

    return user_data_dir() / DEFAULT_DB_NAME


def database_url(db: str | Path | None = None) -> str:
    """A SQLAlchemy URL from a URL, a file path, or None (the default SQLite file in the user data dir)."""
    if db is None:
        db = default_db_path()
    s = str(db)
    if "://" not in s:
        path = Path(s).expanduser().resolve()
        if path.exists() and path.is_dir():
            raise StudyError("a study database must be a file, not a folder", str(path))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StudyError(f"cannot create the database's folder ({exc.strerror})", str(path)) from exc
        return f"sqlite:///{path}"
    if s.startswith("postgresql://") or s.startswith("postgres://"):
        s = "postgresql+psycopg://" + s.split("://", 1)[1]  # psycopg 3 is the bundled driver
    return s


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # We emit BEGIN ourselves (below): pysqlite's implicit transactions skip DDL and defer locks.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=30000")
    # Switching a new file to WAL needs an exclusive lock and SQLite can answer SQLITE_BUSY at once, without
    # the busy handler, when two processes open a new database together: retry for up to ~10 s.
    for attempt in range(100):
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 99:
                raise
            time.sleep(0.1)
    cur.execute("PRAGMA synchronous=FULL")  # a committed read survives power loss, not only a crash
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _sqlite_begin(conn) -> None:
    # Writers: IMMEDIATE takes the write lock up front, so two writers wait on busy_timeout instead of
    # failing with SQLITE_BUSY when a deferred transaction upgrades from reading to writing.
    # Read-only sessions (execution option `nr_readonly`) take a plain deferred BEGIN (WAL: no blocking).
    conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("nr_readonly") else "BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    return engine


def upgrade_to_head(engine: Engine) -> None:
    """`alembic upgrade head` with a programmatic config, under a lock so concurrent openers queue."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    with engine.begin() as conn:  # SQLite: BEGIN IMMEDIATE holds the write lock for the whole upgrade
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def head_revision() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    return ScriptDirectory.from_config(cfg).get_current_head() or ""


def _order_key(study: str, reader: str, case_id: str) -> str:
    """Per-reader order: reproducible (a hash of study, reader and case) and stable when cases are added."""
    return hashlib.sha256(f"{study}\x00{reader}\x00{case_id}".encode()).hexdigest()


_CASE_ID = re.compile(r"^C(\d+)$")


# ---------------------------------------------------------------------------------------------- store

class StudyStore:
    """Open (and migrate) a study database. `db`: SQLite file path, SQLAlchemy URL, or None (default file)."""

    def __init__(self, db: str | Path | None = None) -> None:
        self.url = database_url(db)
        try:
            self.engine = make_engine(self.url)
        except (ArgumentError, NoSuchModuleError) as exc:
            raise StudyError(f"not a database URL or file path ({exc})", _safe_url(self.url)) from exc
        self._read_engine = self.engine.execution_options(nr_readonly=True)
        try:
            for attempt in range(20):  # a concurrent opener creating the same new file: wait for it
                try:
                    upgrade_to_head(self.engine)
                    break
                except OperationalError as exc:
                    if "locked" not in str(exc.orig) or attempt == 19:
                        raise
                    time.sleep(0.25)
        except DBAPIError as exc:  # not a database, unreachable server, wrong password, locked...
            self.engine.dispose()
            why = " ".join(str(exc.orig).split())  # one line: drivers put hints on further lines
            raise StudyError(f"cannot open the study database ({why})", _safe_url(self.url)) from exc

    # -- lifecycle
    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "StudyStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def location(self) -> str:
        """The database without any password (for messages)."""
        return _safe_url(self.url)

    def _session(self) -> Session:
        """A write session: use as `with self._session() as s, s.begin():`."""
        return Session(self.engine, expire_on_commit=False)

    def _rsession(self) -> Session:
        """A read-only session (never commits; SQLite takes no write lock)."""
        return Session(self._read_engine, expire_on_commit=False)

    # -- lookups (inside a session)
    def _study(self, s: Session, name: str) -> Study:
        st = s.scalar(select(Study).where(Study.name == name))
        if st is None:
            known = s.scalars(select(Study.name).order_by(Study.name)).all()
            hint = f" (studies here: {', '.join(known)})" if known else " (no studies in this database)"
            raise StudyError(f"no study named {name!r}{hint}", self.location)
        return st

    def _case(self, s: Session, st: Study, case_id: str) -> Case:
        c = s.scalar(select(Case).where(Case.study_id == st.id, Case.case_id == case_id))
        if c is None:
            raise StudyError(f"study {st.name!r} has no case {case_id!r}", self.location)
        return c

    def _reader(self, s: Session, st: Study, name: str) -> Reader:
        r = s.scalar(select(Reader).where(Reader.study_id == st.id, Reader.name == name))
        if r is None:
            known = s.scalars(select(Reader.name).where(Reader.study_id == st.id).order_by(Reader.name)).all()
            raise StudyError(f"study {st.name!r} has no reader {name!r} (readers: {', '.join(known) or 'none yet'})",
                             self.location)
        return r

    # -- coordinator: set-up
    def create_study(self, name: str, labels: Sequence[str], score_kind: str = "confidence",
                     arms: Sequence[str] = ARMS, description: str = "", reference_standard: str = "",
                     min_seconds: float = 0.0) -> StudyRecord:
        name = name.strip()
        if not name:
            raise StudyError("a study needs a name")
        labels = [lab.strip() for lab in labels if lab.strip()]
        if not labels:
            raise StudyError("a study needs at least one label")
        if len(set(labels)) != len(labels):
            raise StudyError(f"labels repeat: {', '.join(labels)}")
        if score_kind not in SCORE_KINDS:
            raise StudyError(f"score kind must be one of {', '.join(SCORE_KINDS)}, got {score_kind!r}")
        arms = list(dict.fromkeys(arms))
        if not arms or any(a not in ARMS for a in arms) or "unaided" not in arms:
            raise StudyError(f"arms must be 'unaided' or 'unaided,aided' (sequential design), got {','.join(arms)!r}")
        arms = [a for a in ARMS if a in arms]
        if not 0 <= min_seconds <= 3600:
            raise StudyError(f"minimum reading time must be 0-3600 s, got {min_seconds}")
        st = Study(name=name, description=description, labels=labels, reference_standard=reference_standard,
                   score_kind=score_kind, arms=arms, created_at=utcnow(), min_seconds=float(min_seconds))
        try:
            with self._session() as s, s.begin():
                s.add(st)
        except IntegrityError as exc:
            raise StudyError(f"a study named {name!r} already exists", self.location) from exc
        return self.study(name)

    def study(self, name: str) -> StudyRecord:
        with self._rsession() as s:
            st = self._study(s, name)
            return StudyRecord(st.name, st.description, tuple(st.labels), st.reference_standard, st.score_kind,
                               tuple(st.arms), st.created_at, float(st.min_seconds))

    def studies(self) -> list[str]:
        with self._rsession() as s:
            return list(s.scalars(select(Study.name).order_by(Study.name)))

    def add_cases(self, study: str, items: Iterable[str | Path | tuple]) -> list[str]:
        """Add cases; each item is a path or (path, case_id or None[, series_uid]). Paths already in the
        study are skipped. Returns the case IDs added (generated as C001, C002... unless given)."""
        rows: list[tuple[str, str | None, str | None]] = []
        for it in items:
            if isinstance(it, (str, Path)):
                rows.append((str(it), None, None))
            else:
                path, cid, *rest = it
                rows.append((str(path), (str(cid).strip() or None) if cid is not None else None,
                             rest[0] if rest else None))
        added: list[str] = []
        try:
            self._add_cases(study, rows, added)
        except IntegrityError as exc:  # another coordinator added cases at the same moment
            raise StudyError("cases were being added from elsewhere at the same time: nothing was added, run it again",
                             self.location) from exc
        return added

    def _add_cases(self, study: str, rows: list, added: list[str]) -> None:
        with self._session() as s, s.begin():
            st = self._study(s, study)
            existing = s.execute(select(Case.case_id, Case.path, Case.series_uid).where(Case.study_id == st.id)).all()
            ids = {r.case_id for r in existing}
            keys = {(r.path, r.series_uid) for r in existing}
            nums = [int(m.group(1)) for cid in ids if (m := _CASE_ID.match(cid))]
            nxt = max(nums, default=0) + 1
            for path, cid, uid in rows:
                if (path, uid) in keys:
                    continue
                if cid is None:
                    while f"C{nxt:03d}" in ids:
                        nxt += 1
                    cid = f"C{nxt:03d}"
                    nxt += 1
                elif cid in ids:
                    raise StudyError(f"case ID {cid!r} is used twice in study {study!r}", path)
                s.add(Case(study_id=st.id, case_id=cid, path=path, series_uid=uid, created_at=utcnow()))
                ids.add(cid)
                keys.add((path, uid))
                added.append(cid)

    def cases(self, study: str) -> list[CaseRecord]:
        with self._rsession() as s:
            st = self._study(s, study)
            return [CaseRecord(c.case_id, c.path, c.series_uid)
                    for c in s.scalars(select(Case).where(Case.study_id == st.id).order_by(Case.id))]

    def add_readers(self, study: str, names: Iterable[str]) -> list[str]:
        """Register readers (existing names are kept). Returns the names added."""
        added = []
        with self._session() as s, s.begin():
            st = self._study(s, study)
            have = set(s.scalars(select(Reader.name).where(Reader.study_id == st.id)))
            for n in names:
                n = n.strip()
                if not n:
                    raise StudyError("a reader needs a name")
                if n in have:
                    continue
                s.add(Reader(study_id=st.id, name=n, created_at=utcnow()))
                have.add(n)
                added.append(n)
        return added

    def readers(self, study: str) -> list[str]:
        with self._rsession() as s:
            st = self._study(s, study)
            return list(s.scalars(select(Reader.name).where(Reader.study_id == st.id).order_by(Reader.id)))

    # -- coordinator: truth and model outputs (never reachable through a ReaderSession)
    def import_truth(self, study: str, rows: Iterable[tuple[str, str, bool]], source: str = "") -> int:
        """Append truth rows (case_id, label, present); the newest row per case and label counts."""
        n = 0
        with self._session() as s, s.begin():
            st = self._study(s, study)
            cases = {c.case_id: c for c in s.scalars(select(Case).where(Case.study_id == st.id))}
            now = utcnow()
            for cid, label, present in rows:
                if cid not in cases:
                    raise StudyError(f"truth names case {cid!r}, which study {study!r} does not have", source or None)
                if label not in st.labels:
                    raise StudyError(f"truth names label {label!r}; study labels are {', '.join(st.labels)}",
                                     source or None)
                s.add(Truth(case_pk=cases[cid].id, label=label, present=bool(present), source=source, imported_at=now))
                n += 1
        return n

    def truth(self, study: str) -> dict[tuple[str, str], bool]:
        """Coordinator view: (case_id, label) -> present, newest import wins."""
        with self._rsession() as s:
            st = self._study(s, study)
            q = (select(Case.case_id, Truth.label, Truth.present).join(Case, Truth.case_pk == Case.id)
                 .where(Case.study_id == st.id).order_by(Truth.imported_at, Truth.id))
            return {(cid, lab): bool(p) for cid, lab, p in s.execute(q)}

    def add_model_outputs(self, study: str, case_id: str, probabilities: Mapping[str, float],
                          thresholds: Mapping[str, float] | float, model_name: str, model_version: str,
                          model_sha256: str, provider: str = "", ood=None) -> None:
        """Store a model's probability (0..1) for some or all of a study's labels of a case (a study can
        mix models, e.g. ICH labels and basal-ganglia labels); the newest row per label counts.
        `ood`: the out-of-distribution verdict on the case's volume (an `OODVerdict` or
        `core.tasks.ct.OODResult`), stored with every row; None stores no verdict."""
        verdict = _verdict(ood)
        with self._session() as s, s.begin():
            st = self._study(s, study)
            c = self._case(s, st, case_id)
            unknown = [lab for lab in probabilities if lab not in st.labels]
            if unknown or not probabilities:
                raise StudyError(f"model output label(s) {', '.join(unknown) or '(none)'} not in the study's labels "
                                 f"({', '.join(st.labels)})", c.path)
            now = utcnow()
            for lab in st.labels:
                if lab not in probabilities:
                    continue
                p = float(probabilities[lab])
                if not 0.0 <= p <= 1.0:
                    raise StudyError(f"model probability for {lab} must be in 0..1, got {p}", c.path)
                thr = float(thresholds if isinstance(thresholds, (int, float)) else thresholds[lab])
                s.add(ModelOutput(case_pk=c.id, label=lab, probability=p, threshold=thr, model_name=model_name,
                                  model_version=model_version, model_sha256=model_sha256, provider=provider,
                                  created_at=now,
                                  in_distribution=None if verdict is None else verdict.in_distribution,
                                  ood_score=None if verdict is None else verdict.score,
                                  ood_threshold=None if verdict is None else verdict.threshold,
                                  ood_reason=None if verdict is None else verdict.reason))

    def _model_findings(self, s: Session, st: Study, c: Case) -> dict[str, ModelFinding]:
        rows = s.scalars(select(ModelOutput).where(ModelOutput.case_pk == c.id)
                         .order_by(ModelOutput.created_at, ModelOutput.id)).all()
        out = {}
        for m in rows:  # newest last, so it wins
            ood = None if m.in_distribution is None else OODVerdict(
                bool(m.in_distribution), _float(m.ood_score), _float(m.ood_threshold), m.ood_reason or "")
            out[m.label] = ModelFinding(m.label, m.probability, m.threshold, m.probability >= m.threshold,
                                        m.model_name, m.model_version, m.model_sha256, m.provider, m.id, ood)
        return {lab: out[lab] for lab in st.labels if lab in out}

    def model_outputs(self, study: str, case_id: str) -> dict[str, ModelFinding]:
        """Coordinator view of a case's model findings (readers use ReaderSession.model_findings)."""
        with self._rsession() as s:
            st = self._study(s, study)
            return self._model_findings(s, st, self._case(s, st, case_id))

    # -- reading
    def reading_order(self, study: str, reader: str) -> list[str]:
        with self._rsession() as s:
            st = self._study(s, study)
            self._reader(s, st, reader)
            ids = s.scalars(select(Case.case_id).where(Case.study_id == st.id)).all()
        return sorted(ids, key=lambda cid: _order_key(study, reader, cid))

    def _done_arms(self, s: Session, st: Study, rd: Reader) -> dict[str, set[str]]:
        q = (select(Case.case_id, Read.arm).join(Case, Read.case_pk == Case.id)
             .where(Read.reader_pk == rd.id, Case.study_id == st.id).distinct())
        done: dict[str, set[str]] = {}
        for cid, arm in s.execute(q):
            done.setdefault(cid, set()).add(arm)
        return done

    def next_case(self, study: str, reader: str) -> CaseView | None:
        """The first case in the reader's order that still needs a read (resume), or None when all are done."""
        with self._rsession() as s:
            st = self._study(s, study)
            rd = self._reader(s, st, reader)
            cases = {c.case_id: c for c in s.execute(select(Case.case_id, Case.path, Case.series_uid)
                                                       .where(Case.study_id == st.id))}
            done = self._done_arms(s, st, rd)
        order = sorted(cases, key=lambda cid: _order_key(study, reader, cid))
        for i, cid in enumerate(order, 1):
            todo = [a for a in st.arms if a not in done.get(cid, set())]
            if todo:
                c = cases[cid]
                return CaseView(cid, c.path, c.series_uid, todo[0], i, len(order))
        return None

    def finished_cases(self, study: str, reader: str) -> list[str]:
        """Cases a reader has read in every arm of the study, in the reader's order."""
        with self._rsession() as s:
            st = self._study(s, study)
            done = self._done_arms(s, st, self._reader(s, st, reader))
            arms = set(st.arms)
        return sorted((cid for cid, a in done.items() if arms <= a), key=lambda cid: _order_key(study, reader, cid))

    def case_view(self, study: str, reader: str, case_id: str, arm: str) -> CaseView:
        order = self.reading_order(study, reader)
        with self._rsession() as s:
            c = self._case(s, self._study(s, study), case_id)
            return CaseView(c.case_id, c.path, c.series_uid, arm, order.index(case_id) + 1, len(order))

    def progress(self, study: str, reader: str) -> tuple[int, int]:
        """(cases finished in every arm, cases in the study) for one reader."""
        with self._rsession() as s:
            st = self._study(s, study)
            rd = self._reader(s, st, reader)
            total = s.scalar(select(func.count()).select_from(Case).where(Case.study_id == st.id)) or 0
            done = self._done_arms(s, st, rd)
        return sum(1 for arms in done.values() if set(st.arms) <= arms), int(total)

    def _check_score(self, st: Study, label: str, confidence, probability, where: str) -> None:
        if st.score_kind == "confidence":
            if probability is not None:
                raise StudyError(f"{where}{label}: this study records a confidence 1-5, not a probability")
            if confidence is None:
                raise StudyError(f"{where}{label}: a confidence 1-5 is required")
            if isinstance(confidence, bool) or not isinstance(confidence, int) or not 1 <= confidence <= 5:
                raise StudyError(f"{where}{label}: confidence must be a whole number 1-5, got {confidence!r}")
        else:
            if confidence is not None:
                raise StudyError(f"{where}{label}: this study records a probability 0-100, not a confidence")
            if probability is None:
                raise StudyError(f"{where}{label}: a probability 0-100 is required")
            if isinstance(probability, bool) or not isinstance(probability, (int, float)) or not 0 <= probability <= 100:
                raise StudyError(f"{where}{label}: probability must be 0-100, got {probability!r}")

    @staticmethod
    def _check_consistent(st: Study, present: Mapping[str, bool], where: str) -> None:
        bad = contradictions(st.labels, present)
        if bad:
            raise StudyError(f"{where}contradictory answers: {'; '.join(bad)}")

    def _check_labels(self, st: Study, answers: Mapping[str, object]) -> None:
        missing = [lab for lab in st.labels if answers.get(lab) is None]
        unknown = [lab for lab in answers if lab not in st.labels]
        if unknown:
            raise StudyError(f"unknown label(s) {', '.join(unknown)}; study labels are {', '.join(st.labels)}")
        if missing:
            raise StudyError(f"every label needs an answer; missing: {', '.join(missing)}")

    def _prior(self, s: Session, c: Case, rd: Reader, arm: str) -> Read | None:
        return s.scalar(select(Read).where(Read.case_pk == c.id, Read.reader_pk == rd.id, Read.arm == arm)
                        .order_by(Read.committed_at.desc(), Read.id.desc()).limit(1))

    def _check_supersedes(self, prior: Read | None, supersedes: int | None, case_id: str, arm: str) -> None:
        if prior is None and supersedes is not None:
            raise StudyError(f"read {supersedes} cannot be corrected: case {case_id} has no {arm} read by this reader")
        if prior is not None and supersedes is None:
            raise StudyError(f"case {case_id} already has a {arm} read by this reader (read {prior.id}); "
                             f"a correction must name the read it supersedes")
        if prior is not None and supersedes != prior.id:
            raise StudyError(f"read {supersedes} is not the latest {arm} read of case {case_id} (read {prior.id} is)")

    def save_read(self, study: str, reader: str, case_id: str, answers: Mapping[str, Answer],
                  started_at: _dt.datetime, seconds: float | None = None, supersedes: int | None = None,
                  note: str = "") -> int:
        """Commit an unaided read (all labels) in one transaction; returns the read's ID."""
        with self._session() as s, s.begin():
            st = self._study(s, study)
            rd = self._reader(s, st, reader)
            c = self._case(s, st, case_id)
            self._check_labels(st, answers)
            for lab in st.labels:
                a = answers[lab]
                if not isinstance(a, Answer) or not isinstance(a.present, bool):
                    raise StudyError(f"{lab}: the answer must say present or absent")
                self._check_score(st, lab, a.confidence, a.probability, "")
            self._check_consistent(st, {lab: answers[lab].present for lab in st.labels}, "")
            prior = self._prior(s, c, rd, "unaided")
            self._check_supersedes(prior, supersedes, case_id, "unaided")
            if prior is not None and "aided" in st.arms:
                raise StudyError(f"case {case_id}: the unaided read cannot be corrected once the model's findings "
                                 f"may have been seen (aided arm)")
            now = utcnow()
            spent = _seconds(seconds, started_at, now)
            if supersedes is None and spent < st.min_seconds:
                raise StudyError(f"case {case_id}: this study asks for at least {st.min_seconds:g} s per case "
                                 f"({spent:.0f} s so far)")
            r = Read(case_pk=c.id, reader_pk=rd.id, arm="unaided", started_at=started_at, committed_at=now,
                     seconds=spent, supersedes_id=supersedes, note=note)
            s.add(r)
            s.flush()
            for lab in st.labels:
                a = answers[lab]
                s.add(ReadAnswer(read_id=r.id, label=lab, present=a.present, confidence=a.confidence,
                                 probability=None if a.probability is None else float(a.probability)))
            return r.id

    def unaided_saved(self, study: str, reader: str, case_id: str) -> bool:
        with self._rsession() as s:
            st = self._study(s, study)
            return self._prior(s, self._case(s, st, case_id), self._reader(s, st, reader), "unaided") is not None

    def reader_model_findings(self, study: str, reader: str, case_id: str) -> dict[str, ModelFinding]:
        """The model's findings for a reader: only in a study with the aided arm, only after that reader's
        unaided read of the case is committed (BlindingError otherwise)."""
        with self._rsession() as s:
            st = self._study(s, study)
            rd = self._reader(s, st, reader)
            c = self._case(s, st, case_id)
            if "aided" not in st.arms:
                raise BlindingError(f"study {study!r} has no aided arm: readers never see the model's output")
            if self._prior(s, c, rd, "unaided") is None:
                raise BlindingError(f"case {case_id}: the model's findings show only after your unaided read is saved")
            found = self._model_findings(s, st, c)
        missing = [lab for lab in st.labels if lab not in found]
        if missing:
            raise StudyError(f"case {case_id} has no model output for {', '.join(missing)}: "
                             f"run `neuroreview study score-cases {study}` first")
        return found

    def save_aided(self, study: str, reader: str, case_id: str, answers: Mapping[str, AidedAnswer],
                   started_at: _dt.datetime, seconds: float | None = None, supersedes: int | None = None,
                   note: str = "") -> int:
        """Commit the aided read of a case: final answers, agreement with the model and heat-map ratings,
        in one transaction. The model's answer is taken from the stored output, not from the caller."""
        findings = self.reader_model_findings(study, reader, case_id)
        with self._session() as s, s.begin():
            st = self._study(s, study)
            rd = self._reader(s, st, reader)
            c = self._case(s, st, case_id)
            self._check_labels(st, answers)
            for lab in st.labels:
                a = answers[lab]
                if not isinstance(a, AidedAnswer) or not isinstance(a.agree, bool) or not isinstance(a.final_present, bool):
                    raise StudyError(f"{lab}: agreement and final answer are both required")
                self._check_score(st, lab, a.confidence, a.probability, "final answer, ")
                m = findings[lab]
                if a.agree != (a.final_present == m.present):
                    raise StudyError(f"{lab}: {'agreeing' if a.agree else 'disagreeing'} with the model "
                                     f"({'present' if m.present else 'absent'}) contradicts the final answer "
                                     f"({'present' if a.final_present else 'absent'})")
                if a.rating is not None and a.rating not in RATINGS:
                    raise StudyError(f"{lab}: heat-map rating must be one of {', '.join(RATINGS)}, got {a.rating!r}")
                if m.present and not m.outside and a.rating is None:  # outside the training data a call is no finding: nothing to rate
                    raise StudyError(f"{lab}: the model calls it present, so its heat map needs a rating")
            self._check_consistent(st, {lab: answers[lab].final_present for lab in st.labels}, "final answers: ")
            prior = self._prior(s, c, rd, "aided")
            self._check_supersedes(prior, supersedes, case_id, "aided")
            now = utcnow()
            r = Read(case_pk=c.id, reader_pk=rd.id, arm="aided", started_at=started_at, committed_at=now,
                     seconds=_seconds(seconds, started_at, now), supersedes_id=supersedes, note=note)
            s.add(r)
            s.flush()
            for lab in st.labels:
                a, m = answers[lab], findings[lab]
                s.add(ReadAnswer(read_id=r.id, label=lab, present=a.final_present, confidence=a.confidence,
                                 probability=None if a.probability is None else float(a.probability)))
                s.add(Agreement(read_id=r.id, label=lab, model_output_id=m.output_id, model_present=m.present,
                                agree=a.agree, final_present=a.final_present))
                if a.rating is not None:
                    s.add(HeatmapRating(read_id=r.id, label=lab, rating=a.rating))
            return r.id

    # -- audit and status
    def audit_trail(self, study: str, case_id: str, reader: str) -> list[ReadRecord]:
        """Every read of a case by a reader, oldest first, corrections and the reads they replaced."""
        with self._rsession() as s:
            st = self._study(s, study)
            c = self._case(s, st, case_id)
            rd = self._reader(s, st, reader)
            reads = s.scalars(select(Read).where(Read.case_pk == c.id, Read.reader_pk == rd.id)
                              .options(selectinload(Read.answers), selectinload(Read.agreements),
                                       selectinload(Read.ratings))
                              .order_by(Read.committed_at, Read.id)).all()
            out = [_record(r, reader, case_id) for r in reads]
        by_id = {r.read_id: r for r in out}
        for r in out:
            if r.supersedes in by_id:
                by_id[r.supersedes].superseded_by = r.read_id
        return out

    def reads_of(self, study: str) -> list[ReadRecord]:
        """All reads of a study (coordinator; frames and exports are built from these)."""
        with self._rsession() as s:
            st = self._study(s, study)
            q = (select(Read, Case.case_id, Reader.name).join(Case, Read.case_pk == Case.id)
                 .join(Reader, Read.reader_pk == Reader.id).where(Case.study_id == st.id)
                 .options(selectinload(Read.answers), selectinload(Read.agreements), selectinload(Read.ratings))
                 .order_by(Read.committed_at, Read.id))
            out = [_record(r, rname, cid) for r, cid, rname in s.execute(q)]
        by_id = {r.read_id: r for r in out}
        for r in out:
            if r.supersedes in by_id:
                by_id[r.supersedes].superseded_by = r.read_id
        return out

    def all_model_outputs(self, study: str) -> list[tuple[str, ModelFinding]]:
        """(case_id, newest finding) for every case and label that has one."""
        with self._rsession() as s:
            st = self._study(s, study)
            out = []
            for c in s.scalars(select(Case).where(Case.study_id == st.id).order_by(Case.id)):
                out.extend((c.case_id, f) for f in self._model_findings(s, st, c).values())
            return out

    def status(self, study: str) -> dict:
        """Counts for `neuroreview study status`."""
        st = self.study(study)
        cases = self.cases(study)
        readers = self.readers(study)
        reads = [r for r in self.reads_of(study) if r.current]
        truth = self.truth(study)
        per_arm = {a: sum(1 for r in reads if r.arm == a) for a in st.arms}
        per_reader = {}
        for name in readers:
            done, total = self.progress(study, name)
            per_reader[name] = {"done": done, "total": total,
                                **{a: sum(1 for r in reads if r.reader == name and r.arm == a) for a in st.arms}}
        outputs = self.all_model_outputs(study)
        scored = {cid for cid, _ in outputs}
        outside = sorted({cid for cid, f in outputs if f.outside})
        no_verdict = {cid for cid, f in outputs if f.ood is None}
        return {"study": st.name, "labels": list(st.labels), "score_kind": st.score_kind, "arms": list(st.arms),
                "cases": len(cases), "cases_with_truth": len({cid for cid, _ in truth}),
                "cases_scored": len(scored), "cases_outside_training_data": len(outside),
                "cases_outside": outside, "cases_scored_without_verdict": len(no_verdict), "readers": readers, "reads_per_arm": per_arm, "progress": per_reader,
                "corrections": sum(1 for r in self.reads_of(study) if r.supersedes is not None)}


def _verdict(ood) -> OODVerdict | None:
    """An OODVerdict from anything with in_distribution, score, threshold and reason (None stays None)."""
    if ood is None:
        return None
    try:
        v = OODVerdict(bool(ood.in_distribution), float(ood.score), float(ood.threshold), str(ood.reason or ""))
    except (AttributeError, TypeError, ValueError) as exc:
        raise StudyError(f"an out-of-distribution verdict needs in_distribution, score, threshold and reason ({exc})") from exc
    if ood.in_distribution not in (True, False):
        raise StudyError(f"in_distribution must be True or False, got {ood.in_distribution!r}")
    return v


def _float(v) -> float:
    return float("nan") if v is None else float(v)


def _seconds(seconds: float | None, started_at: _dt.datetime, now: _dt.datetime) -> float:
    if seconds is None:
        return max(0.0, (now - started_at).total_seconds())
    if seconds < 0:
        raise StudyError(f"time spent cannot be negative ({seconds})")
    return float(seconds)


def _record(r: Read, reader: str, case_id: str) -> ReadRecord:
    return ReadRecord(
        r.id, reader, case_id, r.arm, r.started_at, r.committed_at, r.seconds, r.supersedes_id,
        answers={a.label: Answer(a.present, a.confidence, a.probability) for a in r.answers},
        agreements={g.label: {"model_present": g.model_present, "agree": g.agree, "final_present": g.final_present}
                    for g in r.agreements},
        ratings={h.label: h.rating for h in r.ratings})


def _safe_url(url: str) -> str:
    if "://" in url and "@" in url:
        scheme, rest = url.split("://", 1)
        cred, host = rest.rsplit("@", 1)
        return f"{scheme}://{cred.split(':', 1)[0]}@{host}"
    return url.replace("sqlite:///", "")
