"""Timezone-aware UTC time: the only clock the code reads."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator
from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    """Now, in UTC, timezone-aware."""
    return datetime.now(UTC)


def video_clock(seconds: float | None) -> str:
    """A moment of a recording as a player shows it: 1:07.5 (not a time of day)."""
    # rounded to the tenth first: 59.96 s is 1:00.0, not 0:60.0
    minutes, rest = divmod(round(max(0.0, float(seconds or 0.0)), 1), 60)
    return f"{int(minutes)}:{rest:04.1f}"


def as_utc(value: datetime) -> datetime:
    """`value` as aware UTC (naive values from SQLite are taken to be UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class UtcRead(BaseModel):
    """Base of read shapes: every datetime as aware UTC (a row not yet reloaded still holds
    the offset it was given, e.g. an officer's recorded_at in -05:00)."""

    model_config = ConfigDict(from_attributes=True)

    @field_validator("*", mode="after")
    @classmethod
    def _utc(cls, value: Any) -> Any:
        return as_utc(value) if isinstance(value, datetime) else value


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp column that stores and returns aware UTC on every database.

    PostgreSQL's timestamptz keeps the instant, but SQLite keeps only the wall clock it is
    given: 10:00-05:00 was stored as 10:00 and read back as 10:00 UTC, five hours off. So
    every value is converted to UTC before it is stored, and a naive one is refused (the
    code's clock is aware: `utcnow`)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} given for a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)
