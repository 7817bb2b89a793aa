"""An appeal of the agency's answer to a records request (KRS 61.880(2), (5)), and what
became of it.

While an appeal is pending, and for the thirty days after its decision in which a party may
take it to court, the recording it is about must not be destroyed: the open-records request
is still pending in the sense of the retention schedule.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from pydantic import Field as PField
from sqlalchemy import Column, Date, Text
from sqlmodel import Field, SQLModel

from bwc_custody.timeutil import UtcDateTime, UtcRead, utcnow

Forum = Literal["attorney_general", "circuit_court"]
Outcome = Literal["upheld", "reversed", "partly_reversed", "dismissed", "withdrawn"]

APPEAL_RULE = "retention.open_records_appeal"
# KRS 61.880(2)(a)-(b): the Attorney General decides within 20 business days (up to 30 more
# work days in unusual circumstances); 61.880(5)(a): a party may bring an action in circuit
# court within 30 days of that decision, rolled past a weekend or holiday (KRS 446.030): both
# counted by policies.calendar (ag_decision_due, court_appeal_deadline).
APPEAL_CITATIONS: dict[str, str] = {
    "attorney_general": ("KRS 61.880(2)(a)-(b) (the Attorney General decides within 20 "
                         "business days); KRS 61.880(5)(a) (an action in circuit court within "
                         "30 days of the decision); KDLA series L6707: hold while an "
                         "open-records request is pending"),
    # ◐ the 30 days to appeal a circuit court judgment is the civil rules' (CR 73.02(1)(a)),
    # not LEGAL.md's: needs_counsel_review
    "circuit_court": ("KRS 61.882 (action in circuit court); CR 73.02(1)(a) (notice of appeal "
                      "within 30 days of the judgment; needs counsel review); KDLA series "
                      "L6707: hold while an open-records request is pending"),
}


def _ts(nullable: bool) -> Any:
    return Column(UtcDateTime(), nullable=nullable)


class RecordsAppeal(SQLModel, table=True):
    """One appeal of the answer to a request, recorded by the custodian or counsel when the
    agency learns of it (the Attorney General sends the agency the requester's appeal; a
    court action is served)."""

    __tablename__ = "records_appeal"

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(foreign_key="records_request.id", index=True, max_length=36)
    forum: str = Field(max_length=20)
    reference: str = Field(default="", max_length=200)  # AG log number, civil action number
    filed_on: date = Field(sa_column=Column(Date, nullable=False))
    note: str = Field(sa_column=Column(Text, nullable=False))
    recorded_by: str = Field(max_length=120)
    recorded_at: datetime = Field(default_factory=utcnow, sa_column=_ts(False))
    recorded_seq: int
    outcome: str | None = Field(default=None, max_length=20)
    decided_on: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    decision_reference: str | None = Field(default=None, max_length=200)  # e.g. 26-ORD-123
    decision_note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    decided_by: str | None = Field(default=None, max_length=120)
    decided_at: datetime | None = Field(default=None, sa_column=_ts(True))


class AppealCreate(BaseModel):
    """An appeal as the agency learned of it: where, its number, the day it was filed (the
    day the Attorney General received it, or the action was filed) and how it is known."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    forum: Forum
    reference: str = PField(default="", max_length=200)
    filed_on: date
    note: str = PField(default="", max_length=4000)


class AppealDecision(BaseModel):
    """What the Attorney General or the court decided, on which day, under which number."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    outcome: Outcome
    decided_on: date
    reference: str = PField(default="", max_length=200)
    note: str = PField(default="", max_length=4000)


class AppealRead(UtcRead):
    """An appeal as staff see it, with the day a decision is expected (Attorney General) and
    the day until which it keeps the recording (None: while it is pending)."""

    id: int
    request_id: str
    forum: str
    reference: str
    filed_on: date
    note: str
    recorded_by: str
    recorded_at: datetime
    outcome: str | None
    decided_on: date | None
    decision_reference: str | None
    decision_note: str | None
    decided_by: str | None
    decision_expected_by: date | None = None
    holds_until: date | None = None
    rule: str = APPEAL_RULE
    citation: str = ""
