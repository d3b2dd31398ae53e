"""Study databases for tests: a real SQLite file, and a fresh database on a real PostgreSQL server
(NEUROREVIEW_TEST_PG_URL, set by scripts/pg_test_server.sh in CI). Import the fixtures you use."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text

PG_URL = os.environ.get("NEUROREVIEW_TEST_PG_URL", "")
SKIP_PG = "NEUROREVIEW_TEST_PG_URL is not set: no PostgreSQL server (scripts/pg_test_server.sh starts one; CI sets it)"

BACKENDS = [pytest.param("sqlite", id="sqlite"),
            pytest.param("postgres", id="postgres", marks=[pytest.mark.postgres,
                                                           pytest.mark.skipif(not PG_URL, reason=SKIP_PG)])]


def _pg_admin():
    return create_engine(PG_URL, isolation_level="AUTOCOMMIT")


def new_pg_database() -> str:
    """CREATE DATABASE with a unique name; returns its URL."""
    name = f"nr_test_{uuid.uuid4().hex[:12]}"
    eng = _pg_admin()
    with eng.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    eng.dispose()
    return PG_URL.rsplit("/", 1)[0] + "/" + name


def drop_pg_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    eng = _pg_admin()
    with eng.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    eng.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path):
    """A new, empty study database: a SQLite file path or a PostgreSQL URL."""
    if request.param == "sqlite":
        yield str(tmp_path / "study.sqlite")
        return
    url = new_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(url)
