"""Appeal routes: record an appeal of a request's answer, record its decision, list them
(thin: one access rule, one service call)."""

from __future__ import annotations

from fastapi import APIRouter

from bwc_custody.appeals import service
from bwc_custody.appeals.models import AppealCreate, AppealDecision, AppealRead
from bwc_custody.deps import ClientAddr, Decider, RowId, SessionDep, Staff
from bwc_custody.requests.service import get_or_raise as get_request_or_raise

router = APIRouter(tags=["appeals"])
# The custodian receives the Attorney General's notice; counsel answers the appeal.


@router.post("/requests/{request_id}/appeals", response_model=AppealRead, status_code=201)
def record_appeal(request_id: str, body: AppealCreate, session: SessionDep, actor: Decider,
                  addr: ClientAddr) -> AppealRead:
    """Record an appeal of the answer to the request (KRS 61.880(2)(a), or an action in
    court): its recordings are kept while it is pending and 30 days after its decision."""
    return service.read(service.record_appeal(session=session, request_id=request_id,
                                              body=body, actor=actor,
                                              client_addr=addr))


@router.post("/requests/{request_id}/appeals/{appeal_id}/decision", response_model=AppealRead)
def record_decision(request_id: str, appeal_id: RowId, body: AppealDecision,
                    session: SessionDep, actor: Decider, addr: ClientAddr) -> AppealRead:
    """Record the Attorney General's or the court's decision on the appeal."""
    return service.read(service.record_decision(session=session, request_id=request_id,
                                                appeal_id=appeal_id, body=body, actor=actor,
                                                client_addr=addr))


@router.get("/requests/{request_id}/appeals", response_model=list[AppealRead])
def list_appeals(request_id: str, session: SessionDep, _actor: Staff) -> list[AppealRead]:
    """The request's appeals and how each stands, oldest first."""
    get_request_or_raise(session=session, request_id=request_id)
    rows = service.appeals_of(session=session, request_ids=[request_id]).get(request_id, [])
    return [service.read(row) for row in rows]
