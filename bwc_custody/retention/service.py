"""Retention and disposition of recordings (KDLA series L6707).

A non-evidentiary recording is kept `retention_days` (60) from the day it was received, then
destroyed; an evidentiary one (it carries a case number) stays with its case file. Nothing
is destroyed while a hold stands (an investigation, litigation, an open-records request
not entered here), while a request on it is pending here or an appeal of a request's answer
is (or may still go to court), or while it is tagged `investigation_open`. `status` says
which of these keep it and by which rule; `dispose` destroys only when none does: the
original, its redacted derivatives, their manifests and the keep-face photos sent for it
leave the object store, the rows keep their hashes, and a custody entry records what was
destroyed, by whom, why and under which rule.

A hold is also set on the stored objects themselves (S3 object-lock legal hold), so that no
one with store credentials alone can delete what the custodian holds.

An evidentiary recording's case is closed (`close_case`) by whoever knows its legal
activity has ended; from then its recordings are kept the same period and then are due.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, or_, select

from bwc_custody.appeals import service as appeals
from bwc_custody.appeals.models import APPEAL_CITATIONS, APPEAL_RULE
from bwc_custody.auth.service import Principal
from bwc_custody.config import get_settings
from bwc_custody.custody import service as custody
from bwc_custody.evidence.models import Evidence
from bwc_custody.evidence.service import get_or_raise as get_evidence_or_raise
from bwc_custody.evidence.service import poster_key, require_not_disposed
from bwc_custody.reasons import require_reason
from bwc_custody.requests.models import RequestLetter, RequestRecording
from bwc_custody.retention.errors import (
    CaseAlreadyClosed,
    CaseNotFound,
    HoldLifted,
    HoldNotFound,
    NotDue,
)
from bwc_custody.retention.models import (
    EVIDENTIARY_CITATION,
    EVIDENTIARY_RULE,
    POSSIBLE_APPEAL_CITATION,
    POSSIBLE_APPEAL_RULE,
    SCHEDULE_CITATION,
    SCHEDULE_RULE,
    Blocker,
    CaseClose,
    CaseClosure,
    HoldCreate,
    HoldRead,
    RetentionHold,
    RetentionRead,
)
from bwc_custody.tags.service import effective_tags
from bwc_custody.timeutil import as_utc, utcnow
from bwc_custody.vault.models import StoredObject
from bwc_custody.vault.service import is_present
from policies.calendar import kentucky_today
from review.workflow import LIVE_STATES
from storage.errors import ObjectLocked
from storage.objectstore import ObjectStore


def _hold_or_raise(session: Session, evidence_id: str, hold_id: int) -> RetentionHold:
    hold = session.get(RetentionHold, hold_id)
    if hold is None or hold.evidence_id != evidence_id:
        raise HoldNotFound(f"no hold {hold_id} on evidence {evidence_id}", hold_id=hold_id)
    return hold


def holds_of(*, session: Session, evidence_id: str) -> list[RetentionHold]:
    """Every hold placed on the recording (lifted ones too), oldest first."""
    return list(session.exec(select(RetentionHold)
                             .where(RetentionHold.evidence_id == evidence_id)
                             .order_by(col(RetentionHold.id))))


def case_closure(*, session: Session, case_number: str | None) -> CaseClosure | None:
    """The record that all legal activity in the case has ended, if there is one."""
    if not case_number:
        return None
    return session.exec(select(CaseClosure).where(
        CaseClosure.case_number == case_number)).first()


def close_case(*, session: Session, body: CaseClose, actor: Principal,
               client_addr: str = "") -> CaseClosure:
    """Record, with how it is known, that all legal activity in a case has ended; its
    recordings fall under the schedule from now (holds still keep any of them)."""
    reason = require_reason(body.reason, "closing a case")
    custody.lock_log(session)
    recordings = list(session.exec(select(Evidence.id).where(
        Evidence.case_number == body.case_number).order_by(col(Evidence.id))))
    if not recordings:
        raise CaseNotFound(f"no recording carries case number {body.case_number!r}",
                           case_number=body.case_number)
    if case_closure(session=session, case_number=body.case_number) is not None:
        raise CaseAlreadyClosed(f"case {body.case_number} is already closed",
                                case_number=body.case_number)
    entry = custody.append(
        session=session, actor=actor, action="retention.case_closed", target_type="case",
        target_id=body.case_number, client_addr=client_addr, reason=reason,
        details={"recordings": recordings, "rule": EVIDENTIARY_RULE,
                 "citation": EVIDENTIARY_CITATION})
    closure = CaseClosure(case_number=body.case_number, reason=reason,
                          closed_by=actor.username, closed_seq=entry.seq)
    session.add(closure)
    session.flush()
    return closure


def is_held(*, session: Session, evidence_id: str) -> bool:
    """True while a hold placed on the recording stands."""
    return session.exec(select(RetentionHold.id).where(
        RetentionHold.evidence_id == evidence_id,
        col(RetentionHold.lifted_at).is_(None)).limit(1)).first() is not None


def objects_of(*, session: Session, evidence: Evidence) -> list[StoredObject]:
    """The stored objects that exist because of this recording: its original, its poster
    frame, the faces of its person counts, and every derivative, manifest and keep-face photo
    filed under its id (`storage/FORMAT.md`)."""
    return list(session.exec(select(StoredObject).where(or_(
        StoredObject.key == evidence.object_key,
        col(StoredObject.key).startswith(f"derivatives/{evidence.id}/"),
        col(StoredObject.key).startswith(f"references/{evidence.id}/"),
        col(StoredObject.key).startswith(f"people/{evidence.id}/"),
        StoredObject.key == poster_key(evidence.id),
    )).order_by(col(StoredObject.key))))


def _blockers(session: Session, evidence: Evidence, holds: list[RetentionHold],
              closure: CaseClosure | None, now: datetime
              ) -> tuple[datetime | None, list[Blocker]]:
    days = get_settings().retention_days
    found: list[Blocker] = []
    retain_until: datetime | None = None
    if evidence.case_number and closure is None:
        found.append(Blocker(
            code="evidentiary", rule=EVIDENTIARY_RULE, citation=EVIDENTIARY_CITATION,
            detail=f"case {evidence.case_number}: kept with the case file until all legal "
                   "activity ends"))
    else:
        # from receipt (not the officer's recorded_at: the later day, so never too early),
        # or for evidence from the end of its case's legal activity, with the same period
        # after it to catch a closure recorded by mistake
        start, since = ((as_utc(closure.closed_at), f"the close of case {closure.case_number}")
                        if closure else (as_utc(evidence.received_at), "receipt"))
        retain_until = start + timedelta(days=days)
        if retain_until > now:
            found.append(Blocker(
                code="retention_period",
                rule=EVIDENTIARY_RULE if closure else SCHEDULE_RULE,
                citation=EVIDENTIARY_CITATION if closure else SCHEDULE_CITATION,
                detail=f"kept {days} days from {since}, until {retain_until.isoformat()}"))
    for hold in holds:
        if hold.lifted_at is None:
            about = f"{hold.kind}, {hold.reference}" if hold.reference else hold.kind
            found.append(Blocker(
                code="hold", rule=SCHEDULE_RULE, citation=SCHEDULE_CITATION,
                detail=f"hold {hold.id} ({about}) placed by {hold.placed_by}"))
    pending = session.exec(select(RequestRecording.request_id).where(
        RequestRecording.evidence_id == evidence.id,
        col(RequestRecording.state).in_(sorted(LIVE_STATES)))
        .order_by(col(RequestRecording.request_id)))
    for request_id in pending:
        found.append(Blocker(
            code="records_request", rule=SCHEDULE_RULE, citation=SCHEDULE_CITATION,
            detail=f"records request {request_id} is pending"))
    found.extend(_appeal_possible(session, evidence, now))
    for appeal in appeals.holding(session=session, evidence_id=evidence.id,
                                  today=kentucky_today(now)):
        found.append(Blocker(code="appeal", rule=APPEAL_RULE,
                             citation=APPEAL_CITATIONS[appeal.forum],
                             detail=appeals.describe(appeal)))
    if "investigation_open" in effective_tags(session=session, evidence_id=evidence.id):
        found.append(Blocker(
            code="investigation_open", rule=SCHEDULE_RULE, citation=SCHEDULE_CITATION,
            detail="tagged investigation_open: held while the investigation is pending"))
    return retain_until, found


def _appeal_possible(session: Session, evidence: Evidence, now: datetime) -> list[Blocker]:
    """A response that withheld this recording (in whole or in part) may still be appealed
    to the Attorney General: the recording is kept BWC_APPEAL_WINDOW_DAYS after it was sent
    unless an appeal is recorded (then the appeal holds it)."""
    days = get_settings().appeal_window_days
    letters = session.exec(
        select(RequestLetter).join(RequestRecording, col(RequestRecording.request_id)
                                   == col(RequestLetter.request_id))
        .where(RequestRecording.evidence_id == evidence.id, RequestLetter.kind == "response")
        .order_by(col(RequestLetter.id)))
    found = []
    for letter in letters:
        until = as_utc(letter.sent_at) + timedelta(days=days)
        withheld = any(part.get("item_id") and part.get("outcome") != "withdrawn"
                       and part.get("letter") in ("denial", "partial_denial")
                       for part in letter.statement.get("recordings", []))
        appealed = appeals.appeals_of(session=session, request_ids=[letter.request_id])
        if withheld and until > now and not appealed.get(letter.request_id):
            found.append(Blocker(
                code="appeal_possible", rule=POSSIBLE_APPEAL_RULE,
                citation=POSSIBLE_APPEAL_CITATION,
                detail=f"the response to request {letter.request_id} withheld it on "
                       f"{as_utc(letter.sent_at).date()}: kept until {until.isoformat()} "
                       "for a possible appeal to the Attorney General"))
    return found


def status(*, session: Session, evidence_id: str, now: datetime | None = None) -> RetentionRead:
    """How the recording's retention stands: what keeps it, by which rule, or that it is due."""
    evidence = get_evidence_or_raise(session=session, evidence_id=evidence_id)
    holds = holds_of(session=session, evidence_id=evidence_id)
    closure = case_closure(session=session, case_number=evidence.case_number)
    retain_until, blockers = _blockers(session, evidence, holds, closure, now or utcnow())
    disposed = evidence.disposed_at is not None
    evidentiary = bool(evidence.case_number)
    return RetentionRead(
        evidence_id=evidence.id,
        category="evidentiary" if evidentiary else "non_evidentiary",
        rule=EVIDENTIARY_RULE if evidentiary else SCHEDULE_RULE,
        citation=EVIDENTIARY_CITATION if evidentiary else SCHEDULE_CITATION,
        retention_days=get_settings().retention_days, retain_until=retain_until,
        case_closed_at=closure.closed_at if closure else None,
        due=not disposed and not blockers, blockers=[] if disposed else blockers,
        holds=[HoldRead.model_validate(h) for h in holds],
        disposed_at=evidence.disposed_at, disposed_by=evidence.disposed_by)


def due(*, session: Session, now: datetime | None = None, limit: int = 500) -> list[RetentionRead]:
    """Recordings due for destruction now (no blocker), oldest first."""
    now = now or utcnow()
    cutoff = now - timedelta(days=get_settings().retention_days)
    candidates = session.exec(
        select(Evidence.id).where(col(Evidence.disposed_at).is_(None),
                                  col(Evidence.received_at) <= cutoff)
        .order_by(col(Evidence.received_at), col(Evidence.id)))
    found: list[RetentionRead] = []
    for evidence_id in candidates:
        view = status(session=session, evidence_id=evidence_id, now=now)
        if view.due:
            found.append(view)
            if len(found) >= limit:
                break
    return found


def _set_store_hold(store: ObjectStore, objects: list[StoredObject], on: bool) -> list[str]:
    keys = []
    for obj in objects:
        if obj.disposed_at is None and is_present(store=store, obj=obj):
            store.set_legal_hold(obj.key, on, version=obj.version)
            keys.append(obj.key)
    return keys


def place_hold(*, session: Session, store: ObjectStore, evidence_id: str, body: HoldCreate,
               actor: Principal, client_addr: str = "") -> RetentionHold:
    """Hold the recording past its schedule, with a written reason; logged."""
    reason = require_reason(body.reason, "a hold")
    custody.lock_log(session)  # a disposition running now finishes first, or sees this hold
    evidence = require_not_disposed(get_evidence_or_raise(session=session,
                                                          evidence_id=evidence_id))
    # the store's own hold first: if the entry then fails, an object is over-protected,
    # never under
    keys = _set_store_hold(store, objects_of(session=session, evidence=evidence), True)
    entry = custody.append(
        session=session, actor=actor, action="retention.hold", target_type="evidence",
        target_id=evidence.id, client_addr=client_addr, reason=reason,
        details={"kind": body.kind.value, "reference": body.reference, "objects": keys,
                 "rule": SCHEDULE_RULE, "citation": SCHEDULE_CITATION})
    hold = RetentionHold(evidence_id=evidence.id, kind=body.kind.value,
                         reference=body.reference, reason=reason, placed_by=actor.username,
                         placed_seq=entry.seq)
    session.add(hold)
    session.flush()
    return hold


def lift_hold(*, session: Session, store: ObjectStore, evidence_id: str, hold_id: int,
              reason: str, actor: Principal, client_addr: str = "") -> RetentionHold:
    """Lift one hold, with a written reason; the store's hold goes when no other stands."""
    text = require_reason(reason, "lifting a hold")
    custody.lock_log(session)
    hold = _hold_or_raise(session, evidence_id, hold_id)
    if hold.lifted_at is not None:
        raise HoldLifted(f"hold {hold_id} was lifted on {as_utc(hold.lifted_at).isoformat()}",
                         hold_id=hold_id)
    hold.lifted_by, hold.lifted_at, hold.lift_reason = actor.username, utcnow(), text
    session.add(hold)
    session.flush()
    custody.append(session=session, actor=actor, action="retention.lift",
                   target_type="evidence", target_id=evidence_id, client_addr=client_addr,
                   reason=text, details={"hold_id": hold_id, "kind": hold.kind,
                                         "reference": hold.reference,
                                         "rule": SCHEDULE_RULE, "citation": SCHEDULE_CITATION})
    evidence = get_evidence_or_raise(session=session, evidence_id=evidence_id)
    if not is_held(session=session, evidence_id=evidence_id) and evidence.disposed_at is None:
        _set_store_hold(store, objects_of(session=session, evidence=evidence), False)
    return hold


def dispose(*, session: Session, store: ObjectStore, evidence_id: str, reason: str,
            actor: Principal, client_addr: str = "") -> RetentionRead:
    """Destroy a recording that is due: its objects leave the store, its rows stay.

    Refused (`retention_not_due`, naming every blocker) unless nothing keeps it, and
    (`object_locked`) if the store's own retention or legal hold still protects any of its
    objects; both are checked before anything is deleted. Objects already gone (an earlier
    attempt that stopped part way) are taken as deleted, so a retry completes it.
    """
    text = require_reason(reason, "destroying a recording")
    custody.lock_log(session)  # no hold, request or tag change slips in while this runs
    evidence = require_not_disposed(get_evidence_or_raise(session=session,
                                                          evidence_id=evidence_id))
    now = utcnow()
    view = status(session=session, evidence_id=evidence_id, now=now)
    if not view.due:
        raise NotDue(f"evidence {evidence_id} is not due for destruction: "
                     + "; ".join(b.detail for b in view.blockers),
                     blockers=[b.model_dump() for b in view.blockers])
    objects = objects_of(session=session, evidence=evidence)
    # by recorded version: a delete marker over an object must not let it outlive its record
    present = [obj for obj in objects if is_present(store=store, obj=obj)]
    for obj in present:
        lock = store.get_lock(obj.key, version=obj.version)
        if lock.legal_hold or (lock.retain_until and as_utc(lock.retain_until) > now):
            raise ObjectLocked(
                f"the store still protects {obj.key} ("
                + ("legal hold" if lock.legal_hold else
                   f"retained until {as_utc(lock.retain_until).isoformat()}")  # type: ignore[arg-type]
                + "); nothing was destroyed", key=obj.key)
    # the original last: a stop part way leaves the recording itself readable
    for obj in sorted(present, key=lambda o: o.key == evidence.object_key):
        store.delete(obj.key, version=obj.version)
    for obj in objects:
        obj.disposed_at = now
        session.add(obj)
    evidence.disposed_at, evidence.disposed_by = now, actor.username
    session.add(evidence)
    session.flush()
    custody.append(
        session=session, actor=actor, action="evidence.dispose", target_type="evidence",
        target_id=evidence.id, client_addr=client_addr, reason=text,
        details={"rule": SCHEDULE_RULE, "citation": SCHEDULE_CITATION,
                 "retention_days": view.retention_days,
                 "retain_until": view.retain_until.isoformat() if view.retain_until else None,
                 "sha256": evidence.sha256, "size": evidence.size,
                 "objects": [{"key": o.key, "kind": o.kind, "sha256": o.sha256}
                             for o in objects]})
    return status(session=session, evidence_id=evidence_id, now=now)
