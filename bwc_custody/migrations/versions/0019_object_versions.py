"""The version of every stored object and of every checkpoint's WORM copy (S3 version id; the
local store's content hash), so reads and `bwc verify` name exactly the bytes written and a
delete marker or a newer version over them hides nothing; and each checkpoint's Merkle
frontier, so the next checkpoint hashes only the entries since.

Plain ALTER TABLE (not batch): custody_checkpoint's append-only triggers must survive, and a
batch rebuild on SQLite would drop them. Rows written before this revision keep NULL: their
current version is read, and verify names any second version or delete marker over them.

Revision ID: 0019_object_versions
Revises: 0025_signed_copies
Create Date: 2026-12-06 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0019_object_versions'
down_revision: str | Sequence[str] | None = '0025_signed_copies'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('stored_object', sa.Column(
        'version', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))
    op.add_column('custody_checkpoint', sa.Column(
        'object_version', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))
    op.add_column('custody_checkpoint', sa.Column('frontier', sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column('custody_checkpoint', 'frontier')
    op.drop_column('custody_checkpoint', 'object_version')
    op.drop_column('stored_object', 'version')
