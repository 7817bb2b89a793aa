"""RFC 3161 timestamps of custody checkpoints (issue 25): one row per timestamped checkpoint,
naming the token kept WORM beside it in the object store (`checkpoints/NNNNNNNN.tsr`); and
one row per checkpoint head a witness accepted (optional, BWC_WITNESS_URL).

Append-only like the log and its checkpoints: a trigger refuses UPDATE and DELETE (and
TRUNCATE on PostgreSQL), reusing 0002's `bwc_refuse_change()`.

Revision ID: 0026_checkpoint_timestamps
Revises: 0019_object_versions
Create Date: 2026-12-06 10:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0026_checkpoint_timestamps'
down_revision: str | Sequence[str] | None = '0019_object_versions'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "checkpoint_timestamp"
APPEND_ONLY = (TABLE, "checkpoint_publication")

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION bwc_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def upgrade() -> None:
    op.create_table(TABLE,
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('checkpoint_index', sa.Integer(), nullable=False),
    sa.Column('object_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('object_version', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('token_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('tsa_url', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('tsa_name', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('gen_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('serial', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_checkpoint_timestamp_checkpoint_index'),
                              ['checkpoint_index'], unique=True)
    op.create_table('checkpoint_publication',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('checkpoint_index', sa.Integer(), nullable=False),
    sa.Column('witness_url', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('note_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('checkpoint_index', 'witness_url', name='uq_checkpoint_publication')
    )
    with op.batch_alter_table('checkpoint_publication', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_checkpoint_publication_checkpoint_index'),
                              ['checkpoint_index'], unique=False)
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(PG_FUNCTION)
    for table in APPEND_ONLY:
        if dialect == "postgresql":
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION bwc_refuse_change()")
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION bwc_refuse_change()")
        elif dialect == "sqlite":
            for verb in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                           f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {verb} refused'); END")
        else:
            raise NotImplementedError(f"no append-only trigger for {dialect}")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY:
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        else:
            for verb in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
    with op.batch_alter_table('checkpoint_publication', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_checkpoint_publication_checkpoint_index'))
    op.drop_table('checkpoint_publication')
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_checkpoint_timestamp_checkpoint_index'))
    op.drop_table(TABLE)
