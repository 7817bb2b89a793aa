"""A review round: one exact redacted file submitted for legal sign-off, and what became of it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from pydantic import Field as PField
from sqlalchemy import JSON, BigInteger, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from bwc_custody.timeutil import UtcDateTime, UtcRead, utcnow
from bwc_custody.vocabulary import EffectName

# What became of a round: signed off, sent back, voided by a changed decision, or ended by
# the request being closed while it was under review.
Outcome = Literal["approved", "returned", "voided", "withdrawn"]
# How an approved file reaches the requester: a copy they download, or an inspection at the
# agency (view_only decisions, and requests for inspection).
Delivery = Literal["copy", "inspection"]
# /3 adds `coverage` (what the reviewer watched, the speed policy, any attestation); an
# approval signed as /2 before that still verifies.
APPROVAL_FORMAT = "bwc-release-approval/3"
APPROVAL_FORMATS = frozenset({"bwc-release-approval/2", APPROVAL_FORMAT})
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


class ReviewCoverage(SQLModel, table=True):
    """What one legal reviewer's player reported playing of the file of one review round:
    the played ranges merged per speed class (`review.coverage.RATE_CLASSES`), and the
    playing time those ranges claim, checked against the time since the reviewer began
    streaming the file. Another reviewer's coverage never counts for them."""

    __tablename__ = "review_coverage"
    __table_args__ = (UniqueConstraint("round_id", "reviewer"),)

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="review_round.id", index=True)
    reviewer: str = Field(max_length=120)
    derivative_id: str = Field(foreign_key="derivative.id", max_length=36)
    sha256: str = Field(max_length=64)
    # {"full": [[start, end], ...], "skim": [...], "fast": [...]}, seconds, merged
    played: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    played_for_s: float = 0.0  # seconds of playing the reported ranges took at their rates
    reports: int = 0
    first_at: datetime = Field(default_factory=utcnow, sa_column=_ts(False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts(False))


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


class PlayedRange(BaseModel):
    """A range the player played, in seconds of the file, at one playback rate."""

    model_config = ConfigDict(extra="forbid")

    start: float = PField(allow_inf_nan=False)
    end: float = PField(allow_inf_nan=False)
    rate: float = PField(default=1.0, gt=0, le=16, allow_inf_nan=False,
                         description="The playbackRate it was played at: up to 1 counts "
                                     "everywhere, up to 2 outside flagged ranges, faster "
                                     "for nothing.")


class CoverageReport(BaseModel):
    """Ranges of the file under review the reviewer's player played since its last report
    (HTMLMediaElement.played with the playbackRate of each)."""

    model_config = ConfigDict(extra="forbid")

    ranges: list[PlayedRange] = PField(min_length=1, max_length=500)


class CoverageSpan(BaseModel):
    """A stretch of the file, in seconds."""

    start: float
    end: float


class FlagCoverage(BaseModel):
    """One flagged (low-confidence) range, the span with its margin that must be watched at
    normal speed, and what of it is still unwatched."""

    start: float
    end: float
    reason: str
    span: CoverageSpan
    unwatched: list[CoverageSpan]
    watched: bool


class CoverageRead(BaseModel):
    """What one reviewer has watched of the file under review, and what is still missing
    before they can sign it off (`complete`), under the speed policy in `policy`."""

    round_id: int
    reviewer: str
    derivative_id: str
    sha256: str
    duration_s: float | None
    covered: list[CoverageSpan]
    covered_at_normal_speed: list[CoverageSpan]
    played_too_fast: list[CoverageSpan]
    uncovered: list[CoverageSpan]
    covered_s: float
    uncovered_s: float
    flagged: list[FlagCoverage]
    whole_file: bool
    flags_watched: bool
    complete: bool
    flagged_s: float  # of the file inside flagged spans: played at normal speed only
    least_watch_s: float | None  # a whole review's least playing time (None: length unknown)
    watch_left_s: float | None  # the least playing time left before `complete`
    flagged_left_s: float  # of it, flagged footage: at normal speed, no attestation excuses
    rest_left_s: float  # unwatched footage outside flagged spans: at up to 2x, or attested
    policy: dict[str, Any]


class ApproveBody(BaseModel):
    """The written basis of a sign-off and, when the reviewer has not watched the whole file,
    why the rest need not be watched (flagged ranges must be watched regardless)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = PField(default="", max_length=4000)
    attestation: str = PField(default="", max_length=4000)


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
