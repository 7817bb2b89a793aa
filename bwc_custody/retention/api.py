"""Retention routes: a recording's retention and holds, the list due for destruction, holds
placed and lifted, and destruction itself (thin: one access rule, one call)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from bwc_custody.deps import ClientAddr, Custodian, Decider, RowId, SessionDep, Staff
from bwc_custody.flows import tagging
from bwc_custody.reasons import ReasonBody
from bwc_custody.retention import service
from bwc_custody.retention.models import CaseClose, CaseClosureRead, HoldCreate, RetentionRead
from bwc_custody.vault.service import get_store

router = APIRouter(tags=["retention"])
# Counsel places litigation holds as often as the custodian places investigation ones.



@router.get("/evidence/{evidence_id}/retention", response_model=RetentionRead)
def retention_of(evidence_id: str, session: SessionDep, actor: Staff) -> RetentionRead:
    """How the recording's retention stands: every blocker with its rule, its holds."""
    return service.status(session=session, evidence_id=evidence_id)


@router.get("/retention/due", response_model=list[RetentionRead])
def due(session: SessionDep, actor: Staff,
        limit: Annotated[int, Query(ge=1, le=1000)] = 500) -> list[RetentionRead]:
    """Recordings due for destruction now, oldest first."""
    return service.due(session=session, limit=limit)


@router.post("/evidence/{evidence_id}/holds", response_model=RetentionRead, status_code=201)
def place_hold(evidence_id: str, body: HoldCreate, session: SessionDep, actor: Decider,
               addr: ClientAddr) -> RetentionRead:
    """Hold the recording past its schedule (investigation, litigation, ...), with a reason;
    an investigation hold may also tag it `investigation_open` (custodian only), which is what
    withholds it from requesters."""
    tagging.place_hold(session=session, store=get_store(), evidence_id=evidence_id,
                       body=body, actor=actor, client_addr=addr)
    return service.status(session=session, evidence_id=evidence_id)


@router.post("/evidence/{evidence_id}/holds/{hold_id}/lift", response_model=RetentionRead)
def lift_hold(evidence_id: str, hold_id: RowId, session: SessionDep, actor: Decider,
              addr: ClientAddr, body: ReasonBody = None) -> RetentionRead:
    """Lift one hold, with a written reason."""
    service.lift_hold(session=session, store=get_store(), evidence_id=evidence_id,
                      hold_id=hold_id, reason=body.reason if body else "", actor=actor,
                      client_addr=addr)
    return service.status(session=session, evidence_id=evidence_id)


@router.post("/retention/cases", response_model=CaseClosureRead, status_code=201)
def close_case(body: CaseClose, session: SessionDep, actor: Decider,
               addr: ClientAddr) -> CaseClosureRead:
    """Record that all legal activity in a case has ended (how it is known, in `reason`): its
    recordings then fall under the schedule."""
    return CaseClosureRead.model_validate(service.close_case(
        session=session, body=body, actor=actor, client_addr=addr))


@router.post("/evidence/{evidence_id}/dispose", response_model=RetentionRead)
def dispose(evidence_id: str, session: SessionDep, actor: Custodian, addr: ClientAddr,
            body: ReasonBody = None) -> RetentionRead:
    """Destroy a recording due under its schedule (its objects; its rows and log stay)."""
    return service.dispose(session=session, store=get_store(), evidence_id=evidence_id,
                           reason=body.reason if body else "", actor=actor,
                           client_addr=addr)
