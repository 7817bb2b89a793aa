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


def test_a_single_recording_request_becomes_a_request_for_that_recording(
        db_url: str, monkeypatch: object) -> None:
    """0013: an existing request (its recording, decision and written denial) becomes a
    request naming that one recording, nothing lost."""
    import json

    from sqlalchemy import text

    from bwc_custody.db import make_engine, upgrade

    upgrade(db_url, revision="0012_pending_objects")
    engine = make_engine(db_url)
    statement = {"format": "bwc-records-denial/1", "explanation": "withheld"}
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO stored_object (key, object_id, kind, sha256, size, ciphertext_size, "
            "segment_size, kek_id, wrapped_key, store, created_at) VALUES ('originals/e1', "
            "'00000000-0000-4000-8000-000000000001', 'original', 'ab', 1, 1, 1, 'k', 'w', "
            "'local', '2026-01-01T00:00:00+00:00')"))
        conn.execute(text(
            "INSERT INTO evidence (id, object_key, sha256, size, received_at, ingested_by, "
            "source, extra, media_status, media) VALUES ('e1', 'originals/e1', 'ab', 1, "
            "'2026-01-01T00:00:00+00:00', 'dock', 'cli', '{}', 'video', '{}')"))
        conn.execute(text(
            "INSERT INTO records_request (id, evidence_id, description, requester_name, "
            "requester_type, ky_resident, parent_of_depicted, attorney_affidavit, form, "
            "received_on, deadline, state, submitted_by, created_at, response, "
            "response_signature, response_key_id) VALUES ('r1', 'e1', 'the video', 'R', "
            "'public', :t, :f, :f, 'copy', '2026-01-02', '2026-01-09', 'denied', 'cust', "
            "'2026-01-02T00:00:00+00:00', :s, 'sig', 'key')"),
            {"t": True, "f": False, "s": json.dumps(statement)})
        conn.execute(text(
            "INSERT INTO request_decision (request_id, created_at, actor, trigger, tags, "
            "effect, rule_ids, decision, changed, custody_seq) VALUES ('r1', "
            "'2026-01-02T00:00:00+00:00', 'cust', 'evidence_linked', '[]', 'deny', '[]', "
            "'{}', :t, 1)"), {"t": True})
    upgrade(db_url)
    with engine.connect() as conn:
        item = conn.execute(text("SELECT id, evidence_id, position, state FROM "
                                 "request_recording WHERE request_id = 'r1'")).one()
        request = conn.execute(text("SELECT state, residency FROM records_request "
                                    "WHERE id = 'r1'")).one()
        decision_item = conn.execute(text("SELECT item_id FROM request_decision")).scalar()
        letter = conn.execute(text("SELECT kind, statement, signature FROM request_letter "
                                   "WHERE request_id = 'r1'")).one()
    engine.dispose()
    assert tuple(item[1:]) == ("e1", 1, "denied")
    assert tuple(request) == ("answered", "resident")
    assert decision_item == item[0]
    loaded = letter[1] if isinstance(letter[1], dict) else json.loads(letter[1])
    assert (letter[0], loaded, letter[2]) == ("response", statement, "sig")
