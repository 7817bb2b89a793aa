"""Appeal routes: record an appeal of a request's answer, record its decision, list them
(thin: one access rule, one service call)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from bwc_custody.appeals import service
from bwc_custody.appeals.models import AppealCreate, AppealDecision, AppealRead
from bwc_custody.auth.models import Role
from bwc_custody.auth.service import Principal
from bwc_custody.deps import RowId, SessionDep, allow
from bwc_custody.requests.service import get_or_raise as get_request_or_raise

router = APIRouter(tags=["appeals"])
# The custodian receives the Attorney General's notice; counsel answers the appeal.
Handler = Annotated[Principal, Depends(allow(Role.custodian, Role.legal_reviewer))]
Staff = Annotated[Principal, Depends(allow(Role.custodian, Role.legal_reviewer, Role.auditor))]


def _addr(request: Request) -> str:
    return request.client.host if request.client else ""


@router.post("/requests/{request_id}/appeals", response_model=AppealRead, status_code=201)
def record_appeal(request_id: str, body: AppealCreate, session: SessionDep, actor: Handler,
                  request: Request) -> AppealRead:
    """Record an appeal of the answer to the request (KRS 61.880(2)(a), or an action in
    court): its recording is kept while it is pending and 30 days after its decision."""
    return service.read(service.record_appeal(session=session, request_id=request_id,
                                              body=body, actor=actor,
                                              client_addr=_addr(request)))


@router.post("/requests/{request_id}/appeals/{appeal_id}/decision", response_model=AppealRead)
def record_decision(request_id: str, appeal_id: RowId, body: AppealDecision,
                    session: SessionDep, actor: Handler, request: Request) -> AppealRead:
    """Record the Attorney General's or the court's decision on the appeal."""
    return service.read(service.record_decision(session=session, request_id=request_id,
                                                appeal_id=appeal_id, body=body, actor=actor,
                                                client_addr=_addr(request)))


@router.get("/requests/{request_id}/appeals", response_model=list[AppealRead])
def list_appeals(request_id: str, session: SessionDep, _actor: Staff) -> list[AppealRead]:
    """The request's appeals and how each stands, oldest first."""
    get_request_or_raise(session=session, request_id=request_id)
    rows = service.appeals_of(session=session, request_ids=[request_id]).get(request_id, [])
    return [service.read(row) for row in rows]
