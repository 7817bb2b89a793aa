"""One row per encrypted object in the object store."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column
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
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False)
    )
    # Deleted from the store by a disposition; the row keeps the hash it had.
    disposed_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )
