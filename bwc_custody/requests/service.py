"""Records requests: received, linked to evidence, decided by the policy engine, closed.

The decision in force is always the engine's answer for the request's facts and the
evidence's tags as they are now: it is made when the custodian links the evidence and made
again, in the same transaction, whenever a tag of that evidence changes while the request is
open (`reevaluate_open_requests`, called by `flows.tagging`). Every decision lands in the
custody log with its rule ids and citations; what a changed decision does to a file under
review is the flow's (`flows.requests.settle`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from bwc_custody.auth.service import Principal
from bwc_custody.custody import service as custody
from bwc_custody.custody.models import CustodyEntry
from bwc_custody.errors import Forbidden
from bwc_custody.evidence.service import get_or_raise as get_evidence_or_raise
from bwc_custody.evidence.service import require_not_disposed
from bwc_custody.requests.errors import (
    ReceivedOnInFuture,
    RequestAlreadyLinked,
    RequestNotFound,
)
from bwc_custody.requests.models import (
    RecordsRequest,
    RequestCreate,
    RequestDecision,
)
from bwc_custody.roles import Role
from bwc_custody.tags.models import AnalysisResult
from bwc_custody.tags.service import effective_tags
from bwc_custody.timeutil import utcnow
from policies.calendar import kentucky_today, response_deadline
from policies.engine import evaluate, parse_facts
from policies.models import Decision, Facts
from review.workflow import (
    LIVE_STATES,
    SIGNOFF_STATES,
    Transition,
    TransitionNotAllowed,
)

# Before the person count has run, `juvenile` and `multi_student` may be missing from the
# tags, so a decision made then may be too open; the reviewer is told (it is made again
# when the analysis tags the recording).
NOT_ANALYSED = ("No person-count analysis has finished on this recording: the juvenile and "
                "multi-student tags may be missing. The decision is made again when the "
                "analysis tags it; do not rely on it before then.")


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
    if not sees_all(actor) and request.submitted_by != actor.username:
        raise RequestNotFound(f"no records request {request_id}", request_id=request_id)
    return request


def sees_all(actor: Principal) -> bool:
    """Whether `actor` is staff who read every request and its decision (a requester sees
    only their own, without the provisional decision)."""
    return actor.has_any({Role.custodian, Role.legal_reviewer, Role.auditor})


def list_requests(*, session: Session, actor: Principal, state: str | None = None,
                  evidence_id: str | None = None) -> list[RecordsRequest]:
    """Requests `actor` may see, oldest deadline first."""
    stmt = select(RecordsRequest).order_by(col(RecordsRequest.deadline),
                                           col(RecordsRequest.created_at))
    if not sees_all(actor):
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


@dataclass(frozen=True)
class Decided:
    """A decision just made on `request`, and the one it replaced (None for the first)."""

    request: RecordsRequest
    decision: RequestDecision
    previous: RequestDecision | None

    @property
    def contradicts_signoff(self) -> bool:
        """The outcome changed under a file in review or signed off (it must be voided)."""
        return (self.decision.changed and self.previous is not None
                and self.request.state in SIGNOFF_STATES)


def link_evidence(*, session: Session, request_id: str, evidence_id: str, actor: Principal,
                  client_addr: str = "") -> Decided:
    """The custodian names the recording asked for; the request is decided on its tags."""
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
                             client_addr: str = "") -> list[Decided]:
    """Decide again every open request on `evidence_id` on its tags as they are now.

    The custody log's lock is taken before the tags are read: two tag changes committed at
    once are then decided one after the other, the second on both changes (read committed
    sees the first once its lock is released), so the newest decision is never made on a
    view missing a tag that is in force.
    """
    custody.lock_log(session)
    tags = effective_tags(session=session, evidence_id=evidence_id)
    stmt = select(RecordsRequest).where(RecordsRequest.evidence_id == evidence_id,
                                        col(RecordsRequest.state).in_(sorted(LIVE_STATES)))
    return [_decide(session, r, tags, trigger="tags_changed", actor=actor,
                    client_addr=client_addr)
            for r in session.exec(stmt.order_by(col(RecordsRequest.created_at)))]


def _analysed(session: Session, evidence_id: str) -> bool:
    return session.exec(select(AnalysisResult.id)
                        .where(AnalysisResult.evidence_id == evidence_id).limit(1)
                        ).first() is not None


def _outcome(decision: dict[str, Any]) -> tuple[Any, ...]:
    """What a requester or reviewer would notice: effect, rules, redactions, sign-off."""
    return (decision.get("effect"), [r["id"] for r in decision.get("rules", [])],
            decision.get("redact"), decision.get("requires_legal_signoff"),
            NOT_ANALYSED in decision.get("warnings", []))


def _decide(session: Session, request: RecordsRequest, tags: frozenset[str], *, trigger: str,
            actor: Principal, client_addr: str) -> Decided:
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
    return Decided(request=request, decision=row, previous=before)


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
