"""Append to the custody log and verify its hash chain."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import text
from sqlmodel import Session, col, select

from bwc_custody.auth.service import Principal
from bwc_custody.custody.models import CustodyEntry
from bwc_custody.timeutil import as_utc, utcnow

GENESIS_HASH = "0" * 64


def canonical_bytes(entry: CustodyEntry) -> bytes:
    """The bytes an entry's hash covers: every field but the hash itself, canonical JSON."""
    body = {
        "seq": entry.seq,
        "at": as_utc(entry.at).isoformat(),
        "actor": entry.actor,
        "role": entry.role,
        "action": entry.action,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "client_addr": entry.client_addr,
        "reason": entry.reason,
        "details": entry.details,
        "prev_hash": entry.prev_hash,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_digest(entry: CustodyEntry) -> str:
    """SHA-256 (hex) of the entry's canonical bytes."""
    return hashlib.sha256(canonical_bytes(entry)).hexdigest()


def _lock_log(session: Session) -> None:
    # Appends must be serialised or two writers would chain to the same predecessor.
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.exec(text("SELECT pg_advisory_xact_lock(7261001)"))  # type: ignore[call-overload]


def append(
    *,
    session: Session,
    actor: Principal,
    action: str,
    target_type: str = "",
    target_id: str = "",
    client_addr: str = "",
    reason: str = "",
    details: dict[str, Any] | None = None,
) -> CustodyEntry:
    """Append one entry in the caller's transaction, chained to the newest entry."""
    _lock_log(session)
    last = session.exec(select(CustodyEntry).order_by(col(CustodyEntry.seq).desc())).first()
    entry = CustodyEntry(
        seq=(last.seq + 1) if last else 1,
        at=utcnow(),
        actor=actor.username,
        role=actor.role_label,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        client_addr=client_addr,
        reason=reason,
        details=details or {},
        prev_hash=last.entry_hash if last else GENESIS_HASH,
        entry_hash="",
    )
    entry.entry_hash = entry_digest(entry)
    session.add(entry)
    session.flush()
    return entry


def entries_for(*, session: Session, target_id: str) -> list[CustodyEntry]:
    """Every entry about `target_id`, oldest first."""
    stmt = (
        select(CustodyEntry)
        .where(CustodyEntry.target_id == str(target_id))
        .order_by(col(CustodyEntry.seq))
    )
    return list(session.exec(stmt))
