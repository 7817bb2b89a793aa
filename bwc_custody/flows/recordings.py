"""Finding recordings: the custodian's list, searched and filtered across what several domains
know about each recording (its metadata, the tags in force, the requests still live on it, how
its retention stands), a page at a time, newest first. The API, the console and
`bwc evidence list` all read it here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import exists, func
from sqlmodel import Session, col, select

from bwc_custody.config import get_settings
from bwc_custody.errors import validated
from bwc_custody.evidence.models import Evidence, EvidenceRead
from bwc_custody.evidence.service import poster_key
from bwc_custody.requests.models import RequestRecording
from bwc_custody.retention import service as retention
from bwc_custody.retention.models import RetentionHold
from bwc_custody.tags.models import Tag
from bwc_custody.vault.models import StoredObject
from policies.vocabulary import TAGS
from review.workflow import LIVE_STATES

RetentionState = Literal["kept", "held", "due", "disposed"]
PAGE_MAX = 200


class RecordingQuery(BaseModel):
    """What to look for. Dates are days in the agency's time zone, both ends included."""

    model_config = ConfigDict(extra="forbid")

    q: str | None = Field(None, max_length=80, description="the start of a recording id, or "
                          "words found in its file name, case number or campus")
    received_from: dt.date | None = None
    received_to: dt.date | None = None
    recorded_from: dt.date | None = None
    recorded_to: dt.date | None = None
    campus: str | None = Field(None, max_length=200, description="part of the campus name")
    officer: str | None = Field(None, max_length=120)
    case_number: str | None = Field(None, max_length=120, description="the start of it")
    incident_type: str | None = Field(None, max_length=120)
    tag: str | None = Field(None, max_length=60, description="a tag in force")
    retention: RetentionState | None = None
    open_request: bool | None = Field(None, description="true: a request is still live on "
                                      "it; false: none is")
    limit: int = Field(50, ge=1, le=PAGE_MAX)
    offset: int = Field(0, ge=0, le=2_000_000_000)

    @model_validator(mode="after")
    def _sane(self) -> RecordingQuery:
        if self.tag is not None and self.tag not in TAGS:
            raise ValueError(f"unknown tag {self.tag!r}; known: {', '.join(sorted(TAGS))}")
        for start, end, what in ((self.received_from, self.received_to, "received"),
                                 (self.recorded_from, self.recorded_to, "recorded")):
            if start and end and end < start:
                raise ValueError(f"the {what} range ends before it starts")
        return self

    def given(self) -> dict[str, Any]:
        """The filters set (for links to the next page and the custody entry)."""
        return {k: v for k, v in self.model_dump(mode="json", exclude={"limit", "offset"})
                .items() if v not in (None, "")}


class RecordingRow(EvidenceRead):
    """One recording in the list: its metadata, and for staff the tags in force, the live
    requests on it, how its retention stands and whether it has a poster frame."""

    tags: list[str] | None = None
    open_requests: list[str] | None = None
    retention: RetentionState | None = None
    has_poster: bool | None = None


class RecordingPage(BaseModel):
    """One page of the list and how many recordings match in all."""

    total: int
    offset: int
    limit: int
    rows: list[RecordingRow]


def _day_start(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), zone).astimezone(dt.UTC)


def _conditions(query: RecordingQuery, officer_only: str | None) -> list[Any]:
    zone = ZoneInfo(get_settings().agency_timezone)
    found: list[Any] = []
    if officer_only is not None:
        found.append(Evidence.officer_id == officer_only)
    for column, start, end in ((Evidence.received_at, query.received_from, query.received_to),
                               (Evidence.recorded_at, query.recorded_from, query.recorded_to)):
        if start:
            found.append(col(column) >= _day_start(start, zone))
        if end:
            found.append(col(column) < _day_start(end + dt.timedelta(days=1), zone))
    if query.q and query.q.strip():
        words = query.q.strip().lower()
        like = f"%{_escaped(words)}%"
        found.append(col(Evidence.id).startswith(words) | func.lower(
            col(Evidence.filename)).like(like, escape="\\") | func.lower(
            col(Evidence.case_number)).like(like, escape="\\") | func.lower(
            col(Evidence.campus)).like(like, escape="\\"))
    if query.campus:
        found.append(func.lower(col(Evidence.campus)).like(
            f"%{_escaped(query.campus.strip().lower())}%", escape="\\"))
    if query.officer:
        found.append(Evidence.officer_id == query.officer.strip())
    if query.case_number:
        found.append(col(Evidence.case_number).startswith(query.case_number.strip()))
    if query.incident_type:
        found.append(Evidence.incident_type == query.incident_type.strip())
    if query.tag:
        found.append(exists().where(col(Tag.evidence_id) == col(Evidence.id),
                                    col(Tag.name) == query.tag,
                                    col(Tag.removed_at).is_(None)))
    live = exists().where(col(RequestRecording.evidence_id) == col(Evidence.id),
                          col(RequestRecording.state).in_(sorted(LIVE_STATES)))
    if query.open_request is True:
        found.append(live)
    elif query.open_request is False:
        found.append(~live)
    if query.retention == "disposed":
        found.append(col(Evidence.disposed_at).is_not(None))
    elif query.retention is not None:
        found.append(col(Evidence.disposed_at).is_(None))
    if query.retention == "held":
        found.append(exists().where(col(RetentionHold.evidence_id) == col(Evidence.id),
                                    col(RetentionHold.lifted_at).is_(None)))
    return found


def _escaped(text: str) -> str:
    """`text` for a LIKE pattern, its own % and _ taken literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def retention_state(*, session: Session, evidence: Evidence) -> RetentionState:
    """How the recording's retention stands, in one word: destroyed, held by a hold, due for
    destruction now, or kept (by its schedule, a case, a request or an appeal)."""
    if evidence.disposed_at is not None:
        return "disposed"
    view = retention.status(session=session, evidence_id=evidence.id)
    if view.due:
        return "due"
    return "held" if any(b.code == "hold" for b in view.blockers) else "kept"


def search(*, session: Session, query: RecordingQuery, officer_only: str | None = None
           ) -> RecordingPage:
    """The recordings matching `query`, newest first. `officer_only`: an officer's own
    uploads, with their metadata alone (no tags, requests or retention)."""
    stmt = select(Evidence).where(*_conditions(query, officer_only)).order_by(
        col(Evidence.received_at).desc(), col(Evidence.id))
    if query.retention in ("due", "kept"):
        # retention's rules are code, not SQL: decided for each candidate, then paged
        matching = [e for e in session.exec(stmt)
                    if retention_state(session=session, evidence=e) == query.retention]
        total, page = len(matching), matching[query.offset:query.offset + query.limit]
    else:
        total = session.exec(select(func.count()).select_from(Evidence).where(
            *_conditions(query, officer_only))).one()
        page = list(session.exec(stmt.offset(query.offset).limit(query.limit)))
    rows = [RecordingRow.model_validate(e) for e in page]
    if officer_only is None:
        _add_staff_columns(session, page, rows)
    return RecordingPage(total=total, offset=query.offset, limit=query.limit, rows=rows)


def _add_staff_columns(session: Session, page: Sequence[Evidence],
                       rows: list[RecordingRow]) -> None:
    ids = [e.id for e in page]
    if not ids:
        return
    tags: dict[str, set[str]] = {}
    for evidence_id, name in session.exec(select(Tag.evidence_id, Tag.name).where(
            col(Tag.evidence_id).in_(ids), col(Tag.removed_at).is_(None))):
        tags.setdefault(evidence_id, set()).add(name)
    live: dict[str, list[str]] = {}
    for evidence_id, request_id in session.exec(
            select(RequestRecording.evidence_id, RequestRecording.request_id).where(
                col(RequestRecording.evidence_id).in_(ids),
                col(RequestRecording.state).in_(sorted(LIVE_STATES)))
            .order_by(col(RequestRecording.request_id))):
        live.setdefault(evidence_id, []).append(request_id)
    posters = set(session.exec(select(StoredObject.key).where(
        col(StoredObject.key).in_([poster_key(i) for i in ids]),
        col(StoredObject.disposed_at).is_(None))))
    for evidence, row in zip(page, rows, strict=True):
        row.tags = sorted(tags.get(evidence.id, ()))
        row.open_requests = live.get(evidence.id, [])
        row.retention = retention_state(session=session, evidence=evidence)
        row.has_poster = poster_key(evidence.id) in posters


def parse_query(given: dict[str, Any]) -> RecordingQuery:
    """A query from form or command-line values (empty ones ignored), refused with
    `invalid_input` naming the field when a value cannot be read."""
    return validated(RecordingQuery, {k: v for k, v in given.items() if v not in (None, "")})
