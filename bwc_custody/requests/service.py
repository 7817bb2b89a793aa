"""Records requests: received, linked to evidence, decided by the policy engine, closed.

The decision in force is always the engine's answer for the request's facts and the
evidence's tags as they are now: it is made when the custodian links the evidence and made
again, in the same transaction, whenever a tag of that evidence changes while the request is
open (`reevaluate_open_requests`, called by `tags.service.on_tags_changed`). Every decision
lands in the custody log with its rule ids and citations.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, func, select

from bwc_custody.auth.models import Role
from bwc_custody.auth.service import Principal
from bwc_custody.custody import service as custody
from bwc_custody.custody.models import CustodyEntry
from bwc_custody.errors import Forbidden
from bwc_custody.evidence.service import get_or_raise as get_evidence_or_raise
from bwc_custody.evidence.service import require_not_disposed
from bwc_custody.reasons import require_reason
from bwc_custody.requests.errors import (
    ReceivedOnInFuture,
    RequestAlreadyLinked,
    RequestNotFound,
)
from bwc_custody.requests.models import (
    DecisionRead,
    RecordsRequest,
    RequestCreate,
    RequestDecision,
    RequestRead,
)
from bwc_custody.timeutil import utcnow
from policies.calendar import response_deadline
from policies.engine import evaluate, parse_facts
from policies.models import Decision, Facts
from review.workflow import (
    LIVE_STATES,
    SIGNOFF_STATES,
    Transition,
    TransitionNotAllowed,
    check_transition,
)

KENTUCKY = ZoneInfo("America/Kentucky/Louisville")
# Before the person count has run, `juvenile` and `multi_student` may be missing from the
# tags, so a decision made then may be too open; the reviewer is told (it is made again
# when the analysis tags the recording).
NOT_ANALYSED = ("No person-count analysis has finished on this recording: the juvenile and "
                "multi-student tags may be missing. The decision is made again when the "
                "analysis tags it; do not rely on it before then.")


def kentucky_today() -> dt.date:
    """Today's date at the agency (a request received at 11 pm is received that day)."""
    return dt.datetime.now(KENTUCKY).date()


def _is_custodian(actor: Principal) -> bool:
    return actor.has_any({Role.custodian})


def facts_of(request: RecordsRequest, tags: frozenset[str]) -> Facts:
    """The policy engine's facts for `request` with the evidence's tags `tags`."""
    return parse_facts({
        "requester_type": request.requester_type, "ky_resident": request.ky_resident,
        "parent_of_depicted": request.parent_of_depicted,
        "attorney_affidavit": request.attorney_affidavit, "form": request.form,
        "received_on": request.received_on.isoformat(), "tags": sorted(tags)})


def create_request(*, session: Session, body: RequestCreate, actor: Principal,
                   client_addr: str = "") -> RecordsRequest:
    """Record a request; decide it at once when the custodian names the evidence."""
    today = kentucky_today()
    if body.received_on is not None and not _is_custodian(actor):
        raise Forbidden("a request is received the day it is submitted; only the custodian "
                        "records an earlier day", field="received_on")
    if body.evidence_id is not None and not _is_custodian(actor):
        raise Forbidden("only the custodian links a request to a recording",
                        field="evidence_id")
    received = body.received_on or today
    if received > today:
        raise ReceivedOnInFuture(f"received_on {received} is after today ({today})",
                                 received_on=received.isoformat(), today=today.isoformat())
    request = RecordsRequest(
        description=body.description.strip(), requester_name=body.requester_name.strip(),
        requester_type=body.requester_type, ky_resident=body.ky_resident,
        parent_of_depicted=body.parent_of_depicted, attorney_affidavit=body.attorney_affidavit,
        form=body.form, received_on=received, deadline=response_deadline(received),
        submitted_by=actor.username)
    facts_of(request, frozenset())  # unknown requester types or forms refused before storing
    if body.evidence_id is not None:
        require_not_disposed(get_evidence_or_raise(session=session, evidence_id=body.evidence_id))
    session.add(request)
    session.flush()
    custody.append(session=session, actor=actor, action="request.create",
                   target_type="records_request", target_id=request.id,
                   client_addr=client_addr,
                   details={"requester_type": request.requester_type, "form": request.form,
                            "received_on": received.isoformat(),
                            "deadline": request.deadline.isoformat()})
    if body.evidence_id is not None:
        link_evidence(session=session, request_id=request.id, evidence_id=body.evidence_id,
                      actor=actor, client_addr=client_addr)
    return request


def get_or_raise(*, session: Session, request_id: str) -> RecordsRequest:
    """The request with id `request_id`, or RequestNotFound."""
    request = session.get(RecordsRequest, request_id)
    if request is None:
        raise RequestNotFound(f"no records request {request_id}", request_id=request_id)
    return request


def get_visible_or_raise(*, session: Session, request_id: str,
                         actor: Principal) -> RecordsRequest:
    """The request if `actor` may see it: staff see all, a requester only their own (others
    answer not found, so ids reveal nothing)."""
    request = get_or_raise(session=session, request_id=request_id)
    if not _sees_all(actor) and request.submitted_by != actor.username:
        raise RequestNotFound(f"no records request {request_id}", request_id=request_id)
    return request


def _sees_all(actor: Principal) -> bool:
    return actor.has_any({Role.custodian, Role.legal_reviewer, Role.auditor})


def list_requests(*, session: Session, actor: Principal, state: str | None = None,
                  evidence_id: str | None = None) -> list[RecordsRequest]:
    """Requests `actor` may see, oldest deadline first."""
    stmt = select(RecordsRequest).order_by(col(RecordsRequest.deadline),
                                           col(RecordsRequest.created_at))
    if not _sees_all(actor):
        if evidence_id is not None:  # would tell a requester which recording is theirs
            raise Forbidden("only staff filter requests by evidence", field="evidence_id")
        stmt = stmt.where(RecordsRequest.submitted_by == actor.username)
    if state is not None:
        stmt = stmt.where(RecordsRequest.state == state)
    if evidence_id is not None:
        stmt = stmt.where(RecordsRequest.evidence_id == evidence_id)
    return list(session.exec(stmt))


def decisions(*, session: Session, request_id: str) -> list[RequestDecision]:
    """Every decision made on the request, oldest first."""
    return list(session.exec(select(RequestDecision)
                             .where(RequestDecision.request_id == request_id)
                             .order_by(col(RequestDecision.id))))


def current_decision(*, session: Session, request_id: str) -> RequestDecision | None:
    """The decision in force (the newest), or None before evidence is linked."""
    return session.exec(select(RequestDecision)
                        .where(RequestDecision.request_id == request_id)
                        .order_by(col(RequestDecision.id).desc()).limit(1)).first()


def view_of(*, session: Session, row: RecordsRequest, actor: Principal) -> RequestRead:
    """The request as `actor` may read it: staff with the decision in force; a requester
    without it and without the evidence id (the engine's answer is provisional until the
    custodian and legal review decide)."""
    return views_of(session=session, rows=[row], actor=actor)[0]


def views_of(*, session: Session, rows: list[RecordsRequest],
             actor: Principal) -> list[RequestRead]:
    """`view_of` for each row, with the decisions in force read in one query (a list of
    requests would otherwise cost a query per row)."""
    from bwc_custody.appeals import service as appeals
    from bwc_custody.releases.models import DenialRead, RoundRead
    from bwc_custody.releases.service import active_rounds, release_view

    reads = [RequestRead.model_validate(row) for row in rows]
    signoff = {r.id for r in rows if r.state in SIGNOFF_STATES | {"released"}}
    active = active_rounds(session=session, request_ids=sorted(signoff)) if signoff else {}
    by_id = {row.id: row for row in rows}
    for read in reads:
        found_round = active.get(read.id)
        if found_round is not None and read.state == "released":
            read.release = release_view(round_=found_round)
        row = by_id[read.id]
        if row.response is not None and row.response_signature and row.response_key_id:
            read.denial = DenialRead(statement=row.response, signature=row.response_signature,
                                     key_id=row.response_key_id)
    if not _sees_all(actor):
        for read in reads:
            read.evidence_id = None
        return reads
    newest = (select(func.max(RequestDecision.id))
              .where(col(RequestDecision.request_id).in_([r.id for r in rows]))
              .group_by(col(RequestDecision.request_id)))
    current = {d.request_id: d for d in session.exec(
        select(RequestDecision).where(col(RequestDecision.id).in_(newest)))} if rows else {}
    appealed = appeals.appeals_of(session=session, request_ids=[r.id for r in rows])
    for read in reads:
        read.appeals = [appeals.read(a) for a in appealed.get(read.id, [])]
        found = current.get(read.id)
        read.decision = DecisionRead.model_validate(found) if found else None
        found_round = active.get(read.id)
        read.review = RoundRead.model_validate(found_round) if found_round else None
    return reads


def link_evidence(*, session: Session, request_id: str, evidence_id: str, actor: Principal,
                  client_addr: str = "") -> RequestDecision:
    """The custodian names the recording asked for; the request is decided on its tags."""
    from bwc_custody.tags.service import effective_tags

    request = get_or_raise(session=session, request_id=request_id)
    if request.state not in LIVE_STATES:
        raise TransitionNotAllowed(f"request {request_id} is {request.state}: only an open "
                                   "request is linked to evidence", state=request.state)
    # a destroyed recording is answered as no longer existing, not decided on its tags
    require_not_disposed(get_evidence_or_raise(session=session, evidence_id=evidence_id))
    if request.evidence_id is not None and request.evidence_id != evidence_id:
        raise RequestAlreadyLinked(
            f"request {request_id} is about evidence {request.evidence_id}; a request for "
            "another recording is a new request", evidence_id=request.evidence_id)
    request.evidence_id = evidence_id
    session.add(request)
    session.flush()
    custody.lock_log(session)  # as in reevaluate_open_requests: no tag change slips between
    return _decide(session, request, effective_tags(session=session, evidence_id=evidence_id),
                   trigger="evidence_linked", actor=actor, client_addr=client_addr)


def reevaluate_open_requests(*, session: Session, evidence_id: str, actor: Principal,
                             client_addr: str = "") -> list[RequestDecision]:
    """Decide again every open request on `evidence_id` on its tags as they are now.

    The custody log's lock is taken before the tags are read: two tag changes committed at
    once are then decided one after the other, the second on both changes (read committed
    sees the first once its lock is released), so the newest decision is never made on a
    view missing a tag that is in force.
    """
    from bwc_custody.tags.service import effective_tags

    custody.lock_log(session)
    tags = effective_tags(session=session, evidence_id=evidence_id)
    stmt = select(RecordsRequest).where(RecordsRequest.evidence_id == evidence_id,
                                        col(RecordsRequest.state).in_(sorted(LIVE_STATES)))
    return [_decide(session, r, tags, trigger="tags_changed", actor=actor,
                    client_addr=client_addr)
            for r in session.exec(stmt.order_by(col(RecordsRequest.created_at)))]


def _analysed(session: Session, evidence_id: str) -> bool:
    from bwc_custody.tags.models import AnalysisResult

    return session.exec(select(AnalysisResult.id)
                        .where(AnalysisResult.evidence_id == evidence_id).limit(1)
                        ).first() is not None


def _outcome(decision: dict[str, Any]) -> tuple[Any, ...]:
    """What a requester or reviewer would notice: effect, rules, redactions, sign-off."""
    return (decision.get("effect"), [r["id"] for r in decision.get("rules", [])],
            decision.get("redact"), decision.get("requires_legal_signoff"),
            NOT_ANALYSED in decision.get("warnings", []))


def _decide(session: Session, request: RecordsRequest, tags: frozenset[str], *, trigger: str,
            actor: Principal, client_addr: str) -> RequestDecision:
    decision: Decision = evaluate(facts_of(request, tags))
    made = decision.model_dump(mode="json")
    if request.evidence_id is not None and not _analysed(session, request.evidence_id):
        made["warnings"].append(NOT_ANALYSED)
    before = current_decision(session=session, request_id=request.id)
    changed = before is None or _outcome(before.decision) != _outcome(made)
    rule_ids = [r.id for r in decision.rules]
    entry = custody.append(
        session=session, actor=actor, action="request.decision",
        target_type="records_request", target_id=request.id, client_addr=client_addr,
        details={"evidence_id": request.evidence_id, "trigger": trigger,
                 "effect": decision.effect, "previous_effect": before.effect if before else None,
                 "changed": changed, "tags": sorted(tags), "rule_ids": rule_ids,
                 "citations": [r.citation for r in decision.rules if r.decisive],
                 "requires_legal_signoff": decision.requires_legal_signoff,
                 "redact": decision.redact})
    row = RequestDecision(request_id=request.id, actor=actor.username, trigger=trigger,
                          tags=sorted(tags), effect=decision.effect, rule_ids=rule_ids,
                          decision=made, changed=changed, custody_seq=entry.seq)
    session.add(row)
    session.flush()
    if changed and before is not None and request.state in SIGNOFF_STATES:
        from bwc_custody.releases.service import void_signoff

        void_signoff(session=session, request=request, decision=row, previous=before,
                     actor=actor, client_addr=client_addr)
    return row


def move(*, session: Session, request: RecordsRequest, transition: Transition,
         actor: Principal, reason: str = "", client_addr: str = "",
         details: dict[str, Any] | None = None) -> CustodyEntry:
    """Put `request` in `transition`'s target state and log it as `request.<name>` (the one
    place a request changes state; the caller has checked the transition may be taken).
    Returns the custody entry."""
    before = request.state
    request.state = transition.target
    if transition.target == "closed":
        request.closed_at, request.closed_by, request.close_reason = (
            utcnow(), actor.username, reason)
    session.add(request)
    session.flush()
    return custody.append(session=session, actor=actor, action=f"request.{transition.name}",
                          target_type="records_request", target_id=request.id,
                          client_addr=client_addr, reason=reason,
                          details={"transition": transition.name, "from": before,
                                   "to": transition.target, **(details or {})})


def get_for_transition(*, session: Session, request_id: str) -> RecordsRequest:
    """The request read afresh under the custody log's lock, so that two moves of one request
    (or a move and a tag change) are taken one after the other, each on the state the other
    left."""
    custody.lock_log(session)
    request = session.get(RecordsRequest, request_id, populate_existing=True)
    if request is None:
        raise RequestNotFound(f"no records request {request_id}", request_id=request_id)
    return request


def close_request(*, session: Session, request_id: str, actor: Principal, reason: str,
                  client_addr: str = "") -> RecordsRequest:
    """The custodian closes a request with a written reason; its decisions stay, and a file
    under review or approved is withdrawn."""
    from bwc_custody.releases.service import withdraw_round

    request = get_for_transition(session=session, request_id=request_id)
    transition = check_transition("close", state=request.state,
                                  roles=frozenset(str(r) for r in actor.roles))
    text = (require_reason(reason, "closing a request") if transition.needs_reason
            else (reason or "").strip())
    withdraw_round(session=session, request=request, actor=actor, reason=text)
    move(session=session, request=request, transition=transition, actor=actor, reason=text,
         client_addr=client_addr)
    return request
