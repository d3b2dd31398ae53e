"""initial reader-study schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-24 21:48:30.697502
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('studies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('labels', sa.JSON(), nullable=False),
    sa.Column('reference_standard', sa.Text(), nullable=False),
    sa.Column('score_kind', sa.String(length=16), nullable=False),
    sa.Column('arms', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.String(length=64), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('series_uid', sa.String(length=128), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['study_id'], ['studies.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('study_id', 'case_id'),
    sa.UniqueConstraint('study_id', 'path', 'series_uid')
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cases_study_id'), ['study_id'], unique=False)

    op.create_table('readers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['study_id'], ['studies.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('study_id', 'name')
    )
    with op.batch_alter_table('readers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_readers_study_id'), ['study_id'], unique=False)

    op.create_table('model_outputs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_pk', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=64), nullable=False),
    sa.Column('probability', sa.Float(), nullable=False),
    sa.Column('threshold', sa.Float(), nullable=False),
    sa.Column('model_name', sa.String(length=200), nullable=False),
    sa.Column('model_version', sa.String(length=64), nullable=False),
    sa.Column('model_sha256', sa.String(length=200), nullable=False),
    sa.Column('provider', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_pk'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('model_outputs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_model_outputs_case_pk'), ['case_pk'], unique=False)

    op.create_table('reads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_pk', sa.Integer(), nullable=False),
    sa.Column('reader_pk', sa.Integer(), nullable=False),
    sa.Column('arm', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('committed_at', sa.DateTime(), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=False),
    sa.Column('supersedes_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['case_pk'], ['cases.id'], ),
    sa.ForeignKeyConstraint(['reader_pk'], ['readers.id'], ),
    sa.ForeignKeyConstraint(['supersedes_id'], ['reads.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('reads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reads_case_pk'), ['case_pk'], unique=False)
        batch_op.create_index(batch_op.f('ix_reads_reader_pk'), ['reader_pk'], unique=False)

    op.create_table('truths',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_pk', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=64), nullable=False),
    sa.Column('present', sa.Boolean(), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('imported_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_pk'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('truths', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_truths_case_pk'), ['case_pk'], unique=False)

    op.create_table('agreements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('read_id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=64), nullable=False),
    sa.Column('model_output_id', sa.Integer(), nullable=False),
    sa.Column('model_present', sa.Boolean(), nullable=False),
    sa.Column('agree', sa.Boolean(), nullable=False),
    sa.Column('final_present', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['model_output_id'], ['model_outputs.id'], ),
    sa.ForeignKeyConstraint(['read_id'], ['reads.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('read_id', 'label')
    )
    with op.batch_alter_table('agreements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agreements_read_id'), ['read_id'], unique=False)

    op.create_table('heatmap_ratings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('read_id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=64), nullable=False),
    sa.Column('rating', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['read_id'], ['reads.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('read_id', 'label')
    )
    with op.batch_alter_table('heatmap_ratings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_heatmap_ratings_read_id'), ['read_id'], unique=False)

    op.create_table('read_answers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('read_id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=64), nullable=False),
    sa.Column('present', sa.Boolean(), nullable=False),
    sa.Column('confidence', sa.Integer(), nullable=True),
    sa.Column('probability', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['read_id'], ['reads.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('read_id', 'label')
    )
    with op.batch_alter_table('read_answers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_read_answers_read_id'), ['read_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('read_answers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_read_answers_read_id'))

    op.drop_table('read_answers')
    with op.batch_alter_table('heatmap_ratings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_heatmap_ratings_read_id'))

    op.drop_table('heatmap_ratings')
    with op.batch_alter_table('agreements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agreements_read_id'))

    op.drop_table('agreements')
    with op.batch_alter_table('truths', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_truths_case_pk'))

    op.drop_table('truths')
    with op.batch_alter_table('reads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reads_reader_pk'))
        batch_op.drop_index(batch_op.f('ix_reads_case_pk'))

    op.drop_table('reads')
    with op.batch_alter_table('model_outputs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_model_outputs_case_pk'))

    op.drop_table('model_outputs')
    with op.batch_alter_table('readers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_readers_study_id'))

    op.drop_table('readers')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_study_id'))

    op.drop_table('cases')
    op.drop_table('studies')
