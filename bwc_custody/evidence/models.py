"""Evidence items and the dock metadata that comes with them."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator
from pydantic import Field as PField
from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from bwc_custody.evidence.errors import InvalidMetadata
from bwc_custody.timeutil import UtcDateTime, UtcRead, utcnow

# A case number is also the target of a custody entry (closing its case), which holds 80.
CASE_NUMBER_MAX = 80


class DockMetadata(BaseModel):
    """What a dock or officer says about a recording; strict, so typos are errors."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    officer_id: str | None = PField(default=None, max_length=120)
    device_serial: str | None = PField(default=None, max_length=120)
    recorded_at: datetime | None = None
    campus: str | None = PField(default=None, max_length=200)
    case_number: str | None = PField(default=None, max_length=CASE_NUMBER_MAX)
    category: str | None = PField(default=None, max_length=500)
    involves_juvenile: bool | None = None
    incident_type: str | None = PField(default=None, max_length=120)
    filename: str | None = PField(default=None, max_length=500)
    # Vendor fields a dock wants kept, verbatim.
    extra: dict[str, Any] = PField(default_factory=dict)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # Refused here, before the file is stored, not by the database after it is.
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("text holds a NUL character (U+0000)")
        return value

    @model_validator(mode="after")
    def _storable(self) -> Self:
        # Refused before the file is stored: NaN or Infinity (JSON has neither; 1e400 parses
        # as Infinity) and lone UTF-16 surrogates were stored by nothing downstream (a 500
        # after the original was published, and every retry then met the published object).
        try:
            # python mode: JSON mode would quietly turn NaN into null
            json.dumps(self.model_dump(), allow_nan=False, ensure_ascii=False,
                       default=str).encode("utf-8")
        except ValueError as exc:  # UnicodeEncodeError is a ValueError
            why = ("a lone surrogate (half of a UTF-16 pair)" if isinstance(
                exc, UnicodeEncodeError) else "NaN or Infinity")
            raise ValueError(f"metadata holds {why}, which JSON cannot carry") from None
        return self

    @field_validator("recorded_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("recorded_at needs a timezone offset (e.g. 2026-03-01T10:00:00-05:00)")
        return value


def parse_metadata(data: dict[str, Any]) -> DockMetadata:
    """A dock's or officer's metadata, or InvalidMetadata naming each problem and listing
    the keys a sidecar may use (the values given are not echoed back)."""
    try:
        return DockMetadata.model_validate(data)
    except ValidationError as exc:
        raise InvalidMetadata(
            "metadata is not valid: " + "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'metadata'}: {e['msg']}"
                for e in exc.errors()),
            errors=exc.errors(include_url=False, include_context=False, include_input=False),
            accepted=sorted(DockMetadata.model_fields)) from None


class Evidence(SQLModel, table=True):
    """One original recording, ingested once, stored encrypted and write-once."""

    id: str = Field(primary_key=True, max_length=36)
    object_key: str = Field(foreign_key="stored_object.key", unique=True, max_length=200)
    sha256: str = Field(index=True, unique=True, max_length=64)
    size: int
    received_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False)
    )
    ingested_by: str = Field(max_length=120)
    source: str = Field(max_length=20)  # cli | upload
    officer_id: str | None = Field(default=None, index=True, max_length=120)
    device_serial: str | None = Field(default=None, max_length=120)
    recorded_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )
    campus: str | None = Field(default=None, max_length=200)
    case_number: str | None = Field(default=None, index=True, max_length=120)
    category: str | None = Field(default=None, max_length=500)
    involves_juvenile: bool | None = None
    incident_type: str | None = Field(default=None, max_length=120)
    filename: str | None = Field(default=None, max_length=500)
    extra: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # ffprobe's view: "video" when a decodable video stream was found, else "undecodable".
    media_status: str = Field(default="unknown", max_length=20)
    media_error: str | None = None
    media: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # Set when the recording is destroyed under its schedule (retention.service.dispose):
    # the row stays, so its hash and custody history outlive the bytes.
    disposed_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )
    disposed_by: str | None = Field(default=None, max_length=120)


class Receipt(UtcRead):
    """What the server signs when it takes custody of an upload."""

    evidence_id: str
    sha256: str
    size: int
    received_at: datetime
    duplicate: bool = False
    key_id: str
    signature: str = ""

    def signed_bytes(self) -> bytes:
        """The canonical bytes the signature covers."""
        body = f"bwc-receipt-v1\n{self.evidence_id}\n{self.sha256}\n{self.size}\n"
        return (body + self.received_at.isoformat()).encode()


class EvidenceRead(UtcRead):
    """Evidence as the API shows it."""

    id: str
    sha256: str
    size: int
    received_at: datetime
    ingested_by: str
    source: str
    officer_id: str | None
    device_serial: str | None
    recorded_at: datetime | None
    campus: str | None
    case_number: str | None
    category: str | None
    involves_juvenile: bool | None
    incident_type: str | None
    filename: str | None
    media_status: str
    media_error: str | None
    media: dict[str, Any]
    disposed_at: datetime | None = None
