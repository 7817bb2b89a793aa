"""A records request, the recordings it asks for, the policy decisions made on each, the
letters sent about it, and their API shapes."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from pydantic import Field as PField
from sqlalchemy import JSON, Column, Date, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from bwc_custody.timeutil import UtcDateTime, UtcRead, utcnow
from bwc_custody.vocabulary import EffectName, FormName, RequesterTypeName, StateName
from review.workflow import INITIAL

Residency = Literal["resident", "nonresident", "unknown"]
# How many recordings one request may name (an incident's officers and segments, not an
# agency's archive: a request for everything is answered as too broad, KRS 61.872(6)).
MAX_RECORDINGS = 200


def _ts(nullable: bool) -> Any:
    return Column(UtcDateTime(), nullable=nullable)


class RecordsRequest(SQLModel, table=True):
    """One request to inspect or copy recordings, as the custodian triages it.

    The requester's facts are the policy engine's inputs (policies.models.Facts) less what
    belongs to each recording (its tags and facts), which are read each time a recording is
    decided. A requester who submits through the API states them; the custodian checks them
    (a claimed relationship counts only once confirmed). The recordings asked for are linked
    by the custodian (`RequestRecording`); the request's `state` is `open` until every one is
    answered.
    """

    __tablename__ = "records_request"

    id: str = Field(default_factory=lambda: str(uuid.uuid4()), primary_key=True, max_length=36)
    description: str = Field(sa_column=Column(Text, nullable=False))
    requester_name: str = Field(max_length=200)
    requester_type: str = Field(max_length=40)
    # KRS 61.872(2)(a): the requester's statement; `unknown` until given.
    residency: str = Field(default="unknown", max_length=12)
    parent_of_depicted: bool = False  # the requester's claim at intake
    # The custodian saw the document that proves the claimed relationship (parent, victim,
    # personal representative): only then does the claim count.
    relationship_confirmed: bool = False
    relationship_confirmed_by: str | None = Field(default=None, max_length=120)
    relationship_confirmed_at: datetime | None = Field(default=None, sa_column=_ts(True))
    relationship_note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    custodial_parent: bool = False  # KRS 620.050, confirmed by the custodian
    person_tested: bool = False  # KRS 189A.100(2)(b), confirmed by the custodian
    attorney_affidavit: bool = False
    form: str = Field(max_length=20)
    received_on: date = Field(sa_column=Column(Date, nullable=False))
    deadline: date = Field(sa_column=Column(Date, nullable=False))  # KRS 61.880(1)
    state: str = Field(default=INITIAL, index=True, max_length=20)
    submitted_by: str = Field(index=True, max_length=120)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(False))
    answered_at: datetime | None = Field(default=None, sa_column=_ts(True))
    closed_at: datetime | None = Field(default=None, sa_column=_ts(True))
    closed_by: str | None = Field(default=None, max_length=120)
    close_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class RequestRecording(SQLModel, table=True):
    """One recording a request asks for: decided on its own tags, redacted, reviewed and
    released or denied on its own (its `state` is the review.workflow table's)."""

    __tablename__ = "request_recording"
    __table_args__ = (UniqueConstraint("request_id", "evidence_id"),)

    id: str = Field(default_factory=lambda: str(uuid.uuid4()), primary_key=True, max_length=36)
    request_id: str = Field(foreign_key="records_request.id", index=True, max_length=36)
    evidence_id: str = Field(foreign_key="evidence.id", index=True, max_length=36)
    position: int  # 1, 2, ... in the order linked: "recording 2 of the request"
    state: str = Field(default=INITIAL, index=True, max_length=20)
    linked_by: str = Field(max_length=120)
    linked_at: datetime = Field(default_factory=utcnow, sa_column=_ts(False))
    answered_at: datetime | None = Field(default=None, sa_column=_ts(True))
    # The custodian's own words for the letter: how the exceptions apply to this recording
    # (a denial), or what was withheld and why (a partial release).
    explanation: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    close_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class RequestDecision(SQLModel, table=True):
    """One evaluation of one recording of a request by the policy engine; the newest for the
    recording is the one in force.

    `trigger` says why it was made (`evidence_linked`, `tags_changed`, `facts_changed`),
    `tags` what the engine saw, `changed` whether the outcome differs from the one before.
    """

    __tablename__ = "request_decision"

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(foreign_key="records_request.id", index=True, max_length=36)
    item_id: str = Field(foreign_key="request_recording.id", index=True, max_length=36)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(False))
    actor: str = Field(max_length=120)
    trigger: str = Field(max_length=30)
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    effect: str = Field(max_length=40)
    rule_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    decision: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    changed: bool
    custody_seq: int


class RequestLetter(SQLModel, table=True):
    """A written communication to the requester, as the server signed it: the response
    (KRS 61.880(1)), a delay notice (61.872(5)), a request for the residency statement
    (61.872(2)(a))."""

    __tablename__ = "request_letter"

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(foreign_key="records_request.id", index=True, max_length=36)
    kind: str = Field(max_length=20)  # response | delay | residency
    statement: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    signature: str = Field(max_length=200)
    key_id: str = Field(max_length=40)
    sent_by: str = Field(max_length=120)
    sent_at: datetime = Field(default_factory=utcnow, sa_column=_ts(False))


# ---- API shapes ----------------------------------------------------------------------


class RequestCreate(BaseModel):
    """A request as received. `received_on` defaults to today (Kentucky); only a custodian
    entering a request that came by mail or email may give an earlier day, and only a
    custodian names the recordings (`evidence_ids`)."""

    model_config = ConfigDict(extra="forbid")

    description: str = PField(min_length=3, max_length=8000)
    requester_name: str = PField(min_length=1, max_length=200)
    requester_type: RequesterTypeName
    form: FormName
    residency: Residency = "unknown"
    parent_of_depicted: bool = False
    attorney_affidavit: bool = False
    received_on: date | None = None
    evidence_ids: list[str] = PField(default_factory=list, max_length=MAX_RECORDINGS)


class RecordingsLink(BaseModel):
    """The recordings a request is about, named by the custodian (found by case number,
    incident, time and place, or picked in the list)."""

    model_config = ConfigDict(extra="forbid")

    evidence_ids: list[str] = PField(min_length=1, max_length=MAX_RECORDINGS)


class FactsUpdate(BaseModel):
    """What the custodian learns or checks about the requester after intake (each given
    field is set; the recordings are decided again)."""

    model_config = ConfigDict(extra="forbid")

    residency: Residency | None = None
    # false: the claim to be the parent of a child shown is withdrawn or could not be
    # confirmed (the requester is then answered as any citizen)
    parent_of_depicted: bool | None = None
    custodial_parent: bool | None = None
    person_tested: bool | None = None
    attorney_affidavit: bool | None = None


class DecisionRead(UtcRead):
    """A decision as staff see it: effect, the rules and citations behind it, and why made."""

    id: int
    request_id: str
    item_id: str
    created_at: datetime
    actor: str
    trigger: str
    tags: list[str]
    effect: EffectName
    rule_ids: list[str]
    changed: bool
    custody_seq: int
    decision: dict[str, Any]


class LetterRead(UtcRead):
    """A letter to the requester as sent: the statement the server signed and the signature,
    verifiable with the published signing key."""

    id: int
    kind: str
    statement: dict[str, Any]
    signature: str
    key_id: str
    sent_by: str
    sent_at: datetime


class RecordingRead(UtcRead):
    """One recording of a request: where it stands and (staff only) which recording and the
    decision in force. `flows.models.RecordingView` adds the review and the release."""

    id: str
    evidence_id: str | None
    position: int
    state: StateName
    linked_at: datetime
    answered_at: datetime | None
    explanation: str | None
    close_reason: str | None
    decision: DecisionRead | None = None


class RequestRead(UtcRead):
    """A request with its requester's facts, its letters (the requester too) and its
    recordings; `flows.models.RequestView` adds each recording's review and release and the
    appeals."""

    id: str
    description: str
    requester_name: str
    requester_type: RequesterTypeName
    residency: Residency
    parent_of_depicted: bool
    relationship_confirmed: bool
    relationship_confirmed_by: str | None
    relationship_confirmed_at: datetime | None
    custodial_parent: bool
    person_tested: bool
    attorney_affidavit: bool
    form: FormName
    received_on: date
    deadline: date
    state: Literal["open", "answered", "closed"]
    submitted_by: str
    created_at: datetime
    answered_at: datetime | None
    closed_at: datetime | None
    closed_by: str | None
    close_reason: str | None
    letters: list[LetterRead] = []
