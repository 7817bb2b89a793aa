"""Custody log entries: append-only and hash-chained."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from bwc_custody.timeutil import UtcDateTime, UtcRead, utcnow


class CustodyEntry(SQLModel, table=True):
    """One event that touched evidence or a decision; `entry_hash` chains to the previous."""

    __tablename__ = "custody_entry"
    # one person's entries newest first (the auditor's filter; migration 0027)
    __table_args__ = (Index("ix_custody_entry_actor_seq", "actor", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    seq: int = Field(index=True, unique=True)
    at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False, index=True)
    )
    actor: str = Field(max_length=200)
    role: str = Field(default="", max_length=200)
    action: str = Field(index=True, max_length=80)
    target_type: str = Field(default="", max_length=40)
    target_id: str = Field(default="", index=True, max_length=80)
    client_addr: str = Field(default="", max_length=80)
    reason: str = Field(default="")
    details: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))  # type: ignore[type-arg]
    prev_hash: str = Field(max_length=64)
    entry_hash: str = Field(max_length=64)


class Checkpoint(SQLModel, table=True):
    """A signed Merkle root over the first `tree_size` entries (RFC 6962 hashing)."""

    __tablename__ = "custody_checkpoint"

    id: int | None = Field(default=None, primary_key=True)
    # 1, 2, 3...: also names the WORM copy in the object store, so a deleted row shows.
    index: int = Field(index=True, unique=True)
    tree_size: int = Field(index=True, unique=True)
    root_hash: str = Field(max_length=64)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False)
    )
    key_id: str = Field(max_length=40)
    signature: str = Field(max_length=200)
    object_key: str = Field(max_length=200)
    # The version of the WORM copy this checkpoint wrote (S3 version id; local: `sha256:` of
    # the file): verify reads exactly it, and names a delete marker or a newer version over
    # it. None on checkpoints made before 0019.
    object_version: str | None = Field(default=None, max_length=200)
    # The tree's perfect-subtree roots (hex, largest first): the next checkpoint extends
    # them with the new entries only (after checking they fold to this signed root).
    frontier: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class CheckpointTimestamp(SQLModel, table=True):
    """An RFC 3161 timestamp of one checkpoint, asked for after the checkpoint committed (a
    TSA that is down delays this row, never the checkpoint). Append-only like the log."""

    __tablename__ = "checkpoint_timestamp"

    id: int | None = Field(default=None, primary_key=True)
    checkpoint_index: int = Field(index=True, unique=True)
    # The token exactly as the TSA sent it (DER TimeStampResp), WORM beside the checkpoint.
    object_key: str = Field(max_length=200)
    object_version: str | None = Field(default=None, max_length=200)
    token_sha256: str = Field(max_length=64)
    tsa_url: str = Field(max_length=500)
    tsa_name: str = Field(max_length=500)
    gen_time: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    # a TSA's serial is up to 160 bits: more than a BIGINT holds
    serial: str = Field(max_length=60)
    recorded_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False)
    )


class CheckpointPublication(SQLModel, table=True):
    """A checkpoint head accepted by a witness or transparency log (BWC_WITNESS_URL), as a
    signed tlog-checkpoint note. Append-only; only the newest head is sent (it covers the
    older ones)."""

    __tablename__ = "checkpoint_publication"
    __table_args__ = (UniqueConstraint("checkpoint_index", "witness_url",
                                       name="uq_checkpoint_publication"),)

    id: int | None = Field(default=None, primary_key=True)
    checkpoint_index: int = Field(index=True)
    witness_url: str = Field(max_length=500)
    note_sha256: str = Field(max_length=64)
    status_code: int
    published_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False)
    )
    # The witness's answer to add-checkpoint: its cosignature line(s) on this head (C2SP
    # tlog-cosignature); NULL on rows from before the tlog-witness protocol (0028).
    cosignature: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))


class EntryRead(UtcRead):
    """A custody entry as read: `at` as aware UTC, so that anyone holding the entry can
    recompute `entry_hash` (`service.canonical_bytes` hashes `at` in UTC)."""

    seq: int
    at: datetime
    actor: str
    role: str
    action: str
    target_type: str
    target_id: str
    client_addr: str
    reason: str
    details: dict[str, Any]
    prev_hash: str
    entry_hash: str
