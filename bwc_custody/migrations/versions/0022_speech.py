"""Speech that identifies a child: each search of a recording's sound for the custodian's
terms and spoken numbers, its suggested mute ranges, and its encrypted transcript's key.

Revision ID: 0022_speech
Revises: 0020_review_coverage
Create Date: 2026-12-06 08:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0022_speech'
down_revision: str | Sequence[str] | None = '0020_review_coverage'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'speech_analysis',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('evidence_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column('job_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column('terms', sa.JSON(), nullable=False),
        sa.Column('suggestions', sa.JSON(), nullable=False),
        sa.Column('has_audio', sa.Boolean(), nullable=False),
        sa.Column('words', sa.Integer(), nullable=False),
        sa.Column('transcript_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column('engine', sa.JSON(), nullable=False),
        sa.Column('seconds', sa.Float(), nullable=False),
        sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['evidence_id'], ['evidence.id'], ),
        sa.ForeignKeyConstraint(['job_id'], ['job.id'], ),
        sa.ForeignKeyConstraint(['transcript_key'], ['stored_object.key'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('job_id'),
    )
    with op.batch_alter_table('speech_analysis') as batch:
        batch.create_index(batch.f('ix_speech_analysis_evidence_id'), ['evidence_id'],
                           unique=False)


def downgrade() -> None:
    with op.batch_alter_table('speech_analysis') as batch:
        batch.drop_index(batch.f('ix_speech_analysis_evidence_id'))
    op.drop_table('speech_analysis')
