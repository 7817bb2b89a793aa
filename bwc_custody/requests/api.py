"""Records-request routes (thin: one access rule, one service call)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from bwc_custody.auth.models import Role
from bwc_custody.auth.service import Principal
from bwc_custody.deps import SessionDep, allow
from bwc_custody.reasons import ReasonBody
from bwc_custody.requests import service
from bwc_custody.requests.models import (
    DecisionRead,
    EvidenceLink,
    RequestCreate,
    RequestRead,
)
from review.workflow import State

router = APIRouter(tags=["requests"])
Custodian = Annotated[Principal, Depends(allow(Role.custodian))]
Staff = Annotated[Principal, Depends(allow(Role.custodian, Role.legal_reviewer, Role.auditor))]
Submitter = Annotated[Principal, Depends(allow(Role.custodian, Role.requester))]
Reader = Annotated[Principal, Depends(allow(Role.custodian, Role.legal_reviewer, Role.auditor,
                                            Role.requester))]


def _addr(request: Request) -> str:
    return request.client.host if request.client else ""


@router.post("/requests", response_model=RequestRead, status_code=201)
def create_request(body: RequestCreate, session: SessionDep, actor: Submitter,
                   request: Request) -> RequestRead:
    """Submit a request (a requester, through the API) or record one (the custodian, who may
    also name the evidence and the day a mailed request arrived)."""
    row = service.create_request(session=session, body=body, actor=actor,
                                 client_addr=_addr(request))
    return service.view_of(session=session, row=row, actor=actor)


@router.get("/requests", response_model=list[RequestRead])
def list_requests(session: SessionDep, actor: Reader,
                  state: State | None = None,
                  evidence_id: str | None = None) -> list[RequestRead]:
    """Requests, soonest deadline first (a requester sees only their own)."""
    return service.views_of(session=session, actor=actor, rows=service.list_requests(
        session=session, actor=actor, state=state, evidence_id=evidence_id))


@router.get("/requests/{request_id}", response_model=RequestRead)
def get_request(request_id: str, session: SessionDep, actor: Reader) -> RequestRead:
    """One request (a requester's own only)."""
    row = service.get_visible_or_raise(session=session, request_id=request_id, actor=actor)
    return service.view_of(session=session, row=row, actor=actor)


@router.get("/requests/{request_id}/decisions", response_model=list[DecisionRead])
def list_decisions(request_id: str, session: SessionDep, _actor: Staff) -> list[DecisionRead]:
    """Every decision made on the request and why it was made, oldest first."""
    service.get_or_raise(session=session, request_id=request_id)
    return [DecisionRead.model_validate(d)
            for d in service.decisions(session=session, request_id=request_id)]


@router.put("/requests/{request_id}/evidence", response_model=RequestRead)
def link_evidence(request_id: str, body: EvidenceLink, session: SessionDep, actor: Custodian,
                  request: Request) -> RequestRead:
    """The custodian names the recording asked for; the request is decided on its tags."""
    service.link_evidence(session=session, request_id=request_id,
                          evidence_id=body.evidence_id, actor=actor,
                          client_addr=_addr(request))
    return service.view_of(session=session, row=service.get_or_raise(
        session=session, request_id=request_id), actor=actor)


@router.post("/requests/{request_id}/close", response_model=RequestRead)
def close_request(request_id: str, session: SessionDep, actor: Custodian, request: Request,
                  body: ReasonBody = None) -> RequestRead:
    """The custodian closes a request with a written reason."""
    row = service.close_request(session=session, request_id=request_id, actor=actor,
                                reason=body.reason if body else "",
                                client_addr=_addr(request))
    return service.view_of(session=session, row=row, actor=actor)
