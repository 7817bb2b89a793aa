"""Holds on evidence, and how the retention of one recording stands."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic import Field as PField
from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from bwc_custody.evidence.models import CASE_NUMBER_MAX
from bwc_custody.timeutil import UtcDateTime, UtcRead, utcnow

# The schedule (◐ in LEGAL.md: the series is KDLA's model BWC schedule as the KLC policy
# cites it; counsel should confirm it is the one the agency adopted).
SCHEDULE_RULE = "retention.kdla_l6707"
SCHEDULE_CITATION = ("KDLA Records Retention Schedule, series L6707 (body-worn camera "
                     "recordings, non-evidentiary): destroy after the retention period; "
                     "hold while an investigation, litigation or open-records request is "
                     "pending")
# A response that withheld a recording may be appealed to the Attorney General; the Act sets
# no time limit for that (KRS 61.880(2)(a)), so how long to keep the recording is counsel's
# call: BWC_APPEAL_WINDOW_DAYS (default 60), needs_counsel_review.
POSSIBLE_APPEAL_RULE = "retention.possible_appeal"
POSSIBLE_APPEAL_CITATION = ("KRS 61.880(2)(a) (a requester denied may appeal to the Attorney "
                            "General); KDLA series L6707 (hold while an open-records request "
                            "is pending); the period is counsel's: needs_counsel_review")
EVIDENTIARY_RULE = "retention.evidentiary"
EVIDENTIARY_CITATION = ("KDLA series L6707: an evidentiary recording is kept with its case "
                        "file until all legal activity ends")


class HoldKind(StrEnum):
    """Why a recording is held past its schedule."""

    investigation = "investigation"
    litigation = "litigation"
    records_request = "records_request"  # one not (yet) entered as a request here
    other = "other"


class RetentionHold(SQLModel, table=True):
    """A hold placed on one recording: it is not destroyed while the hold stands."""

    __tablename__ = "retention_hold"

    id: int | None = Field(default=None, primary_key=True)
    evidence_id: str = Field(foreign_key="evidence.id", index=True, max_length=36)
    kind: str = Field(max_length=20)
    reference: str = Field(default="", max_length=200)  # case, court or request number
    reason: str = Field(sa_column=Column(Text, nullable=False))
    placed_by: str = Field(max_length=120)
    placed_at: datetime = Field(default_factory=utcnow,
                                sa_column=Column(UtcDateTime(), nullable=False))
    placed_seq: int  # the custody entry that placed it
    lifted_by: str | None = Field(default=None, max_length=120)
    lifted_at: datetime | None = Field(default=None,
                                       sa_column=Column(UtcDateTime(), nullable=True))
    lift_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class CaseClosure(SQLModel, table=True):
    """A record that all legal activity in a case has ended: its recordings, evidentiary
    until then, fall under the schedule from that day."""

    __tablename__ = "case_closure"

    id: int | None = Field(default=None, primary_key=True)
    case_number: str = Field(index=True, unique=True, max_length=120)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    closed_by: str = Field(max_length=120)
    closed_at: datetime = Field(default_factory=utcnow,
                                sa_column=Column(UtcDateTime(), nullable=False))
    closed_seq: int  # the custody entry that recorded it


class CaseClose(BaseModel):
    """The case whose legal activity has ended, and how that is known (written)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    case_number: str = PField(min_length=1, max_length=CASE_NUMBER_MAX)
    reason: str = PField(default="", max_length=4000)


class CaseClosureRead(UtcRead):
    """A case closure as the API shows it."""

    case_number: str
    reason: str
    closed_by: str
    closed_at: datetime


class HoldCreate(BaseModel):
    """A hold to place: its kind, what it refers to, and why (written)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: HoldKind
    reference: str = PField(default="", max_length=200)
    reason: str = PField(default="", max_length=4000)
    # An investigation hold keeps the bytes; whether the investigation also withholds the
    # recording is the `investigation_open` tag, set in the same step when asked for
    # (custodian only, like any tag): see flows.tagging.place_hold.
    tag_investigation_open: bool = False

    @model_validator(mode="after")
    def _tag_only_for_investigations(self) -> HoldCreate:
        if self.tag_investigation_open and self.kind != HoldKind.investigation:
            raise ValueError("tag_investigation_open goes with an investigation hold only")
        return self


class HoldRead(UtcRead):
    """A hold as the API shows it (lifted ones too)."""

    id: int
    evidence_id: str
    kind: str
    reference: str
    reason: str
    placed_by: str
    placed_at: datetime
    lifted_by: str | None
    lifted_at: datetime | None
    lift_reason: str | None


BlockerCode = Literal["evidentiary", "retention_period", "hold", "records_request",
                      "appeal", "investigation_open",
                      "appeal_possible"]


class Blocker(BaseModel):
    """One thing that keeps a recording from being destroyed now, with its rule."""

    code: BlockerCode
    detail: str
    rule: str
    citation: str


class RetentionRead(UtcRead):
    """How the retention of one recording stands: due for destruction only with no blocker."""

    evidence_id: str
    category: Literal["non_evidentiary", "evidentiary"]
    rule: str
    citation: str
    retention_days: int
    retain_until: datetime | None  # None: evidentiary, kept until legal activity ends
    case_closed_at: datetime | None = None  # evidentiary: when its case's activity ended
    due: bool
    blockers: list[Blocker]
    holds: list[HoldRead]
    disposed_at: datetime | None
    disposed_by: str | None
