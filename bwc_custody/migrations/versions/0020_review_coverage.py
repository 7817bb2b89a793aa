"""A review that means watched: the ranges of a file under review each legal reviewer's
player played, per review round and reviewer, merged per speed class, with the playing time
they claim (a sign-off needs the whole file watched or an attestation, and every flagged
range watched at normal speed).

Revision ID: 0020_review_coverage
Revises: 0018_workbench
Create Date: 2026-12-07 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0020_review_coverage'
down_revision: str | Sequence[str] | None = '0018_workbench'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'review_coverage',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('round_id', sa.Integer(), nullable=False),
        sa.Column('reviewer', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column('derivative_id', sqlmodel.sql.sqltypes.AutoString(length=36),
                  nullable=False),
        sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('played', sa.JSON(), nullable=False),
        sa.Column('played_for_s', sa.Float(), nullable=False),
        sa.Column('reports', sa.Integer(), nullable=False),
        sa.Column('first_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['derivative_id'], ['derivative.id'], ),
        sa.ForeignKeyConstraint(['round_id'], ['review_round.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('round_id', 'reviewer'),
    )
    with op.batch_alter_table('review_coverage', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_coverage_round_id'), ['round_id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('review_coverage', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_coverage_round_id'))
    op.drop_table('review_coverage')
