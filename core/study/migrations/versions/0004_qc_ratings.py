"""QC review ratings join the study store (one database holds every human read): keyed by file content
(sha256) and reviewer, append-only like reads.

Revision ID: 0004
Revises: 0003
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "qc_ratings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("reviewer", sa.String(length=200), nullable=False),
        sa.Column("verdict", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("rated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("qc_ratings") as batch:
        batch.create_index(batch.f("ix_qc_ratings_sha256"), ["sha256"], unique=False)
        batch.create_index(batch.f("ix_qc_ratings_reviewer"), ["reviewer"], unique=False)
    if op.get_bind().dialect.name == "postgresql":  # nr_append_only() comes from revision 0002
        op.execute("CREATE TRIGGER qc_ratings_append_only BEFORE UPDATE OR DELETE ON qc_ratings "
                   "FOR EACH ROW EXECUTE FUNCTION nr_append_only()")
    else:
        for what in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER qc_ratings_no_{what.lower()} BEFORE {what} ON qc_ratings BEGIN "
                       f"SELECT RAISE(ABORT, 'qc_ratings is append-only: a change of mind is a new rating'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS qc_ratings_append_only ON qc_ratings")
    else:
        for what in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS qc_ratings_no_{what}")
    with op.batch_alter_table("qc_ratings") as batch:
        batch.drop_index(batch.f("ix_qc_ratings_reviewer"))
        batch.drop_index(batch.f("ix_qc_ratings_sha256"))
    op.drop_table("qc_ratings")
