"""Reader-study store: time to commit one read (6 labels, one transaction, fsync'd) through StudyStore,
against the peer of the same rows written with the standard library's sqlite3 and the same pragmas
(WAL, synchronous=FULL), i.e. what the ORM, validation and the blinding checks cost on top of the disk.
With NEUROREVIEW_TEST_PG_URL set, also the same save on PostgreSQL. Prints medians and ratios.

    .venv/bin/python benchmarks/study_store.py [--reads 60]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from core.study import Answer, StudyStore
from core.study.schema import utcnow

LABELS = ("any", "epidural", "intraparenchymal", "intraventricular", "subarachnoid", "subdural")


def ours(db: str, n: int) -> list[float]:
    store = StudyStore(db)
    name = f"bench{time.time_ns()}"
    store.create_study(name, LABELS, arms=("unaided",))
    ids = store.add_cases(name, [f"/bench/{i}" for i in range(n)])
    store.add_readers(name, ["r"])
    out = []
    for cid in ids:
        answers = {lab: Answer(i % 2 == 0, 1 + i % 5) for i, lab in enumerate(LABELS)}
        t0 = time.perf_counter()
        store.save_read(name, "r", cid, answers, utcnow())
        out.append(time.perf_counter() - t0)
    store.close()
    return out


def peer(path: str, n: int) -> list[float]:
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute("CREATE TABLE reads (id INTEGER PRIMARY KEY, case_id TEXT, reader TEXT, arm TEXT, t TEXT, seconds REAL)")
    con.execute("CREATE TABLE answers (id INTEGER PRIMARY KEY, read_id INTEGER, label TEXT, present INTEGER, conf INTEGER)")
    out = []
    for k in range(n):
        t0 = time.perf_counter()
        con.execute("BEGIN IMMEDIATE")
        rid = con.execute("INSERT INTO reads (case_id, reader, arm, t, seconds) VALUES (?, 'r', 'unaided', ?, 1.0)",
                          (f"C{k:03d}", utcnow().isoformat())).lastrowid
        con.executemany("INSERT INTO answers (read_id, label, present, conf) VALUES (?, ?, ?, ?)",
                        [(rid, lab, i % 2, 1 + i % 5) for i, lab in enumerate(LABELS)])
        con.execute("COMMIT")
        out.append(time.perf_counter() - t0)
    con.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reads", type=int, default=60)
    n = ap.parse_args().reads
    with tempfile.TemporaryDirectory() as tmp:
        a = statistics.median(ours(str(Path(tmp) / "ours.sqlite"), n)) * 1000
        b = statistics.median(peer(str(Path(tmp) / "peer.sqlite"), n)) * 1000
    print(f"commit one read (6 labels), median of {n}:")
    print(f"  StudyStore on SQLite (WAL, synchronous=FULL): {a:.1f} ms")
    print(f"  sqlite3 same rows and pragmas (peer):         {b:.1f} ms   ratio {a / b:.2f}x")
    url = os.environ.get("NEUROREVIEW_TEST_PG_URL")
    if url:
        c = statistics.median(ours(url, n)) * 1000
        print(f"  StudyStore on PostgreSQL ({url.split('@')[-1]}): {c:.1f} ms")


if __name__ == "__main__":
    main()
