"""The triage worklist: one SQLite row per received series, sorted for reading.

SQLite (WAL) in NEUROREVIEW_HOME because the listener process writes while the worklist window and
`neuroreview worklist` read. Order: series with a flagged label first, then by P(any ICH) descending,
unscored series after scored ones, newest first among equals.
"""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from core.pacs.findings import Findings
from core.paths import user_data_dir

SCHEMA = """
CREATE TABLE IF NOT EXISTS series (
    series_uid TEXT PRIMARY KEY,
    study_uid TEXT NOT NULL,
    patient_id TEXT, patient_name TEXT, study_date TEXT, modality TEXT, description TEXT,
    folder TEXT NOT NULL,
    instances INTEGER NOT NULL DEFAULT 0,
    first_received REAL NOT NULL,
    last_received REAL NOT NULL,
    status TEXT NOT NULL,            -- receiving | scoring | scored | not-scored | failed
    p_any REAL, flagged TEXT, findings TEXT, error TEXT, scored_at REAL
);
"""
ORDER = "ORDER BY (flagged IS NOT NULL AND flagged != '') DESC, p_any IS NULL, p_any DESC, last_received DESC"


@dataclass(frozen=True)
class InstanceInfo:
    """What the listener knows about one filed instance (from its header)."""

    study_uid: str
    series_uid: str
    patient_id: str = ""
    patient_name: str = ""
    study_date: str = ""
    modality: str = ""
    description: str = ""


@dataclass
class Row:
    series_uid: str
    study_uid: str
    patient_id: str
    patient_name: str
    study_date: str
    modality: str
    description: str
    folder: str
    instances: int
    first_received: float
    last_received: float
    status: str
    p_any: float | None
    flagged: str | None
    findings: str | None
    error: str | None
    scored_at: float | None

    def findings_obj(self) -> Findings | None:
        return Findings.from_dict(json.loads(self.findings)) if self.findings else None

    def flagged_labels(self) -> list[str]:
        return [x for x in (self.flagged or "").split(",") if x]

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["findings"] = json.loads(self.findings) if self.findings else None
        d["flagged"] = self.flagged_labels()
        return d


def default_path() -> Path:
    return user_data_dir() / "worklist.sqlite"


class Worklist:
    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path or default_path())
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._conn() as c:
            c.execute("PRAGMA journal_mode=WAL")
            c.executescript(SCHEMA)

    @contextmanager
    def _conn(self):
        conn = sqlite3.connect(self.path, timeout=30)
        try:
            with conn:  # one transaction, committed on success
                yield conn
        finally:
            conn.close()

    def note_instance(self, info: InstanceInfo, folder: str, now: float | None = None) -> None:
        """An instance was filed: (re)open its series for scoring after the quiet period."""
        now = time.time() if now is None else now
        with self._conn() as c:
            c.execute(
                "INSERT INTO series (series_uid, study_uid, patient_id, patient_name, study_date, modality, description,"
                " folder, instances, first_received, last_received, status) VALUES (?,?,?,?,?,?,?,?,1,?,?,'receiving')"
                " ON CONFLICT(series_uid) DO UPDATE SET instances = instances + 1, last_received = excluded.last_received,"
                " status = 'receiving'",
                (info.series_uid, info.study_uid, info.patient_id, info.patient_name, info.study_date, info.modality,
                 info.description, folder, now, now))

    def due(self, quiet_s: float, now: float | None = None) -> list[Row]:
        """Series that received nothing for `quiet_s` seconds and are not scored yet."""
        now = time.time() if now is None else now
        return self._select("WHERE status = 'receiving' AND last_received <= ? ORDER BY last_received", (now - quiet_s,))

    def claim(self, series_uid: str, last_received: float) -> bool:
        """Mark a due series as being scored, unless an instance arrived since it was seen due."""
        with self._conn() as c:
            cur = c.execute("UPDATE series SET status = 'scoring' WHERE series_uid = ? AND status = 'receiving'"
                            " AND last_received = ?", (series_uid, last_received))
            return cur.rowcount == 1

    def set_findings(self, series_uid: str, findings: Findings) -> None:
        with self._conn() as c:
            c.execute("UPDATE series SET status = CASE status WHEN 'scoring' THEN 'scored' ELSE status END, p_any = ?,"
                      " flagged = ?, findings = ?, error = NULL, scored_at = ? WHERE series_uid = ?",
                      (findings.p_any, ",".join(findings.flagged), json.dumps(findings.to_dict()), time.time(), series_uid))

    def set_not_scored(self, series_uid: str, status: str, reason: str) -> None:
        with self._conn() as c:
            c.execute("UPDATE series SET status = CASE status WHEN 'scoring' THEN ? ELSE status END, error = ?"
                      " WHERE series_uid = ?", (status, reason, series_uid))

    def recover(self) -> int:
        """After a crash, series caught mid-scoring are scored again."""
        with self._conn() as c:
            return c.execute("UPDATE series SET status = 'receiving' WHERE status = 'scoring'").rowcount

    def rows(self) -> list[Row]:
        return self._select(ORDER)

    def get(self, series_uid: str) -> Row | None:
        found = self._select("WHERE series_uid = ?", (series_uid,))
        return found[0] if found else None

    def _select(self, tail: str, params: tuple = ()) -> list[Row]:
        with self._conn() as c:
            cur = c.execute(f"SELECT {', '.join(Row.__dataclass_fields__)} FROM series {tail}", params)
            return [Row(*r) for r in cur.fetchall()]
