"""Review and release routes: submit a file, sign it off or send it back, release it, and
the requester's download of exactly the released bytes (thin: one access rule, one call)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from bwc_custody.auth.service import Principal
from bwc_custody.deps import (
    ClientAddr,
    Custodian,
    LegalReviewer,
    SessionDep,
    Staff,
    allow,
    stream_file,
)
from bwc_custody.flows.models import RequestView
from bwc_custody.flows.requests import view_by_id
from bwc_custody.reasons import ReasonBody
from bwc_custody.releases import service
from bwc_custody.releases.models import RoundRead, SubmitBody
from bwc_custody.requests import service as requests
from bwc_custody.roles import Role
from bwc_custody.vault.service import get_keyring, get_signer, get_store

router = APIRouter(tags=["review"])
Recipient = Annotated[Principal, Depends(allow(Role.custodian, Role.requester))]



@router.post("/requests/{request_id}/review", response_model=RequestView)
def submit(request_id: str, body: SubmitBody, session: SessionDep, actor: Custodian,
           addr: ClientAddr) -> RequestView:
    """Submit one redacted file (a derivative of the linked recording) for legal review."""
    service.submit(session=session, request_id=request_id, body=body, actor=actor,
                   client_addr=addr)
    return view_by_id(session=session, request_id=request_id, actor=actor)


@router.post("/requests/{request_id}/approve", response_model=RequestView)
def approve(request_id: str, session: SessionDep, actor: LegalReviewer, addr: ClientAddr,
            body: ReasonBody = None) -> RequestView:
    """Sign off on the file under review, with the written basis (only a reviewer who did
    not submit it and has watched it); the server signs the approval."""
    service.approve(session=session, store=get_store(), keyring=get_keyring(),
                    signer=get_signer(), request_id=request_id,
                    reason=body.reason if body else "", actor=actor,
                    client_addr=addr)
    return view_by_id(session=session, request_id=request_id, actor=actor)


@router.post("/requests/{request_id}/deny", response_model=RequestView)
def deny(request_id: str, session: SessionDep, actor: Custodian, addr: ClientAddr,
         body: ReasonBody = None) -> RequestView:
    """The written denial (KRS 61.880(1)): the exceptions the decision rests on, how they
    apply (`reason`), the appeal notice; signed by the server, sent to the requester."""
    service.deny(session=session, signer=get_signer(), request_id=request_id,
                 explanation=body.reason if body else "", actor=actor,
                 client_addr=addr)
    return view_by_id(session=session, request_id=request_id, actor=actor)


@router.post("/requests/{request_id}/return", response_model=RequestView)
def send_back(request_id: str, session: SessionDep, actor: LegalReviewer, addr: ClientAddr,
              body: ReasonBody = None) -> RequestView:
    """Send the file under review back to the custodian, with written reasons."""
    service.send_back(session=session, request_id=request_id,
                      reason=body.reason if body else "", actor=actor,
                      client_addr=addr)
    return view_by_id(session=session, request_id=request_id, actor=actor)


@router.post("/requests/{request_id}/release", response_model=RequestView)
def release(request_id: str, session: SessionDep, actor: Custodian,
            addr: ClientAddr) -> RequestView:
    """Release exactly the approved file (its stored bytes are re-hashed first)."""
    service.release(session=session, store=get_store(), keyring=get_keyring(), signer=get_signer(),
                    request_id=request_id, actor=actor, client_addr=addr)
    return view_by_id(session=session, request_id=request_id, actor=actor)


@router.get("/requests/{request_id}/rounds", response_model=list[RoundRead])
def list_rounds(request_id: str, session: SessionDep, _actor: Staff) -> list[RoundRead]:
    """Every file submitted for review on the request and what became of it, oldest first."""
    requests.get_or_raise(session=session, request_id=request_id)
    return [RoundRead.model_validate(r)
            for r in service.rounds(session=session, request_id=request_id)]


@router.get("/requests/{request_id}/release/content")
def download_release(request_id: str, session: SessionDep, actor: Recipient,
                     request: Request, addr: ClientAddr) -> StreamingResponse:
    """The released copy (the requester's own request only), logged as `release.download`;
    `X-Content-SHA256` is the hash in the signed approval."""
    statement, obj, chunks = service.open_release(
        session=session, store=get_store(), keyring=get_keyring(), signer=get_signer(),
        request_id=request_id,
        actor=actor, client_addr=addr)
    return stream_file(session, chunks, media_type="video/mp4", size=int(statement["size"]),
                       sha256=str(statement["sha256"]), filename=f"request-{request_id}.mp4")
