"""Users' second factor: the sealed key of their one-time codes.

Revision ID: 0010_user_mfa
Revises: 0009_case_closure
Create Date: 2026-12-04 14:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0010_user_mfa'
down_revision: str | Sequence[str] | None = '0009_case_closure'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('user_mfa',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('object_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('kek_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('wrapped_key', sa.Text(), nullable=False),
    sa.Column('ciphertext', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_step', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('object_id'),
    sa.UniqueConstraint('user_id')
    )


def downgrade() -> None:
    op.drop_table('user_mfa')
