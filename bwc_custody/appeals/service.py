"""Appeals of the agency's answer to a records request: recorded when the agency learns of
one, decided when the Attorney General or the court rules; each step a custody entry.

An appeal keeps the recording its request is about (retention.service asks `holding`) while
it is pending and for thirty days after the decision, when a party may still take it to
court (KRS 61.880(5)(a)); a withdrawn appeal keeps nothing once recorded as withdrawn.
"""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, col, select

from bwc_custody.appeals.errors import AppealAlreadyDecided, AppealDateInvalid, AppealNotFound
from bwc_custody.appeals.models import (
    APPEAL_CITATIONS,
    APPEAL_RULE,
    AppealCreate,
    AppealDecision,
    AppealRead,
    RecordsAppeal,
)
from bwc_custody.auth.service import Principal
from bwc_custody.custody import service as custody
from bwc_custody.reasons import require_reason
from bwc_custody.requests.models import RequestRecording
from bwc_custody.requests.service import get_or_raise as get_request_or_raise
from bwc_custody.requests.service import recordings
from bwc_custody.timeutil import utcnow
from policies.calendar import ag_decision_due, court_appeal_deadline, kentucky_today


def holds_until(row: RecordsAppeal) -> dt.date | None:
    """The last day the appeal keeps the recording once decided (None while pending, and
    for a withdrawn one, which keeps nothing after)."""
    if row.decided_on is None or row.outcome == "withdrawn":
        return None
    return court_appeal_deadline(row.decided_on)


def keeps_recording(row: RecordsAppeal, today: dt.date) -> bool:
    """True while the appeal keeps its request's recording from destruction on `today`."""
    if row.outcome is None:
        return True
    until = holds_until(row)
    return until is not None and today <= until


def describe(row: RecordsAppeal) -> str:
    """One line saying what the appeal is and how it stands, for a retention blocker."""
    where = ("to the Attorney General" if row.forum == "attorney_general"
             else "in circuit court")
    what = f"appeal {row.id} {where}" + (f" ({row.reference})" if row.reference else "")
    what += f" on request {row.request_id}, filed {row.filed_on.isoformat()}"
    if row.outcome is None:
        return what + ": pending"
    until = holds_until(row)
    return (what + f": {row.outcome} on {row.decided_on}"
            + (f"; an action in court may follow until {until.isoformat()}" if until else ""))


def read(row: RecordsAppeal) -> AppealRead:
    """The appeal as staff see it, with its expected decision day and what it keeps."""
    out = AppealRead.model_validate(row)
    if row.forum == "attorney_general" and row.outcome is None:
        out.decision_expected_by = ag_decision_due(row.filed_on)
    out.holds_until = holds_until(row)
    out.citation = APPEAL_CITATIONS[row.forum]
    return out


def appeals_of(*, session: Session, request_ids: list[str]) -> dict[str, list[RecordsAppeal]]:
    """The appeals of each request, oldest first (one query for all of them)."""
    found: dict[str, list[RecordsAppeal]] = {}
    if not request_ids:
        return found
    for row in session.exec(select(RecordsAppeal).where(
            col(RecordsAppeal.request_id).in_(request_ids)).order_by(col(RecordsAppeal.id))):
        found.setdefault(row.request_id, []).append(row)
    return found


def holding(*, session: Session, evidence_id: str, today: dt.date) -> list[RecordsAppeal]:
    """The appeals that keep the recording from destruction on `today`."""
    rows = session.exec(select(RecordsAppeal).join(
        RequestRecording, col(RequestRecording.request_id) == col(RecordsAppeal.request_id)
    ).where(RequestRecording.evidence_id == evidence_id).order_by(col(RecordsAppeal.id)))
    return [row for row in rows if keeps_recording(row, today)]


def _not_future(day: dt.date, what: str) -> None:
    if day > kentucky_today():
        raise AppealDateInvalid(f"{what} {day.isoformat()} is in the future", day=day.isoformat())


def record_appeal(*, session: Session, request_id: str, body: AppealCreate, actor: Principal,
                  client_addr: str = "") -> RecordsAppeal:
    """Record an appeal of the answer to a request (any answer, or none in time: KRS
    61.880(2)(a)); its recording is kept until the appeal is decided and the time to take
    it to court has run."""
    note = require_reason(body.note, "recording an appeal (how the agency learned of it)")
    _not_future(body.filed_on, "the filing day")
    custody.lock_log(session)  # a disposition running now finishes first, or sees this appeal
    request = get_request_or_raise(session=session, request_id=request_id)
    entry = custody.append(
        session=session, actor=actor, action="request.appeal", target_type="request",
        target_id=request.id, client_addr=client_addr, reason=note,
        details={"forum": body.forum, "reference": body.reference,
                 "filed_on": body.filed_on.isoformat(),
                 "evidence_ids": [i.evidence_id for i in recordings(session=session,
                                                                    request_id=request.id)],
                 "request_state": request.state, "rule": APPEAL_RULE,
                 "citation": APPEAL_CITATIONS[body.forum]})
    row = RecordsAppeal(request_id=request.id, forum=body.forum, reference=body.reference,
                        filed_on=body.filed_on, note=note, recorded_by=actor.username,
                        recorded_seq=entry.seq)
    session.add(row)
    session.flush()
    return row


def record_decision(*, session: Session, request_id: str, appeal_id: int, body: AppealDecision,
                    actor: Principal, client_addr: str = "") -> RecordsAppeal:
    """Record what the Attorney General or the court decided; the recording stays kept for
    the thirty days in which the decision may be taken further (not after a withdrawal)."""
    note = require_reason(body.note, "recording an appeal's decision")
    custody.lock_log(session)
    row = session.get(RecordsAppeal, appeal_id)
    if row is None or row.request_id != request_id:
        raise AppealNotFound(f"no appeal {appeal_id} on request {request_id}",
                             appeal_id=appeal_id)
    if row.outcome is not None:
        raise AppealAlreadyDecided(
            f"appeal {appeal_id} was decided ({row.outcome}) on {row.decided_on}; a further "
            "appeal is recorded as a new one", appeal_id=appeal_id)
    _not_future(body.decided_on, "the decision day")
    if body.decided_on < row.filed_on:
        raise AppealDateInvalid(f"the decision day {body.decided_on} is before the appeal "
                                f"was filed ({row.filed_on})", day=body.decided_on.isoformat())
    row.outcome, row.decided_on = body.outcome, body.decided_on
    row.decision_reference, row.decision_note = body.reference, note
    row.decided_by, row.decided_at = actor.username, utcnow()
    session.add(row)
    session.flush()
    until = holds_until(row)
    custody.append(
        session=session, actor=actor, action="request.appeal_decided", target_type="request",
        target_id=row.request_id, client_addr=client_addr, reason=note,
        details={"appeal_id": row.id, "forum": row.forum, "outcome": row.outcome,
                 "decided_on": body.decided_on.isoformat(), "reference": body.reference,
                 "holds_until": until.isoformat() if until else None, "rule": APPEAL_RULE,
                 "citation": APPEAL_CITATIONS[row.forum]})
    return row
