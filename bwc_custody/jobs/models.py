"""Jobs: one row per unit of long work, claimed by a worker under a lease."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import JSON, Column, Index, Text
from sqlmodel import Field, SQLModel

from bwc_custody.timeutil import UtcDateTime, UtcRead, utcnow

JobState = Literal["queued", "running", "succeeded", "failed", "cancelled"]
STATES: tuple[str, ...] = ("queued", "running", "succeeded", "failed", "cancelled")
FINAL_STATES = frozenset({"succeeded", "failed", "cancelled"})


def _ts(nullable: bool) -> Any:
    return Column(UtcDateTime(), nullable=nullable)


class Job(SQLModel, table=True):
    """A queued, running or finished job.

    A worker owns a running job while `lease_expires_at` is in the future and renews the
    lease as it works; a job whose lease ran out (its worker died) is claimable again.
    """

    __table_args__ = (Index("ix_job_state_created", "state", "created_at"),)

    id: str = Field(default_factory=lambda: str(uuid.uuid4()), primary_key=True, max_length=36)
    kind: str = Field(max_length=40, index=True)
    evidence_id: str | None = Field(default=None, foreign_key="evidence.id", index=True,
                                    max_length=36)
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    state: str = Field(default="queued", max_length=20)
    attempts: int = 0
    max_attempts: int = 3
    lease_owner: str | None = Field(default=None, max_length=200)
    lease_expires_at: datetime | None = Field(default=None, sa_column=_ts(True))
    progress: float = 0.0
    progress_detail: dict[str, Any] = Field(default_factory=dict,
                                            sa_column=Column(JSON, nullable=False))
    created_by: str = Field(max_length=120)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(False))
    started_at: datetime | None = Field(default=None, sa_column=_ts(True))
    finished_at: datetime | None = Field(default=None, sa_column=_ts(True))
    error_code: str | None = Field(default=None, max_length=60)
    error_message: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    error_details: dict[str, Any] = Field(default_factory=dict,
                                          sa_column=Column(JSON, nullable=False))
    result: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class JobRead(UtcRead):
    """A job as the API shows it."""

    id: str
    kind: str
    evidence_id: str | None
    state: str
    attempts: int
    max_attempts: int
    progress: float
    progress_detail: dict[str, Any]
    lease_owner: str | None
    lease_expires_at: datetime | None
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error_code: str | None
    error_message: str | None
    error_details: dict[str, Any]
    result: dict[str, Any]



class CancelBody(BaseModel):
    """Why a queued job is cancelled."""

    reason: str = ""
