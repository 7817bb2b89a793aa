"""Appeals of the answer to a records request (KRS 61.880(2), (5)).

Revision ID: 0011_appeals
Revises: 0010_user_mfa
Create Date: 2026-12-04 15:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0011_appeals'
down_revision: str | Sequence[str] | None = '0010_user_mfa'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('records_appeal',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('forum', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('reference', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('filed_on', sa.Date(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('recorded_by', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_seq', sa.Integer(), nullable=False),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('decided_on', sa.Date(), nullable=True),
    sa.Column('decision_reference', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.Column('decided_by', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['request_id'], ['records_request.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('records_appeal', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_records_appeal_request_id'), ['request_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('records_appeal', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_records_appeal_request_id'))
    op.drop_table('records_appeal')
