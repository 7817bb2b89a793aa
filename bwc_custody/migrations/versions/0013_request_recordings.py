"""Requests over several recordings, each decided, reviewed and answered on its own; the
requester's facts the custodian confirms; the letters sent; a recording's own facts.

Every existing request becomes a request for its one linked recording (state and decisions
carried over), its written denial a letter of kind `response`; `ky_resident` becomes
`residency` (true: resident; false: unknown, since false was also "not stated": the
requester is then asked for the statement of KRS 61.872(2)(a) instead of denied).

Revision ID: 0013_request_recordings
Revises: 0012_pending_objects
Create Date: 2026-12-06 07:00:00.000000
"""

import json
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0013_request_recordings'
down_revision: str | Sequence[str] | None = '0012_pending_objects'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ITEM_STATES = {'open', 'in_review', 'approved', 'released', 'denied', 'closed'}
_REQUEST_STATE = {'open': 'open', 'in_review': 'open', 'approved': 'open',
                  'released': 'answered', 'denied': 'answered', 'closed': 'closed'}


def upgrade() -> None:
    op.create_table('request_recording',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('request_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('evidence_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('linked_by', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('linked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('explanation', sa.Text(), nullable=True),
    sa.Column('close_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['evidence_id'], ['evidence.id'], ),
    sa.ForeignKeyConstraint(['request_id'], ['records_request.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('request_id', 'evidence_id')
    )
    with op.batch_alter_table('request_recording', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_request_recording_request_id'), ['request_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_request_recording_evidence_id'), ['evidence_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_request_recording_state'), ['state'], unique=False)

    op.create_table('request_letter',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('statement', sa.JSON(), nullable=False),
    sa.Column('signature', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('key_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('sent_by', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['records_request.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('request_letter', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_request_letter_request_id'), ['request_id'], unique=False)

    op.create_table('recording_facts',
    sa.Column('evidence_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('juvenile_tried_as_adult', sa.Boolean(), nullable=False),
    sa.Column('articulated_harm', sa.Text(), nullable=True),
    sa.Column('updated_by', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['evidence_id'], ['evidence.id'], ),
    sa.PrimaryKeyConstraint('evidence_id')
    )

    with op.batch_alter_table('records_request', schema=None) as batch_op:
        batch_op.add_column(sa.Column('residency', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False, server_default='unknown'))
        batch_op.add_column(sa.Column('relationship_confirmed', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('relationship_confirmed_by', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True))
        batch_op.add_column(sa.Column('relationship_confirmed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('relationship_note', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('custodial_parent', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('person_tested', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('request_decision', schema=None) as batch_op:
        batch_op.add_column(sa.Column('item_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True))
    with op.batch_alter_table('review_round', schema=None) as batch_op:
        batch_op.add_column(sa.Column('item_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True))

    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT id, evidence_id, state, submitted_by, created_at, ky_resident, response, "
        "response_signature, response_key_id, closed_at, close_reason FROM records_request"
    )).mappings().all()
    for row in rows:
        state = row['state'] if row['state'] in _ITEM_STATES else 'open'
        conn.execute(sa.text("UPDATE records_request SET residency = :r, state = :s, "
                             "answered_at = :a WHERE id = :id"), {
            'r': 'resident' if row['ky_resident'] else 'unknown', 'id': row['id'],
            's': _REQUEST_STATE.get(state, 'open'),
            'a': row['closed_at'] if state in ('released', 'denied') else None})
        if row['evidence_id'] is None:
            continue
        item = str(uuid.uuid4())
        conn.execute(sa.text(
            "INSERT INTO request_recording (id, request_id, evidence_id, position, state, "
            "linked_by, linked_at, close_reason) VALUES (:id, :r, :e, 1, :s, :by, :at, :c)"), {
            'id': item, 'r': row['id'], 'e': row['evidence_id'], 's': state,
            'by': row['submitted_by'], 'at': row['created_at'],
            'c': row['close_reason'] if state == 'closed' else None})
        for table in ('request_decision', 'review_round'):
            conn.execute(sa.text(f"UPDATE {table} SET item_id = :i WHERE request_id = :r"),
                         {'i': item, 'r': row['id']})
        if row['response'] is not None and row['response_signature']:
            statement = (row['response'] if isinstance(row['response'], str)
                         else json.dumps(row['response']))
            as_json = "CAST(:s AS JSON)" if conn.dialect.name == "postgresql" else ":s"
            conn.execute(sa.text(
                "INSERT INTO request_letter (request_id, kind, statement, signature, key_id, "
                f"sent_by, sent_at) VALUES (:r, 'response', {as_json}, :sig, :k, :by, :at)"), {
                'r': row['id'], 's': statement, 'sig': row['response_signature'],
                'k': row['response_key_id'] or '', 'by': row['submitted_by'],
                'at': row['closed_at'] or row['created_at']})
    # decisions made before a recording was linked cannot exist (a decision needs one)
    conn.execute(sa.text("DELETE FROM request_decision WHERE item_id IS NULL"))

    with op.batch_alter_table('request_decision', schema=None) as batch_op:
        batch_op.alter_column('item_id', existing_type=sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False)
        batch_op.create_index(batch_op.f('ix_request_decision_item_id'), ['item_id'], unique=False)
        batch_op.create_foreign_key('fk_request_decision_item', 'request_recording', ['item_id'], ['id'])
    with op.batch_alter_table('review_round', schema=None) as batch_op:
        batch_op.alter_column('item_id', existing_type=sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False)
        batch_op.create_index(batch_op.f('ix_review_round_item_id'), ['item_id'], unique=False)
        batch_op.create_foreign_key('fk_review_round_item', 'request_recording', ['item_id'], ['id'])
    with op.batch_alter_table('records_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_records_request_evidence_id'))
        batch_op.drop_column('evidence_id')
        batch_op.drop_column('ky_resident')
        batch_op.drop_column('response')
        batch_op.drop_column('response_signature')
        batch_op.drop_column('response_key_id')


def downgrade() -> None:
    raise NotImplementedError(
        "requests over several recordings cannot be folded back into one recording each; "
        "restore the backup taken before the upgrade")
