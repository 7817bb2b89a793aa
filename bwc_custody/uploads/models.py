"""A resumable upload in progress, staged encrypted until it is finalised."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column
from sqlmodel import Field, SQLModel

from bwc_custody.timeutil import UtcDateTime, utcnow


class Upload(SQLModel, table=True):
    """One tus upload; its id is also the object id bound into its ciphertext."""

    id: str = Field(primary_key=True, max_length=36)
    length: int = Field(sa_column=Column(BigInteger, nullable=False))
    offset: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    # open -> complete (all bytes in) -> finalized (in custody) | rejected | terminated
    status: str = Field(default="open", index=True, max_length=20)
    created_by: str = Field(index=True, max_length=120)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False)
    )
    upload_metadata: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    kek_id: str = Field(max_length=40)
    wrapped_key: str = Field(max_length=200)
    segment_size: int
    sha256: str | None = Field(default=None, max_length=64)
    evidence_id: str | None = Field(default=None, max_length=36)
    receipt: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
