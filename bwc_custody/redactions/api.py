"""Redaction routes: request a redaction, list and read derivatives (every read logged)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from bwc_custody.auth.models import Role
from bwc_custody.auth.service import Principal
from bwc_custody.deps import SessionDep, allow
from bwc_custody.jobs.models import JobRead
from bwc_custody.redactions import service
from bwc_custody.redactions.models import DerivativeRead, RedactionRequest
from bwc_custody.vault.service import get_keyring, get_store

router = APIRouter(tags=["redactions"])
Custodian = Annotated[Principal, Depends(allow(Role.custodian))]
Lister = Annotated[Principal, Depends(allow(Role.custodian, Role.legal_reviewer, Role.auditor))]
Viewer = Annotated[Principal, Depends(allow(Role.custodian, Role.legal_reviewer))]
Reason = Annotated[str, Query(min_length=3, max_length=500,
                              description="Why the footage is viewed (kept in the log).")]


def _addr(request: Request) -> str:
    return request.client.host if request.client else ""


@router.post("/evidence/{evidence_id}/redactions", response_model=JobRead, status_code=202)
def request_redaction(evidence_id: str, body: RedactionRequest, session: SessionDep,
                      actor: Custodian, request: Request) -> JobRead:
    """Queue a redaction (every face blurred, plus the request's regions); follow the job at
    /jobs/{id}; its result names the derivative."""
    job = service.request_redaction(session=session, evidence_id=evidence_id, body=body,
                                    actor=actor, client_addr=_addr(request))
    return JobRead.model_validate(job)


@router.get("/evidence/{evidence_id}/derivatives", response_model=list[DerivativeRead])
def list_derivatives(evidence_id: str, session: SessionDep,
                     _actor: Lister) -> list[DerivativeRead]:
    """The evidence item's redacted derivatives, newest first."""
    return [DerivativeRead.model_validate(d)
            for d in service.list_derivatives(session=session, evidence_id=evidence_id)]


@router.get("/derivatives/{derivative_id}", response_model=DerivativeRead)
def get_derivative(derivative_id: str, session: SessionDep, _actor: Lister) -> DerivativeRead:
    """One derivative: hashes, counts, review flags, and the request it answers."""
    return DerivativeRead.model_validate(
        service.get_derivative(session=session, derivative_id=derivative_id))


def _stream(part: str, derivative_id: str, request: Request, session: SessionDep,
            actor: Principal, reason: str) -> StreamingResponse:
    row, obj, chunks = service.open_derivative(
        session=session, store=get_store(), keyring=get_keyring(),
        derivative_id=derivative_id, part="video" if part == "video" else "manifest",
        actor=actor, reason=reason, client_addr=_addr(request))
    session.commit()  # the view is on record before the first byte leaves
    media = "video/mp4" if part == "video" else "application/json"
    return StreamingResponse(chunks, media_type=media, headers={
        "Content-Length": str(obj.size), "X-Content-SHA256": obj.sha256,
        "Cache-Control": "no-store"})


@router.get("/derivatives/{derivative_id}/content")
def stream_derivative(derivative_id: str, request: Request, session: SessionDep,
                      actor: Viewer, reason: Reason) -> StreamingResponse:
    """The redacted video (logged as `derivative.stream` with the reason)."""
    return _stream("video", derivative_id, request, session, actor, reason)


@router.get("/derivatives/{derivative_id}/manifest")
def stream_manifest(derivative_id: str, request: Request, session: SessionDep,
                    actor: Viewer, reason: Reason) -> StreamingResponse:
    """The derivative's manifest: every blurred box, tools, settings, review flags (logged as
    `derivative.manifest`; it describes where faces are, so it is read like footage)."""
    return _stream("manifest", derivative_id, request, session, actor, reason)
