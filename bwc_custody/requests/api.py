"""Records-request routes: a request, the recordings it asks for, the requester's facts the
custodian confirms (thin: one access rule, one service or flow call)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from bwc_custody.auth.service import Principal
from bwc_custody.deps import ClientAddr, Custodian, SessionDep, Staff, allow
from bwc_custody.flows import requests as flows
from bwc_custody.flows.models import RequestView
from bwc_custody.reasons import ReasonBody
from bwc_custody.requests import service
from bwc_custody.requests.models import (
    DecisionRead,
    FactsUpdate,
    RecordingsLink,
    RequestCreate,
)
from bwc_custody.roles import Role
from bwc_custody.vault.service import get_signer
from review.workflow import RequestState

router = APIRouter(tags=["requests"])
Submitter = Annotated[Principal, Depends(allow(Role.custodian, Role.requester))]
Reader = Annotated[Principal, Depends(allow(Role.custodian, Role.legal_reviewer, Role.auditor,
                                            Role.requester))]


@router.post("/requests", response_model=RequestView, status_code=201)
def create_request(body: RequestCreate, session: SessionDep, actor: Submitter,
                   addr: ClientAddr) -> RequestView:
    """Submit a request (a requester, through the API) or record one (the custodian, who may
    also name the recordings and the day a mailed request arrived)."""
    row = flows.create_request(session=session, body=body, actor=actor, client_addr=addr)
    return flows.view_of(session=session, row=row, actor=actor)


@router.get("/requests", response_model=list[RequestView])
def list_requests(session: SessionDep, actor: Reader,
                  state: RequestState | None = None,
                  evidence_id: Annotated[str | None, Query(max_length=36)] = None
                  ) -> list[RequestView]:
    """Requests, soonest deadline first (a requester sees only their own)."""
    return flows.views_of(session=session, actor=actor, rows=service.list_requests(
        session=session, actor=actor, state=state, evidence_id=evidence_id))


@router.get("/requests/{request_id}", response_model=RequestView)
def get_request(request_id: str, session: SessionDep, actor: Reader) -> RequestView:
    """One request (a requester's own only)."""
    return flows.view_by_id(session=session, request_id=request_id, actor=actor)


@router.get("/requests/{request_id}/decisions", response_model=list[DecisionRead])
def list_decisions(request_id: str, session: SessionDep, _actor: Staff,
                   item_id: Annotated[str | None, Query(max_length=36)] = None
                   ) -> list[DecisionRead]:
    """Every decision made on the request's recordings (or one of them) and why it was made,
    oldest first."""
    service.get_or_raise(session=session, request_id=request_id)
    return [DecisionRead.model_validate(d) for d in service.decisions(
        session=session, request_id=request_id, item_id=item_id)]


@router.post("/requests/{request_id}/recordings", response_model=RequestView)
def link_recordings(request_id: str, body: RecordingsLink, session: SessionDep,
                    actor: Custodian, addr: ClientAddr) -> RequestView:
    """The custodian names recordings the request asks for; each is decided on its tags."""
    flows.link_recordings(session=session, request_id=request_id,
                          evidence_ids=body.evidence_ids, actor=actor, client_addr=addr)
    return flows.view_by_id(session=session, request_id=request_id, actor=actor)


@router.patch("/requests/{request_id}/facts", response_model=RequestView)
def update_facts(request_id: str, body: FactsUpdate, session: SessionDep, actor: Custodian,
                 addr: ClientAddr) -> RequestView:
    """The custodian records the requester's residency (KRS 61.872(2)(a)), custody of the
    child (KRS 620.050), that they are the person tested (KRS 189A.100) or the KRS 61.169
    affidavit; the live recordings are decided again."""
    flows.update_facts(session=session, request_id=request_id, body=body, actor=actor,
                       client_addr=addr)
    return flows.view_by_id(session=session, request_id=request_id, actor=actor)


@router.post("/requests/{request_id}/relationship", response_model=RequestView)
def confirm_relationship(request_id: str, session: SessionDep, actor: Custodian,
                         addr: ClientAddr, body: ReasonBody = None) -> RequestView:
    """The custodian confirms the relationship the requester claims (parent of a child
    shown, victim, personal representative), naming the document seen (`reason`)."""
    flows.confirm_relationship(session=session, request_id=request_id,
                               note=body.reason if body else "", actor=actor,
                               client_addr=addr)
    return flows.view_by_id(session=session, request_id=request_id, actor=actor)


@router.post("/requests/{request_id}/close", response_model=RequestView)
def close_request(request_id: str, session: SessionDep, actor: Custodian, addr: ClientAddr,
                  body: ReasonBody = None) -> RequestView:
    """The custodian closes a request with a written reason (its live recordings are
    withdrawn; the response goes out for those already answered)."""
    row = flows.close_request(session=session, signer=get_signer(), request_id=request_id,
                              actor=actor, reason=body.reason if body else "",
                              client_addr=addr)
    return flows.view_of(session=session, row=row, actor=actor)


@router.post("/requests/{request_id}/recordings/{item_id}/close", response_model=RequestView)
def close_recording(request_id: str, item_id: str, session: SessionDep, actor: Custodian,
                    addr: ClientAddr, body: ReasonBody = None) -> RequestView:
    """The custodian withdraws one recording from the request, with a written reason."""
    flows.close_recording(session=session, signer=get_signer(), request_id=request_id,
                          item_id=item_id, actor=actor, reason=body.reason if body else "",
                          client_addr=addr)
    return flows.view_by_id(session=session, request_id=request_id, actor=actor)
