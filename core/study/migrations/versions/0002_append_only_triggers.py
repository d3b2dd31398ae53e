"""Append-only in the database too: UPDATE and DELETE on reads and what is committed with them fail.

The store's API has no update or delete path for reads; these triggers also stop a hand-written SQL
statement (or another program on the shared PostgreSQL database) from rewriting a committed read.

Revision ID: 0002
Revises: 0001
"""
from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = ("reads", "read_answers", "agreements", "heatmap_ratings")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE FUNCTION nr_append_only() RETURNS trigger AS $$ BEGIN "
                   "RAISE EXCEPTION '% is append-only: a correction is a new read that supersedes the old one', "
                   "TG_TABLE_NAME; END $$ LANGUAGE plpgsql")
        for t in TABLES:
            op.execute(f"CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t} "
                       f"FOR EACH ROW EXECUTE FUNCTION nr_append_only()")
    else:
        for t in TABLES:
            for what in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {t}_no_{what.lower()} BEFORE {what} ON {t} BEGIN "
                           f"SELECT RAISE(ABORT, '{t} is append-only: a correction is a new read that supersedes "
                           f"the old one'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for t in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {t}_append_only ON {t}")
        op.execute("DROP FUNCTION IF EXISTS nr_append_only()")
    else:
        for t in TABLES:
            for what in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {t}_no_{what}")
