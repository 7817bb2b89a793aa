"""Review and release routes: submit a file, sign it off or send it back, release it, and
the requester's download of exactly the released bytes (thin: one access rule, one call)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from bwc_custody.auth.models import Role
from bwc_custody.auth.service import Principal
from bwc_custody.deps import SessionDep, allow
from bwc_custody.reasons import ReasonBody
from bwc_custody.releases import service
from bwc_custody.releases.models import RoundRead, SubmitBody
from bwc_custody.requests import service as requests
from bwc_custody.requests.models import RequestRead
from bwc_custody.vault.service import get_keyring, get_signer, get_store

router = APIRouter(tags=["review"])
Custodian = Annotated[Principal, Depends(allow(Role.custodian))]
Reviewer = Annotated[Principal, Depends(allow(Role.legal_reviewer))]
Staff = Annotated[Principal, Depends(allow(Role.custodian, Role.legal_reviewer, Role.auditor))]
Recipient = Annotated[Principal, Depends(allow(Role.custodian, Role.requester))]


def _addr(request: Request) -> str:
    return request.client.host if request.client else ""


def _view(session: SessionDep, request_id: str, actor: Principal) -> RequestRead:
    return requests.view_of(session=session, actor=actor, row=requests.get_or_raise(
        session=session, request_id=request_id))


@router.post("/requests/{request_id}/review", response_model=RequestRead)
def submit(request_id: str, body: SubmitBody, session: SessionDep, actor: Custodian,
           request: Request) -> RequestRead:
    """Submit one redacted file (a derivative of the linked recording) for legal review."""
    service.submit(session=session, request_id=request_id, body=body, actor=actor,
                   client_addr=_addr(request))
    return _view(session, request_id, actor)


@router.post("/requests/{request_id}/approve", response_model=RequestRead)
def approve(request_id: str, session: SessionDep, actor: Reviewer, request: Request,
            body: ReasonBody = None) -> RequestRead:
    """Sign off on the file under review, with the written basis (only a reviewer who did
    not submit it and has watched it); the server signs the approval."""
    service.approve(session=session, signer=get_signer(), request_id=request_id,
                    reason=body.reason if body else "", actor=actor,
                    client_addr=_addr(request))
    return _view(session, request_id, actor)


@router.post("/requests/{request_id}/deny", response_model=RequestRead)
def deny(request_id: str, session: SessionDep, actor: Custodian, request: Request,
         body: ReasonBody = None) -> RequestRead:
    """The written denial (KRS 61.880(1)): the exceptions the decision rests on, how they
    apply (`reason`), the appeal notice; signed by the server, sent to the requester."""
    service.deny(session=session, signer=get_signer(), request_id=request_id,
                 explanation=body.reason if body else "", actor=actor,
                 client_addr=_addr(request))
    return _view(session, request_id, actor)


@router.post("/requests/{request_id}/return", response_model=RequestRead)
def send_back(request_id: str, session: SessionDep, actor: Reviewer, request: Request,
              body: ReasonBody = None) -> RequestRead:
    """Send the file under review back to the custodian, with written reasons."""
    service.send_back(session=session, request_id=request_id,
                      reason=body.reason if body else "", actor=actor,
                      client_addr=_addr(request))
    return _view(session, request_id, actor)


@router.post("/requests/{request_id}/release", response_model=RequestRead)
def release(request_id: str, session: SessionDep, actor: Custodian,
            request: Request) -> RequestRead:
    """Release exactly the approved file (its stored bytes are re-hashed first)."""
    service.release(session=session, store=get_store(), keyring=get_keyring(),
                    request_id=request_id, actor=actor, client_addr=_addr(request))
    return _view(session, request_id, actor)


@router.get("/requests/{request_id}/rounds", response_model=list[RoundRead])
def list_rounds(request_id: str, session: SessionDep, _actor: Staff) -> list[RoundRead]:
    """Every file submitted for review on the request and what became of it, oldest first."""
    requests.get_or_raise(session=session, request_id=request_id)
    return [RoundRead.model_validate(r)
            for r in service.rounds(session=session, request_id=request_id)]


@router.get("/requests/{request_id}/release/content")
def download_release(request_id: str, session: SessionDep, actor: Recipient,
                     request: Request) -> StreamingResponse:
    """The released copy (the requester's own request only), logged as `release.download`;
    `X-Content-SHA256` is the hash in the signed approval."""
    _round, obj, chunks = service.open_release(
        session=session, store=get_store(), keyring=get_keyring(), request_id=request_id,
        actor=actor, client_addr=_addr(request))
    session.commit()  # the download is on record before the first byte leaves
    return StreamingResponse(chunks, media_type="video/mp4", headers={
        "Content-Length": str(obj.size), "X-Content-SHA256": obj.sha256,
        "Cache-Control": "no-store",
        "Content-Disposition": f'attachment; filename="request-{request_id}.mp4"'})
