"""Records-request routes (thin: one access rule, one service or flow call)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from bwc_custody.auth.service import Principal
from bwc_custody.deps import ClientAddr, Custodian, SessionDep, Staff, allow
from bwc_custody.flows import requests as flows
from bwc_custody.flows.models import RequestView
from bwc_custody.reasons import ReasonBody
from bwc_custody.requests import service
from bwc_custody.requests.models import DecisionRead, EvidenceLink, RequestCreate
from bwc_custody.roles import Role
from review.workflow import State

router = APIRouter(tags=["requests"])
Submitter = Annotated[Principal, Depends(allow(Role.custodian, Role.requester))]
Reader = Annotated[Principal, Depends(allow(Role.custodian, Role.legal_reviewer, Role.auditor,
                                            Role.requester))]


@router.post("/requests", response_model=RequestView, status_code=201)
def create_request(body: RequestCreate, session: SessionDep, actor: Submitter,
                   addr: ClientAddr) -> RequestView:
    """Submit a request (a requester, through the API) or record one (the custodian, who may
    also name the evidence and the day a mailed request arrived)."""
    row = service.create_request(session=session, body=body, actor=actor, client_addr=addr)
    return flows.view_of(session=session, row=row, actor=actor)


@router.get("/requests", response_model=list[RequestView])
def list_requests(session: SessionDep, actor: Reader,
                  state: State | None = None,
                  evidence_id: str | None = None) -> list[RequestView]:
    """Requests, soonest deadline first (a requester sees only their own)."""
    return flows.views_of(session=session, actor=actor, rows=service.list_requests(
        session=session, actor=actor, state=state, evidence_id=evidence_id))


@router.get("/requests/{request_id}", response_model=RequestView)
def get_request(request_id: str, session: SessionDep, actor: Reader) -> RequestView:
    """One request (a requester's own only)."""
    return flows.view_by_id(session=session, request_id=request_id, actor=actor)


@router.get("/requests/{request_id}/decisions", response_model=list[DecisionRead])
def list_decisions(request_id: str, session: SessionDep, _actor: Staff) -> list[DecisionRead]:
    """Every decision made on the request and why it was made, oldest first."""
    service.get_or_raise(session=session, request_id=request_id)
    return [DecisionRead.model_validate(d)
            for d in service.decisions(session=session, request_id=request_id)]


@router.put("/requests/{request_id}/evidence", response_model=RequestView)
def link_evidence(request_id: str, body: EvidenceLink, session: SessionDep, actor: Custodian,
                  addr: ClientAddr) -> RequestView:
    """The custodian names the recording asked for; the request is decided on its tags."""
    flows.link_evidence(session=session, request_id=request_id, evidence_id=body.evidence_id,
                        actor=actor, client_addr=addr)
    return flows.view_by_id(session=session, request_id=request_id, actor=actor)


@router.post("/requests/{request_id}/close", response_model=RequestView)
def close_request(request_id: str, session: SessionDep, actor: Custodian, addr: ClientAddr,
                  body: ReasonBody = None) -> RequestView:
    """The custodian closes a request with a written reason."""
    row = flows.close_request(session=session, request_id=request_id, actor=actor,
                              reason=body.reason if body else "", client_addr=addr)
    return flows.view_of(session=session, row=row, actor=actor)
