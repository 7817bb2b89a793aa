"""A records request, the policy decisions made on it, and their API shapes."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic import Field as PField
from sqlalchemy import JSON, Column, Date, Text
from sqlmodel import Field, SQLModel

from bwc_custody.timeutil import UtcDateTime, UtcRead, utcnow
from bwc_custody.vocabulary import EffectName, FormName, RequesterTypeName, StateName
from review.workflow import INITIAL


def _ts(nullable: bool) -> Any:
    return Column(UtcDateTime(), nullable=nullable)


class RecordsRequest(SQLModel, table=True):
    """One request to inspect or copy a recording, as the custodian triages it.

    The requester's facts are the policy engine's inputs (policies.models.Facts) less the
    tags, which are read from the evidence each time the decision is made. A requester who
    submits through the API states them; the custodian checks them. `evidence_id` stays
    empty until the custodian links the recording asked for.
    """

    __tablename__ = "records_request"

    id: str = Field(default_factory=lambda: str(uuid.uuid4()), primary_key=True, max_length=36)
    evidence_id: str | None = Field(default=None, foreign_key="evidence.id", index=True,
                                    max_length=36)
    description: str = Field(sa_column=Column(Text, nullable=False))
    requester_name: str = Field(max_length=200)
    requester_type: str = Field(max_length=40)
    ky_resident: bool = False
    parent_of_depicted: bool = False
    attorney_affidavit: bool = False
    form: str = Field(max_length=20)
    received_on: date = Field(sa_column=Column(Date, nullable=False))
    deadline: date = Field(sa_column=Column(Date, nullable=False))  # KRS 61.880(1)
    state: str = Field(default=INITIAL, index=True, max_length=20)
    submitted_by: str = Field(index=True, max_length=120)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(False))
    closed_at: datetime | None = Field(default=None, sa_column=_ts(True))
    closed_by: str | None = Field(default=None, max_length=120)
    close_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # The written denial (KRS 61.880(1)): the statement the server signed, and its key.
    response: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    response_signature: str | None = Field(default=None, max_length=200)
    response_key_id: str | None = Field(default=None, max_length=40)


class RequestDecision(SQLModel, table=True):
    """One evaluation of a request by the policy engine; the newest is the one in force.

    `trigger` says why it was made (`evidence_linked`, `tags_changed`), `tags` what the
    engine saw, `changed` whether the outcome differs from the decision before it.
    """

    __tablename__ = "request_decision"

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(foreign_key="records_request.id", index=True, max_length=36)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(False))
    actor: str = Field(max_length=120)
    trigger: str = Field(max_length=30)
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    effect: str = Field(max_length=40)
    rule_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    decision: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    changed: bool
    custody_seq: int


# ---- API shapes ----------------------------------------------------------------------


class RequestCreate(BaseModel):
    """A request as received. `received_on` defaults to today (Kentucky); only a custodian
    entering a request that came by mail or email may give an earlier day, and only a
    custodian may name the evidence."""

    model_config = ConfigDict(extra="forbid")

    description: str = PField(min_length=3, max_length=8000)
    requester_name: str = PField(min_length=1, max_length=200)
    requester_type: RequesterTypeName
    form: FormName
    ky_resident: bool = False
    parent_of_depicted: bool = False
    attorney_affidavit: bool = False
    received_on: date | None = None
    evidence_id: str | None = None


class EvidenceLink(BaseModel):
    """The recording a request is about, named by the custodian."""

    model_config = ConfigDict(extra="forbid")

    evidence_id: str = PField(min_length=1, max_length=36)


class DecisionRead(UtcRead):
    """A decision as staff see it: effect, the rules and citations behind it, and why made."""

    id: int
    request_id: str
    created_at: datetime
    actor: str
    trigger: str
    tags: list[str]
    effect: EffectName
    rule_ids: list[str]
    changed: bool
    custody_seq: int
    decision: dict[str, Any]


class DenialRead(UtcRead):
    """The written denial of a request (KRS 61.880(1)), as the requester receives it: the
    statement the server signed (exceptions, their citations, the custodian's explanation,
    the appeal notice) and the signature, verifiable with the published signing key."""

    statement: dict[str, Any]
    signature: str
    key_id: str


class RequestRead(UtcRead):
    """A request with the decision in force (None until evidence is linked, and always None
    for the requester: the engine's answer is provisional until the custodian and legal
    review decide), and once denied, the signed written denial (the requester too).
    `flows.models.RequestView` adds the review, the release and the appeals."""

    id: str
    evidence_id: str | None
    description: str
    requester_name: str
    requester_type: RequesterTypeName
    ky_resident: bool
    parent_of_depicted: bool
    attorney_affidavit: bool
    form: FormName
    received_on: date
    deadline: date
    state: StateName
    submitted_by: str
    created_at: datetime
    closed_at: datetime | None
    closed_by: str | None
    close_reason: str | None
    decision: DecisionRead | None = None
    denial: DenialRead | None = None
