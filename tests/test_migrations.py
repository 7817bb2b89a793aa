"""The migrations build exactly the schema the models declare, on SQLite and PostgreSQL: a
table or column added to a model without its migration fails here, not in production."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel


def test_migrations_match_the_models(migrated: str) -> None:
    import bwc_custody.models  # noqa: F401  (every table on SQLModel.metadata)
    from bwc_custody.db import get_engine

    with get_engine().connect() as conn:
        drift = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert drift == []
