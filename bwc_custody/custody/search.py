"""Reading the custody log as an auditor does: newest first, a page at a time, filtered by
what was done, who did it, which record it was about and when (days in the agency's time
zone)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import func
from sqlmodel import Session, col, select

from bwc_custody.config import get_settings
from bwc_custody.custody.models import CustodyEntry
from bwc_custody.db import INTEGER_MAX

PAGE_MAX = 500


class LogQuery(BaseModel):
    """Which entries to show. `action` ending in `.*` takes a family (`user.*`); `record`
    is a target id or its first characters; dates are days in the agency's zone, both ends
    included; `before`/`after`: the page older or newer than that sequence number."""

    model_config = ConfigDict(extra="forbid")

    action: str | None = Field(None, max_length=80, pattern=r"^[a-z0-9_.]+(\.\*)?$")
    actor: str | None = Field(None, max_length=200)
    record: str | None = Field(None, max_length=80)
    since: dt.date | None = None
    until: dt.date | None = None
    before: int | None = Field(None, ge=1, le=INTEGER_MAX)
    after: int | None = Field(None, ge=0, le=INTEGER_MAX)
    limit: int = Field(100, ge=1, le=PAGE_MAX)

    @model_validator(mode="after")
    def _sane(self) -> LogQuery:
        if self.since and self.until and self.until < self.since:
            raise ValueError("the date range ends before it starts")
        if self.before is not None and self.after is not None:
            raise ValueError("ask for the older page or the newer one, not both")
        return self


@dataclass(frozen=True)
class LogPage:
    """One page of matching entries, newest first; how many match in all; whether there are
    older or newer ones beyond the page."""

    entries: list[CustodyEntry]
    total: int
    older: bool
    newer: bool


def _day_start(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), zone).astimezone(dt.UTC)


def _conditions(query: LogQuery) -> list[Any]:
    zone = ZoneInfo(get_settings().agency_timezone)
    found: list[Any] = []
    if query.action:
        found.append(col(CustodyEntry.action).startswith(query.action[:-1], autoescape=True)
                     if query.action.endswith(".*") else CustodyEntry.action == query.action)
    if query.actor:
        found.append(CustodyEntry.actor == query.actor.strip())
    if query.record and query.record.strip():
        found.append(col(CustodyEntry.target_id).startswith(query.record.strip(),
                                                            autoescape=True))
    if query.since:
        found.append(col(CustodyEntry.at) >= _day_start(query.since, zone))
    if query.until:
        found.append(col(CustodyEntry.at) < _day_start(query.until + dt.timedelta(days=1), zone))
    return found


def search_entries(*, session: Session, query: LogQuery) -> LogPage:
    """The page of entries `query` asks for, newest first."""
    where = _conditions(query)
    stmt = select(CustodyEntry).where(*where)
    if query.after is not None:  # the newer page: the oldest `limit` above it, shown reversed
        rows = list(session.exec(stmt.where(CustodyEntry.seq > query.after)
                                 .order_by(col(CustodyEntry.seq)).limit(query.limit)))[::-1]
    else:
        if query.before is not None:
            stmt = stmt.where(CustodyEntry.seq < query.before)
        rows = list(session.exec(stmt.order_by(col(CustodyEntry.seq).desc())
                                 .limit(query.limit)))
    total = int(session.exec(
        select(func.count()).select_from(CustodyEntry).where(*where) if where
        # the whole log: sequence numbers run 1, 2, 3... without gaps (`bwc verify` checks
        # it), so the last one is the count, without reading every row
        else select(func.coalesce(func.max(CustodyEntry.seq), 0))).one())

    def beyond(*edge: Any) -> bool:
        return session.exec(select(CustodyEntry.seq).where(*where, *edge).limit(1)).first() \
            is not None

    if not rows:
        return LogPage(entries=[], total=total, older=False, newer=False)
    return LogPage(entries=rows, total=total,
                   older=beyond(CustodyEntry.seq < rows[-1].seq),
                   newer=beyond(CustodyEntry.seq > rows[0].seq))


def _distinct(session: Session, column: Any) -> list[str]:
    """The distinct values of an indexed column, walked through its index one value at a time
    (a recursive query: each step asks for the next value after the last), so a log of
    millions of entries costs one index probe per distinct value, not a scan of every row
    (neither SQLite nor PostgreSQL skip through an index for DISTINCT by themselves)."""
    first = select(func.min(column).label("value")).cte("walk", recursive=True)
    step = select(column).where(column > first.c[0]).order_by(column).limit(1) \
        .scalar_subquery()
    walk = first.union_all(select(step).where(first.c[0].is_not(None)))
    return [str(v) for v in session.exec(select(walk.c[0]).where(walk.c[0].is_not(None)))]


def actions_and_actors(*, session: Session) -> tuple[list[str], list[str]]:
    """Every action and every actor the log names, sorted (the filters' choices)."""
    return (_distinct(session, col(CustodyEntry.action)),
            _distinct(session, col(CustodyEntry.actor)))
