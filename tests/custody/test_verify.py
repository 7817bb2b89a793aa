"""`bwc verify` on an honest log, and on every kind of tampering, each caught and named."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError


def _refs(report: dict[str, Any], kind: str) -> set[str]:
    return {f["ref"] for f in report["findings"] if f["kind"] == kind}


@pytest.fixture
def honest(append_entries: Callable[..., None], checkpoint: Callable[[], int],
           ingest: Callable[..., str]) -> str:
    """A log of objects and entries with two checkpoints and a tail after them."""
    evidence_id = ingest()
    append_entries(5)
    assert checkpoint() == 6
    append_entries(4)
    assert checkpoint() == 10
    append_entries(2)
    return evidence_id


def test_honest_log_verifies(honest: str, run_verify: Callable[..., dict]) -> None:
    report = run_verify()
    assert report["ok"], report["findings"]
    assert (report["entries"], report["checkpoints"], report["objects"]) == (12, 2, 1)
    assert report["bytes_checked"] == 150_000


def test_triggers_refuse_update_and_delete(honest: str, migrated: str) -> None:
    from bwc_custody.db import make_engine

    engine = make_engine(migrated)
    for stmt in ("UPDATE custody_entry SET actor = 'x' WHERE seq = 2",
                 "DELETE FROM custody_entry WHERE seq = 2",
                 "UPDATE custody_checkpoint SET root_hash = 'x'",
                 "DELETE FROM custody_checkpoint"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(stmt))
    if engine.dialect.name == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text("TRUNCATE custody_entry"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM custody_entry")).scalar() == 12
    engine.dispose()


def test_edited_entry_is_named(honest: str, dba: Callable, run_verify: Callable) -> None:
    with dba() as conn:
        conn.execute(text("UPDATE custody_entry SET reason = 'nothing to see' WHERE seq = 8"))
    report = run_verify()
    assert not report["ok"]
    assert _refs(report, "entry") == {"seq 8"}
    assert "edited" in report["findings"][0]["problem"]
    # The checkpoint over seq 1..10 no longer reproduces; the one over 1..6 still does.
    assert _refs(report, "checkpoint") == {"checkpoint 2 (size 10)"}
    assert "seq 7..10" in next(f["problem"] for f in report["findings"]
                               if f["kind"] == "checkpoint")


def test_deleted_entry_is_named(honest: str, dba: Callable, run_verify: Callable) -> None:
    with dba() as conn:
        conn.execute(text("DELETE FROM custody_entry WHERE seq = 3"))
    report = run_verify()
    entry_findings = {(f["ref"], f["problem"].split(" (")[0]) for f in report["findings"]
                      if f["kind"] == "entry"}
    assert ("seq 3", "missing from the log") in entry_findings
    assert "seq 4" in _refs(report, "entry")  # its prev_hash now points at nothing
    assert {"checkpoint 1 (size 6)", "checkpoint 2 (size 10)"} <= _refs(report, "checkpoint")


def test_inserted_entry_is_named(honest: str, dba: Callable, run_verify: Callable,
                                 migrated: str) -> None:
    from sqlmodel import Session, select

    from bwc_custody.custody import service as custody
    from bwc_custody.custody.models import CustodyEntry
    from bwc_custody.db import make_engine

    engine = make_engine(migrated)
    with Session(engine) as session:
        prev = session.exec(select(CustodyEntry).where(CustodyEntry.seq == 4)).one()
        forged = CustodyEntry(seq=5, at=prev.at, actor="forger", role="admin",
                              action="evidence.view", target_type="evidence", target_id="x",
                              prev_hash=prev.entry_hash, entry_hash="")
        forged.entry_hash = custody.entry_digest(forged)
    engine.dispose()
    with dba() as conn:
        # Make room at seq 5 (highest first, so the unique index never collides), then insert.
        for seq in range(12, 4, -1):
            conn.execute(text("UPDATE custody_entry SET seq = seq + 1 WHERE seq = :s"), {"s": seq})
        conn.execute(text(
            "INSERT INTO custody_entry (seq, at, actor, role, action, target_type, target_id,"
            " client_addr, reason, details, prev_hash, entry_hash) VALUES (5, :at, 'forger',"
            " 'admin', 'evidence.view', 'evidence', 'x', '', '', '{}', :prev, :hash)"),
            {"at": forged.at, "prev": forged.prev_hash, "hash": forged.entry_hash})
    report = run_verify()
    refs = _refs(report, "entry")
    assert "seq 6" in refs  # the displaced original seq 5 no longer matches its hash
    assert "seq 5" not in refs  # the forgery itself is self-consistent...
    assert {"checkpoint 1 (size 6)", "checkpoint 2 (size 10)"} <= _refs(report, "checkpoint")


def test_reordered_entries_are_named(honest: str, dba: Callable, run_verify: Callable) -> None:
    with dba() as conn:
        conn.execute(text("UPDATE custody_entry SET seq = 1000 WHERE seq = 8"))
        conn.execute(text("UPDATE custody_entry SET seq = 8 WHERE seq = 9"))
        conn.execute(text("UPDATE custody_entry SET seq = 9 WHERE seq = 1000"))
    report = run_verify()
    assert {"seq 8", "seq 9"} <= _refs(report, "entry")
    assert "checkpoint 2 (size 10)" in _refs(report, "checkpoint")


def test_rewritten_history_with_recomputed_hashes_is_caught(
    honest: str, dba: Callable, run_verify: Callable, migrated: str
) -> None:
    """A DBA who edits seq 3 and re-chains every later hash still cannot re-sign the roots."""
    from sqlmodel import Session, col, select

    from bwc_custody.custody import service as custody
    from bwc_custody.custody.models import CustodyEntry
    from bwc_custody.db import make_engine

    engine = make_engine(migrated)
    with Session(engine) as session:
        rows = list(session.exec(select(CustodyEntry).order_by(col(CustodyEntry.seq))))
        for row in rows:
            session.expunge(row)
    engine.dispose()
    rows[2].reason = "rewritten"
    for i in range(2, len(rows)):
        rows[i].prev_hash = rows[i - 1].entry_hash
        rows[i].entry_hash = custody.entry_digest(rows[i])
    with dba() as conn:
        for row in rows[2:]:
            conn.execute(text("UPDATE custody_entry SET reason = :r, prev_hash = :p, "
                              "entry_hash = :h WHERE seq = :s"),
                         {"r": row.reason, "p": row.prev_hash, "h": row.entry_hash, "s": row.seq})
    report = run_verify()
    assert _refs(report, "entry") == set()  # the chain alone looks perfect
    problems = {f["ref"]: f["problem"] for f in report["findings"]}
    assert "seq 1..6" in problems["checkpoint 1 (size 6)"]
    assert "checkpoint 2 (size 10)" in problems


def test_replaced_checkpoint_is_named(honest: str, dba: Callable, run_verify: Callable) -> None:
    with dba() as conn:
        conn.execute(text("UPDATE custody_checkpoint SET root_hash = :r WHERE tree_size = 10"),
                     {"r": "ab" * 32})
    report = run_verify()
    problems = [f["problem"] for f in report["findings"] if f["ref"] == "checkpoint 2 (size 10)"]
    assert any("signature does not verify" in p for p in problems)
    assert any("differs from the WORM copy" in p for p in problems)
    assert _refs(report, "entry") == set()


def test_deleted_checkpoint_rows_are_named(honest: str, dba: Callable,
                                           run_verify: Callable) -> None:
    with dba() as conn:
        conn.execute(text("DELETE FROM custody_checkpoint"))
    report = run_verify()
    assert _refs(report, "checkpoint") == {"checkpoint 1", "checkpoint 2"}
    assert all("missing from the database" in f["problem"] for f in report["findings"])


def test_checkpoint_signed_by_another_key_is_named(
    honest: str, dba: Callable, run_verify: Callable
) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from bwc_custody.custody import service as custody
    from storage.keys import Signer

    other = Signer(Ed25519PrivateKey.generate())
    sig = other.sign(custody.checkpoint_signed_bytes(
        index=1, tree_size=6, root_hash="cd" * 32, created_at="2026-01-01T00:00:00+00:00"))
    with dba() as conn:
        conn.execute(text("UPDATE custody_checkpoint SET root_hash = :r, signature = :s, "
                          "key_id = :k WHERE tree_size = 6"),
                     {"r": "cd" * 32, "s": sig, "k": other.key_id})
    report = run_verify()
    assert any(f["ref"] == "checkpoint 1 (size 6)" and "signature" in f["problem"]
               for f in report["findings"])


def test_changed_byte_of_stored_object_is_named(honest: str, run_verify: Callable) -> None:
    from bwc_custody.vault.service import get_store

    key = f"originals/{honest}"
    path = get_store().path(key)  # type: ignore[attr-defined]
    path.chmod(0o600)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    report = run_verify()
    assert _refs(report, "object") == {key}
    assert _refs(report, "entry") == set()
    assert run_verify(fixity=False)["ok"]


def test_bytes_nobody_recorded_are_named(honest: str, run_verify: Callable) -> None:
    from bwc_custody.vault.service import get_store

    planted = {f"derivatives/{honest}/planted/redacted.mp4", "checkpoints/extra.json"}
    for key in planted:
        with get_store().writer(key) as writer:
            writer.write(b"bytes written around the system")
            writer.commit()
    report = run_verify()
    assert not report["ok"]
    assert _refs(report, "object") == planted
    assert _refs(report, "checkpoint") == set()
    assert run_verify(fixity=False)["ok"]  # the store is walked with the objects' check


def test_log_without_checkpoints_and_empty_log(migrated: str, run_verify: Callable,
                                               append_entries: Callable) -> None:
    from bwc_custody.custody import service as custody
    from bwc_custody.custody.errors import ProofUnavailable
    from bwc_custody.db import session_scope
    from bwc_custody.vault.service import get_signer, get_store

    assert run_verify()["ok"]
    with pytest.raises(ProofUnavailable), session_scope() as session:
        custody.create_checkpoint(session=session, signer=get_signer(), store=get_store())
    append_entries(3)
    with session_scope() as session:
        first = custody.create_checkpoint(session=session, signer=get_signer(), store=get_store())
    with session_scope() as session:
        again = custody.create_checkpoint(session=session, signer=get_signer(), store=get_store())
    assert (first.index, first.tree_size) == (again.index, again.tree_size) == (1, 3)
    assert run_verify()["ok"]


def test_proofs_from_the_service(honest: str, migrated: str) -> None:
    from bwc_custody.custody import merkle
    from bwc_custody.custody import service as custody
    from bwc_custody.db import session_scope

    with session_scope() as session:
        cp = custody.get_checkpoint_or_raise(session=session, tree_size=10)
        for seq in range(1, 11):
            proof = custody.inclusion_proof(session=session, seq=seq)
            assert proof.tree_size == 10
            assert proof.root_hash == cp.root_hash
            assert merkle.verify_inclusion(seq - 1, 10, bytes.fromhex(proof.leaf_hash),
                                           [bytes.fromhex(h) for h in proof.path],
                                           bytes.fromhex(cp.root_hash))
        c = custody.consistency_proof(session=session, first=6, second=10)
        first = custody.get_checkpoint_or_raise(session=session, tree_size=6)
        assert first.frontier is not None  # served from its frontier: the same proof as from
        assert [bytes.fromhex(h) for h in c.path] == merkle.consistency_proof(  # every leaf
            6, custody.leaves(session=session, size=10))
        assert merkle.verify_consistency(6, 10, bytes.fromhex(first.root_hash),
                                         bytes.fromhex(cp.root_hash),
                                         [bytes.fromhex(h) for h in c.path])
