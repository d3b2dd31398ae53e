"""Model outputs keep the CT models' out-of-distribution verdict (in_distribution, score, threshold, reason), so
exports and the reading window know which stored calls were made outside the training data. Nullable: rows
written before this revision have no verdict and keep none (they are counted as "no verdict", never guessed).

Revision ID: 0005
Revises: 0004
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("model_outputs") as batch:
        batch.add_column(sa.Column("in_distribution", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("ood_score", sa.Float(), nullable=True))
        batch.add_column(sa.Column("ood_threshold", sa.Float(), nullable=True))
        batch.add_column(sa.Column("ood_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("model_outputs") as batch:
        batch.drop_column("ood_reason")
        batch.drop_column("ood_threshold")
        batch.drop_column("ood_score")
        batch.drop_column("in_distribution")
