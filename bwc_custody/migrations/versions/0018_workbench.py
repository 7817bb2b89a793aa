"""The custodian's workbench: a label the custodian gives each redacted copy and the copy's
low-confidence ranges (for the recording page, without reading the manifest), and the person
count that retracted an automatic tag (a retraction by the machine is not a custodian's
removal, so a later count that supports the tag again may put it back).

Revision ID: 0018_workbench
Revises: 0013_request_recordings
Create Date: 2026-12-06 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0018_workbench'
down_revision: str | Sequence[str] | None = '0013_request_recordings'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('derivative') as batch:
        batch.add_column(sa.Column('label', sqlmodel.sql.sqltypes.AutoString(length=120),
                                   nullable=False, server_default=''))
        batch.add_column(sa.Column('flags', sa.JSON(), nullable=False, server_default='[]'))
    with op.batch_alter_table('tag') as batch:
        batch.add_column(sa.Column('retracted_by_analysis', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('tag') as batch:
        batch.drop_column('retracted_by_analysis')
    with op.batch_alter_table('derivative') as batch:
        batch.drop_column('flags')
        batch.drop_column('label')
