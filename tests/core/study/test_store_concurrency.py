"""Real concurrency and crashes: two reader processes writing at once (separate engines), two processes
opening (migrating) a new database at once, and a reader process killed with SIGKILL mid-session."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from core.study import StudyStore
from tests.core.study.db_fixtures import db_url  # noqa: F401 (fixture)
from tests.core.study.workers import open_store, read_everything, run_together

ROOT = Path(__file__).resolve().parents[3]
LABELS = ["any", "subdural", "epidural"]


def _study(db, n=12, readers=("ann", "bob")):
    with StudyStore(db) as s:
        s.create_study("s", LABELS)
        for cid in s.add_cases("s", [f"/c/{i}" for i in range(n)]):
            s.add_model_outputs("s", cid, {"any": 0.9, "subdural": 0.7, "epidural": 0.1}, 0.5, "m", "1", "0" * 64)
        s.add_readers("s", readers)


def test_two_readers_write_at_the_same_time(db_url):  # noqa: F811
    _study(db_url)
    counts = run_together(read_everything, [(db_url, "s", "ann"), (db_url, "s", "bob")])
    assert counts == [24, 24]  # 12 cases x 2 arms each
    with StudyStore(db_url) as s:
        reads = s.reads_of("s")
        assert len(reads) == 48
        for r in ("ann", "bob"):
            mine = [x for x in reads if x.reader == r]
            assert sorted((x.case_id, x.arm) for x in mine) == sorted(
                (c, a) for c in s.reading_order("s", r) for a in ("unaided", "aided"))
            assert all(set(x.answers) == set(LABELS) for x in mine)
            assert s.next_case("s", r) is None
        # the two commit streams really interleaved (both were writing during the same period)
        order = [x.reader for x in sorted(reads, key=lambda x: (x.committed_at, x.read_id))]
        switches = sum(1 for a, b in zip(order, order[1:]) if a != b)
        assert switches >= 2, order


def test_two_processes_open_a_new_database_at_once(db_url):  # noqa: F811
    assert run_together(open_store, [(db_url,), (db_url,)]) == ["", ""]
    with StudyStore(db_url) as s, s.engine.connect() as c:
        assert len(c.execute(text("SELECT version_num FROM alembic_version")).all()) == 1


def test_sigkill_mid_session_loses_no_committed_read(db_url):  # noqa: F811
    _study(db_url, n=10, readers=("ann",))
    proc = subprocess.Popen([sys.executable, "-m", "tests.core.study.workers", "read-slowly", db_url, "s", "ann"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    try:
        for line in proc.stdout:
            seen.append(tuple(line.split()[1:]))
            if len(seen) == 7:  # mid-session: case 4's unaided read saved, its aided read not yet
                os.kill(proc.pid, signal.SIGKILL)
                break
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read()
    with StudyStore(db_url) as s:
        stored = [(r.case_id, r.arm) for r in s.reads_of("s")]
        assert set(seen) <= set(stored)  # every read the worker saw committed is there
        assert len(stored) <= len(seen) + 1  # at most the one committed between print and kill
        order = s.reading_order("s", "ann")
        steps = [(c, a) for c in order for a in ("unaided", "aided")]
        assert stored == steps[:len(stored)]
        nxt = s.next_case("s", "ann")
        assert (nxt.case_id, nxt.arm) == steps[len(stored)]
        assert nxt.position == len(stored) // 2 + 1
