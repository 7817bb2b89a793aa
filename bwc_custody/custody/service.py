"""Append to the custody log; Merkle roots, signed checkpoints, inclusion/consistency proofs."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, text
from sqlmodel import Session, col, select

from bwc_custody.auth.service import Principal
from bwc_custody.custody import merkle
from bwc_custody.custody.errors import CheckpointNotFound, EntryNotFound, ProofUnavailable
from bwc_custody.custody.models import Checkpoint, CustodyEntry
from bwc_custody.errors import InvalidInput
from bwc_custody.timeutil import as_utc, utcnow
from storage.errors import ObjectExists, ObjectMissing
from storage.keys import Signer
from storage.objectstore import ObjectLock, ObjectStore

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
    text_ = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    try:
        return text_.encode()
    except UnicodeEncodeError:
        # a lone surrogate ("\ud800") is not Unicode text: the entry's bytes, and so its
        # hash, would not exist in UTF-8 (the database refuses such text the same way)
        raise InvalidInput("a custody entry holds a lone surrogate (U+D800-U+DFFF), which "
                           "is not Unicode text", action=entry.action) from None


def entry_digest(entry: CustodyEntry) -> str:
    """SHA-256 (hex) of the entry's canonical bytes."""
    return hashlib.sha256(canonical_bytes(entry)).hexdigest()


def lock_log(session: Session) -> None:
    """Take the log's write lock until the transaction ends (taken by every append)."""
    # Appends must be serialised or two writers would chain to the same predecessor.
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.exec(text("SELECT pg_advisory_xact_lock(7261001)"))  # type: ignore[call-overload]
    elif bind.dialect.name == "sqlite":
        # A write statement that touches no row takes SQLite's write lock now (waiting up
        # to the busy timeout), as BEGIN IMMEDIATE would, before the newest entry is read.
        session.exec(text("DELETE FROM custody_entry WHERE 0"))  # type: ignore[call-overload]


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
    lock_log(session)
    # LIMIT 1: without it the ORM loads every entry to return the first (O(log) per append)
    last = session.exec(select(CustodyEntry).order_by(col(CustodyEntry.seq).desc())
                        .limit(1)).first()
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


def all_entries(*, session: Session) -> list[CustodyEntry]:
    """The whole log, in sequence order."""
    return list(session.exec(select(CustodyEntry).order_by(col(CustodyEntry.seq))))


def get_entry_or_raise(*, session: Session, seq: int) -> CustodyEntry:
    """The entry with sequence number `seq`."""
    entry = session.exec(select(CustodyEntry).where(CustodyEntry.seq == seq)).first()
    if entry is None:
        raise EntryNotFound(f"no custody entry {seq}", seq=seq)
    return entry


def log_size(*, session: Session) -> int:
    """The number of entries in the log."""
    return int(session.exec(select(func.count()).select_from(CustodyEntry)).one())


def leaf_of(entry: CustodyEntry) -> bytes:
    """The entry's Merkle leaf hash, from its content (never from its stored hash)."""
    return merkle.leaf_hash(canonical_bytes(entry))


def leaves(*, session: Session, size: int | None = None) -> list[bytes]:
    """Leaf hashes of the first `size` entries (all when None), in sequence order."""
    stmt = select(CustodyEntry).order_by(col(CustodyEntry.seq))
    if size is not None:
        stmt = stmt.limit(size)
    return [leaf_of(e) for e in session.exec(stmt)]


# ---- checkpoints ---------------------------------------------------------------------

CHECKPOINT_FORMAT = "bwc-checkpoint-v1"
# Checkpoints outlive any one recording: the log is kept at least a year (CJIS 5.4.7) and
# evidentiary custody for as long as the case; ten years of WORM retention covers both.
CHECKPOINT_RETENTION = timedelta(days=3650)


_CHECKPOINT_KEY = re.compile(r"checkpoints/\d{8}\.json")


def checkpoint_key(index: int) -> str:
    """Object-store key of checkpoint number `index` (sequential, so gaps can be probed)."""
    return f"checkpoints/{index:08d}.json"


def is_checkpoint_key(key: str) -> bool:
    """True for a key `checkpoint_key` makes."""
    return _CHECKPOINT_KEY.fullmatch(key) is not None


def checkpoint_signed_bytes(
    *, index: int, tree_size: int, root_hash: str, created_at: str
) -> bytes:
    """The exact bytes a checkpoint signature covers."""
    return f"{CHECKPOINT_FORMAT}\n{index}\n{tree_size}\n{root_hash}\n{created_at}\n".encode()


def checkpoint_document(cp: Checkpoint) -> dict[str, Any]:
    """The checkpoint as the JSON kept in the object store and handed to verifiers."""
    return {
        "format": CHECKPOINT_FORMAT,
        "index": cp.index,
        "tree_size": cp.tree_size,
        "root_hash": cp.root_hash,
        "created_at": as_utc(cp.created_at).isoformat(),
        "key_id": cp.key_id,
        "signature": cp.signature,
    }


def document_signed_bytes(doc: dict[str, Any]) -> bytes:
    """Signed bytes of a checkpoint document."""
    return checkpoint_signed_bytes(
        index=int(doc["index"]), tree_size=int(doc["tree_size"]),
        root_hash=str(doc["root_hash"]), created_at=str(doc["created_at"]),
    )


def signature_valid(*, signer: Signer, doc: dict[str, Any]) -> bool:
    """True when the document carries a valid signature of the server's current key or of a
    key it retired (checkpoints signed before a rotation stay verifiable)."""
    from cryptography.exceptions import InvalidSignature

    public = signer.public_key_for(str(doc.get("key_id", "")))
    if public is None:
        return False
    try:
        public.verify(base64.b64decode(doc["signature"]), document_signed_bytes(doc))
    except (InvalidSignature, ValueError, KeyError):
        return False
    return True


def latest_checkpoint(*, session: Session) -> Checkpoint | None:
    """The newest checkpoint, if any."""
    return session.exec(select(Checkpoint).order_by(col(Checkpoint.index).desc())
                        .limit(1)).first()


def list_checkpoints(*, session: Session) -> list[Checkpoint]:
    """Every checkpoint, oldest first."""
    return list(session.exec(select(Checkpoint).order_by(col(Checkpoint.index))))


def get_checkpoint_or_raise(*, session: Session, tree_size: int) -> Checkpoint:
    """The checkpoint over exactly `tree_size` entries."""
    cp = session.exec(select(Checkpoint).where(Checkpoint.tree_size == tree_size)).first()
    if cp is None:
        raise CheckpointNotFound(f"no checkpoint of size {tree_size}", tree_size=tree_size)
    return cp


def _tree_after(session: Session, last: Checkpoint | None) -> merkle.Frontier:
    """The Merkle tree over the whole log: the last checkpoint's frontier extended with the
    entries after it (the whole log hashed again when that frontier is missing or does not
    fold to the root it signed)."""
    tree: merkle.Frontier | None = None
    if last is not None and last.frontier is not None:
        try:
            tree = merkle.Frontier(last.tree_size, [bytes.fromhex(h) for h in last.frontier])
        except ValueError:
            tree = None
        if tree is not None and tree.root().hex() != last.root_hash:
            tree = None
    tree = tree or merkle.Frontier()
    stmt = select(CustodyEntry).order_by(col(CustodyEntry.seq)).offset(tree.size)
    for entry in session.exec(stmt):
        tree.append(leaf_of(entry))
    return tree


def create_checkpoint(*, session: Session, signer: Signer, store: ObjectStore) -> Checkpoint:
    """Sign the root over every entry so far, keep it in the DB and (WORM) in the store.

    Only the entries since the last checkpoint are hashed (its frontier holds the rest).
    Returns the newest checkpoint unchanged when no entry was appended since. The caller
    commits straight after: the store copy is written before the row, which records the
    version the store gave it.
    """
    lock_log(session)
    last = latest_checkpoint(session=session)
    size = log_size(session=session)
    if size == 0 or (last is not None and last.tree_size == size):
        if last is None:
            raise ProofUnavailable("the custody log is empty; nothing to checkpoint")
        return last
    tree = _tree_after(session, last)
    index = (last.index + 1) if last else 1
    created_at = utcnow().replace(microsecond=0)
    root_hex = tree.root().hex()
    signature = signer.sign(checkpoint_signed_bytes(
        index=index, tree_size=tree.size, root_hash=root_hex, created_at=created_at.isoformat()
    ))
    cp = Checkpoint(index=index, tree_size=tree.size, root_hash=root_hex, created_at=created_at,
                    key_id=signer.key_id, signature=signature, object_key=checkpoint_key(index),
                    frontier=[h.hex() for h in tree.hashes])
    body = json.dumps(checkpoint_document(cp), indent=2, sort_keys=True).encode()
    lock = ObjectLock(mode="COMPLIANCE", retain_until=utcnow() + CHECKPOINT_RETENTION)
    try:
        with store.writer(cp.object_key, lock=lock) as writer:
            writer.write(body)
            writer.commit()
    except ObjectExists:
        raise ObjectExists(
            f"the object store already holds {cp.object_key} but the database has no such "
            "checkpoint; run `bwc verify` before checkpointing again", key=cp.object_key,
        ) from None
    cp.object_version = writer.version
    session.add(cp)
    session.flush()
    return cp


def checkpoint_index(key: str) -> int:
    """The number of the checkpoint stored under `key` (a `checkpoint_key`)."""
    return int(key.rsplit("/", 1)[-1].split(".", 1)[0])


def read_stored_checkpoint(*, store: ObjectStore, index: int,
                           version: str | None = None) -> dict[str, Any] | None:
    """The WORM copy of checkpoint `index` (that version of it, when given: found behind a
    delete marker or a newer version too), or None when the store has none. A copy that is
    not a JSON object reads as {} (it then matches no signed document)."""
    try:
        body = b"".join(store.iter_bytes(checkpoint_key(index), version=version))
    except ObjectMissing:
        return None
    try:
        doc = json.loads(body)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


# ---- proofs --------------------------------------------------------------------------


@dataclass(frozen=True)
class InclusionProof:
    """Leaf `leaf_index` (entry seq - 1) is in the tree of `tree_size` with `root_hash`."""

    seq: int
    leaf_index: int
    tree_size: int
    leaf_hash: str
    root_hash: str
    path: list[str]


@dataclass(frozen=True)
class ConsistencyProof:
    """The tree of size `first` is a prefix of the tree of size `second`."""

    first: int
    second: int
    first_root: str
    second_root: str
    path: list[str]


def inclusion_proof(*, session: Session, seq: int, tree_size: int | None = None) -> InclusionProof:
    """An audit path for entry `seq` in the tree of `tree_size` (default: the newest checkpoint)."""
    get_entry_or_raise(session=session, seq=seq)
    if tree_size is None:
        last = latest_checkpoint(session=session)
        tree_size = last.tree_size if last else log_size(session=session)
    tree = leaves(session=session, size=tree_size)
    if len(tree) < tree_size or not 0 < seq <= tree_size:
        raise ProofUnavailable(f"entry {seq} is not within a tree of size {tree_size}",
                               seq=seq, tree_size=tree_size)
    index = seq - 1
    return InclusionProof(
        seq=seq, leaf_index=index, tree_size=tree_size, leaf_hash=tree[index].hex(),
        root_hash=merkle.root(tree).hex(),
        path=[h.hex() for h in merkle.inclusion_proof(index, tree)],
    )


def _frontier_at(session: Session, size: int) -> merkle.Frontier | None:
    """The frontier a checkpoint of exactly `size` entries signed, when it kept one that
    still folds to its signed root (None otherwise)."""
    cp = session.exec(select(Checkpoint).where(Checkpoint.tree_size == size).limit(1)).first()
    if cp is None or cp.frontier is None:
        return None
    try:
        tree = merkle.Frontier(cp.tree_size, [bytes.fromhex(h) for h in cp.frontier])
    except ValueError:
        return None
    return tree if tree.root().hex() == cp.root_hash else None


def consistency_proof(*, session: Session, first: int, second: int) -> ConsistencyProof:
    """A proof that the log of `first` entries is a prefix of the log of `second` entries.
    From a checkpoint's size (what a witness or an auditor holds), only the entries after it
    are read and hashed, its frontier standing for the rest; otherwise the whole log."""
    start = _frontier_at(session, first) if 0 < first <= second else None
    if start is not None:
        stmt = (select(CustodyEntry).order_by(col(CustodyEntry.seq)).offset(first)
                .limit(second - first))
        later = [leaf_of(e) for e in session.exec(stmt)]
        if len(later) == second - first:
            end = merkle.Frontier(start.size, start.hashes)
            for leaf in later:
                end.append(leaf)
            return ConsistencyProof(
                first=first, second=second, first_root=start.root().hex(),
                second_root=end.root().hex(),
                path=[h.hex() for h in merkle.consistency_proof_from(start, later)])
    tree = leaves(session=session, size=second)
    if len(tree) < second or not 0 < first <= second:
        raise ProofUnavailable(f"no consistency proof from {first} to {second}",
                               first=first, second=second)
    return ConsistencyProof(
        first=first, second=second, first_root=merkle.root(tree[:first]).hex(),
        second_root=merkle.root(tree).hex(),
        path=[h.hex() for h in merkle.consistency_proof(first, tree)],
    )


def entries_after(*, session: Session, after_seq: int = 0, limit: int = 100) -> list[CustodyEntry]:
    """Up to `limit` entries after `after_seq`, in order."""
    stmt = (select(CustodyEntry).where(CustodyEntry.seq > after_seq)
            .order_by(col(CustodyEntry.seq)).limit(limit))
    return list(session.exec(stmt))
