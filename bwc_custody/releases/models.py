"""A review round: one exact redacted file submitted for legal sign-off, and what became of it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from pydantic import Field as PField
from sqlalchemy import JSON, BigInteger, Column, Text
from sqlmodel import Field, SQLModel

from bwc_custody.timeutil import UtcDateTime, UtcRead, utcnow
from bwc_custody.vocabulary import EffectName

# What became of a round: signed off, sent back, voided by a changed decision, or ended by
# the request being closed while it was under review.
Outcome = Literal["approved", "returned", "voided", "withdrawn"]
# How an approved file reaches the requester: a copy they download, or an inspection at the
# agency (view_only decisions, and requests for inspection).
Delivery = Literal["copy", "inspection"]
APPROVAL_FORMAT = "bwc-release-approval/2"
RESPONSE_FORMAT = "bwc-records-response/1"
DELAY_FORMAT = "bwc-delay-notice/1"
RESIDENCY_FORMAT = "bwc-residency-request/1"
# KRS 61.880(2)(a): what a requester denied, in whole or in part, may do next, told in every
# such written response.
APPEAL_NOTICE = ("You may ask the Attorney General to review this denial (KRS 61.880(2)(a)) "
                 "by sending a copy of your request and of this response to the Office of "
                 "the Attorney General, Frankfort, Kentucky.")
INVESTIGATION_NOTICE = ("The record is withheld while the investigation is pending (KRS "
                        "61.878(1)(h)); you may ask for it again once the investigation has "
                        "ended.")


def _ts(nullable: bool) -> Any:
    return Column(UtcDateTime(), nullable=nullable)


class ReviewRound(SQLModel, table=True):
    """One submission of a derivative for one recording of a request, bound to its SHA-256
    and to the decision in force when it was submitted. A recording of a request has at most
    one round without an outcome, or one approved round not yet released; older rounds stay
    as history."""

    __tablename__ = "review_round"

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(foreign_key="records_request.id", index=True, max_length=36)
    item_id: str = Field(foreign_key="request_recording.id", index=True, max_length=36)
    derivative_id: str = Field(foreign_key="derivative.id", max_length=36)
    sha256: str = Field(max_length=64)
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    decision_id: int = Field(foreign_key="request_decision.id")
    submitted_by: str = Field(max_length=120)
    submitted_at: datetime = Field(default_factory=utcnow, sa_column=_ts(False))
    submit_seq: int  # the custody entry of the submission: a viewing counts only after it
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    outcome: str | None = Field(default=None, max_length=20)
    outcome_by: str | None = Field(default=None, max_length=120)
    outcome_at: datetime | None = Field(default=None, sa_column=_ts(True))
    outcome_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # The signed approval: the statement, the Ed25519 signature over its canonical JSON and
    # the key that made it (published at /keys/signing, kept after rotation).
    statement: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    signature: str | None = Field(default=None, max_length=200)
    key_id: str | None = Field(default=None, max_length=40)
    released_by: str | None = Field(default=None, max_length=120)
    released_at: datetime | None = Field(default=None, sa_column=_ts(True))


# ---- API shapes ----------------------------------------------------------------------


class SubmitBody(BaseModel):
    """The redacted file (a derivative of the linked recording) to put before legal review."""

    model_config = ConfigDict(extra="forbid")

    derivative_id: str = PField(min_length=1, max_length=36)
    note: str = PField(default="", max_length=4000,
                       description="For the reviewer: what was redacted and why.")


class RoundRead(UtcRead):
    """A review round as staff see it."""

    id: int
    request_id: str
    item_id: str
    derivative_id: str
    sha256: str
    size: int
    decision_id: int
    submitted_by: str
    submitted_at: datetime
    note: str | None
    outcome: str | None
    outcome_by: str | None
    outcome_at: datetime | None
    outcome_reason: str | None
    statement: dict[str, Any] | None
    signature: str | None
    key_id: str | None
    released_by: str | None
    released_at: datetime | None


class ReleaseRead(UtcRead):
    """What a requester is told once their request is released: the exact file (its hash, to
    check the copy), how it is delivered, the rules and citations it rests on, and the signed
    approval (verifiable with the published signing key)."""

    released_at: datetime
    sha256: str
    size: int
    delivery: Delivery
    effect: EffectName
    citations: list[str]
    statement: dict[str, Any]
    signature: str
    key_id: str


class AnswerBody(BaseModel):
    """The custodian's own words for the letter: how the exceptions apply to this recording
    (required for a denial, and for a release that withholds a part)."""

    model_config = ConfigDict(extra="forbid")

    explanation: str = PField(default="", max_length=8000)


class DelayNoticeBody(BaseModel):
    """A KRS 61.872(5) notice that the records are not available within the five days: the
    place, time and earliest date they will be, and the detailed reason."""

    model_config = ConfigDict(extra="forbid")

    place: str = PField(min_length=1, max_length=500)
    time: str = PField(min_length=1, max_length=200)
    earliest_date: date
    reason: str = PField(min_length=1, max_length=8000)
