"""checkpoint_publication.cosignature: the witness's cosignature line(s) on the head it took
(C2SP tlog-witness add-checkpoint answers 200 with signed-note lines), kept so that anyone
can later show what the witness vouched for.

Plain ADD COLUMN (not batch): checkpoint_publication's append-only triggers must survive,
and a batch rebuild on SQLite would drop them. Rows from before carry none (NULL).

Revision ID: 0028_witness_cosignature
Revises: 0027_custody_search
Create Date: 2026-12-06 11:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0028_witness_cosignature'
down_revision: str | Sequence[str] | None = '0027_custody_search'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('checkpoint_publication', sa.Column('cosignature', sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column('checkpoint_publication', 'cosignature')
