"""One row per encrypted object in the object store, and one per object about to be."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column
from sqlmodel import Field, SQLModel

from bwc_custody.timeutil import UtcDateTime, utcnow


class StoredObject(SQLModel, table=True):
    """An encrypted object: its key, its wrapped data key, and its plaintext SHA-256."""

    __tablename__ = "stored_object"

    key: str = Field(primary_key=True, max_length=200)
    object_id: str = Field(index=True, unique=True, max_length=36)
    kind: str = Field(max_length=20)  # original | derivative | checkpoint
    sha256: str = Field(index=True, max_length=64)
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    ciphertext_size: int = Field(sa_column=Column(BigInteger, nullable=False))
    segment_size: int
    kek_id: str = Field(index=True, max_length=40)
    wrapped_key: str = Field(max_length=200)
    store: str = Field(max_length=20)
    # The version that holds these bytes (S3 version id; local: `sha256:` of the stored
    # file), read by every read and checked by `bwc verify`, so a newer version or a delete
    # marker written over it hides nothing. None on rows recorded before 0019.
    version: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False)
    )
    # Deleted from the store by a disposition; the row keeps the hash it had.
    disposed_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )


class PendingObject(SQLModel, table=True):
    """An object about to be published, written down (in a transaction of its own) before it
    is: a process that dies between publishing an original and recording it leaves this row,
    and the next ingest of the same content, or the worker's housekeeping, adopts the object
    instead of leaving a write-once, retention-locked orphan that nothing records.

    `sha256` and `size` are set once the content is hashed (before publishing); `context` is
    what the caller needs to finish the job (for an original: its evidence id, metadata,
    source and who sent it)."""

    __tablename__ = "pending_object"

    key: str = Field(primary_key=True, max_length=200)
    object_id: str = Field(max_length=36)
    kind: str = Field(max_length=20)
    kek_id: str = Field(max_length=40)
    wrapped_key: str = Field(max_length=200)
    segment_size: int
    sha256: str | None = Field(default=None, index=True, max_length=64)
    size: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    context: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False)
    )
