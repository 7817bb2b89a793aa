"""Requests across domains: a decision made (and the sign-off it may void), a request
closed with the file under review, and the views that join a request with its review
rounds, its release and its appeals."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, func, select

from bwc_custody.appeals import service as appeals
from bwc_custody.auth.service import Principal
from bwc_custody.flows.models import RequestView
from bwc_custody.reasons import require_reason
from bwc_custody.releases import service as releases
from bwc_custody.releases.models import RoundRead
from bwc_custody.requests import service as requests
from bwc_custody.requests.models import (
    DecisionRead,
    DenialRead,
    RecordsRequest,
    RequestDecision,
)
from review.workflow import SIGNOFF_STATES, check_transition


def settle(*, session: Session, decided: Sequence[requests.Decided], actor: Principal,
           client_addr: str = "") -> list[RequestDecision]:
    """After decisions are made: a request whose outcome changed under a file in review or
    signed off has that round voided and is open again, in the same transaction (nobody
    can release on a decision that is no longer true). Returns the decisions."""
    for made in decided:
        if made.contradicts_signoff:
            assert made.previous is not None
            releases.void_signoff(session=session, request=made.request,
                                  decision=made.decision, previous=made.previous,
                                  actor=actor, client_addr=client_addr)
    return [made.decision for made in decided]


def redecide(*, session: Session, evidence_id: str, actor: Principal,
             client_addr: str = "") -> list[RequestDecision]:
    """Decide every open request on the recording again on its tags as they are now (after
    any tag change), voiding the sign-offs the new decisions contradict."""
    return settle(session=session, actor=actor, client_addr=client_addr,
                  decided=requests.reevaluate_open_requests(
                      session=session, evidence_id=evidence_id, actor=actor,
                      client_addr=client_addr))


def link_evidence(*, session: Session, request_id: str, evidence_id: str, actor: Principal,
                  client_addr: str = "") -> RequestDecision:
    """The custodian names the recording asked for; the request is decided on its tags."""
    return settle(session=session, actor=actor, client_addr=client_addr, decided=[
        requests.link_evidence(session=session, request_id=request_id,
                               evidence_id=evidence_id, actor=actor,
                               client_addr=client_addr)])[0]


def close_request(*, session: Session, request_id: str, actor: Principal, reason: str,
                  client_addr: str = "") -> RecordsRequest:
    """The custodian closes a request with a written reason; its decisions stay, and a file
    under review or approved is withdrawn."""
    request = requests.get_for_transition(session=session, request_id=request_id)
    transition = check_transition("close", state=request.state,
                                  roles=frozenset(str(r) for r in actor.roles))
    text = (require_reason(reason, "closing a request") if transition.needs_reason
            else (reason or "").strip())
    releases.withdraw_round(session=session, request=request, actor=actor, reason=text)
    requests.move(session=session, request=request, transition=transition, actor=actor,
                  reason=text, client_addr=client_addr)
    return request


def view_of(*, session: Session, row: RecordsRequest, actor: Principal) -> RequestView:
    """The request as `actor` may read it: staff with the decision in force; a requester
    without it and without the evidence id (the engine's answer is provisional until the
    custodian and legal review decide)."""
    return views_of(session=session, rows=[row], actor=actor)[0]


def view_by_id(*, session: Session, request_id: str, actor: Principal) -> RequestView:
    """`view_of` the request `request_id` (not found for a requester who did not make it)."""
    return view_of(session=session, actor=actor, row=requests.get_visible_or_raise(
        session=session, request_id=request_id, actor=actor))


def views_of(*, session: Session, rows: Sequence[RecordsRequest],
             actor: Principal) -> list[RequestView]:
    """`view_of` for each row, with the decisions in force, rounds and appeals read in one
    query each (a list of requests would otherwise cost queries per row)."""
    reads = [RequestView.model_validate(row) for row in rows]
    signoff = {r.id for r in rows if r.state in SIGNOFF_STATES | {"released"}}
    active = (releases.active_rounds(session=session, request_ids=sorted(signoff))
              if signoff else {})
    by_id = {row.id: row for row in rows}
    for read in reads:
        found_round = active.get(read.id)
        if found_round is not None and read.state == "released":
            read.release = releases.release_view(round_=found_round)
        row = by_id[read.id]
        if row.response is not None and row.response_signature and row.response_key_id:
            read.denial = DenialRead(statement=row.response, signature=row.response_signature,
                                     key_id=row.response_key_id)
    if not requests.sees_all(actor):
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
