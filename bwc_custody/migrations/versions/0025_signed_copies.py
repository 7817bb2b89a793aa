"""Signed copies (#25): a redacted copy with the agency's C2PA manifest embedded for one
request is a derivative made by no job (`job_id` may be null), naming the copy it was signed
from (`signed_from`) and what signing said (`c2pa`).

Revision ID: 0025_signed_copies
Revises: 0022_speech
Create Date: 2026-12-06 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0025_signed_copies'
down_revision: str | Sequence[str] | None = '0022_speech'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('derivative') as batch:
        batch.alter_column('job_id', existing_type=sqlmodel.sql.sqltypes.AutoString(length=36),
                           nullable=True)
        batch.add_column(sa.Column('signed_from', sqlmodel.sql.sqltypes.AutoString(length=36),
                                   nullable=True))
        batch.add_column(sa.Column('c2pa', sa.JSON(), nullable=True))
        batch.create_foreign_key('fk_derivative_signed_from', 'derivative', ['signed_from'],
                                 ['id'])
        batch.create_index('ix_derivative_signed_from', ['signed_from'], unique=False)


def downgrade() -> None:
    # Refused (NOT NULL) while signed copies exist: they are the files reviewers signed off
    # and requesters downloaded, not something a downgrade may drop.
    with op.batch_alter_table('derivative') as batch:
        batch.drop_index('ix_derivative_signed_from')
        batch.drop_constraint('fk_derivative_signed_from', type_='foreignkey')
        batch.drop_column('c2pa')
        batch.drop_column('signed_from')
        batch.alter_column('job_id', existing_type=sqlmodel.sql.sqltypes.AutoString(length=36),
                           nullable=False)
