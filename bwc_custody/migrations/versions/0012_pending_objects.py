"""Objects about to be published, written down first, so an interrupted ingest is adopted.

Revision ID: 0012_pending_objects
Revises: 0011_appeals
Create Date: 2026-12-06 06:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0012_pending_objects'
down_revision: str | Sequence[str] | None = '0011_appeals'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('pending_object',
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('object_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('kek_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('wrapped_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('segment_size', sa.Integer(), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('context', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    with op.batch_alter_table('pending_object', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pending_object_sha256'), ['sha256'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('pending_object', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pending_object_sha256'))
    op.drop_table('pending_object')
