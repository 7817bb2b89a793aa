"""Indexes for reading the custody log as an auditor does (filtered by who acted, by day, and
the filters' choices): one person's entries newest first come from (actor, seq), a day's
from `at`, and the list of everyone who acted is walked through the actor index
(`custody/search.py`) instead of read from every row. Measured on a 300,000-entry log:
`bench/custody_search.py`.

Plain CREATE INDEX (not batch): custody_entry's append-only triggers must survive, and a
batch rebuild on SQLite would drop them.

Revision ID: 0027_custody_search
Revises: 0026_checkpoint_timestamps
Create Date: 2026-12-06 11:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0027_custody_search'
down_revision: str | Sequence[str] | None = '0026_checkpoint_timestamps'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_custody_entry_actor_seq', 'custody_entry', ['actor', 'seq'])
    op.create_index('ix_custody_entry_at', 'custody_entry', ['at'])


def downgrade() -> None:
    op.drop_index('ix_custody_entry_at', table_name='custody_entry')
    op.drop_index('ix_custody_entry_actor_seq', table_name='custody_entry')
