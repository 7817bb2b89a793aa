"""Redaction routes: request a redaction, list and read derivatives (every read logged)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from bwc_custody.auth.service import Principal
from bwc_custody.deps import (
    MIB,
    ClientAddr,
    Custodian,
    Decider,
    RangeHeader,
    RowId,
    SessionDep,
    Staff,
    ViewingReason,
    body_limit,
    stream_range,
)
from bwc_custody.flows import redactions as flow
from bwc_custody.jobs.models import JobRead
from bwc_custody.redactions import service
from bwc_custody.redactions.models import (
    KEEP_PHOTO_CHARS,
    KEEP_PHOTOS,
    DerivativeLabel,
    DerivativeRead,
    RedactionRequest,
    SpeechRead,
)
from bwc_custody.vault.service import get_keyring, get_store
from redaction.speech_models import SpeechTerms

router = APIRouter(tags=["redactions"])


# the keep-face photos come inline (base64), the rest of the request within 1 MiB
@router.post("/evidence/{evidence_id}/redactions", response_model=JobRead, status_code=202,
             openapi_extra=body_limit(KEEP_PHOTOS * KEEP_PHOTO_CHARS + MIB))
def request_redaction(evidence_id: str, body: RedactionRequest, session: SessionDep,
                      actor: Custodian, request: Request, addr: ClientAddr) -> JobRead:
    """Queue a redaction (every face blurred, plus the request's regions); follow the job at
    /jobs/{id}; its result names the derivative. `heads` left out is on while a live
    request's decision on the recording asks for whole heads (its copy records which rule)."""
    job = flow.request_redaction(session=session, evidence_id=evidence_id, body=body,
                                 actor=actor, client_addr=addr)
    return JobRead.model_validate(job)


@router.get("/evidence/{evidence_id}/derivatives", response_model=list[DerivativeRead])
def list_derivatives(evidence_id: str, session: SessionDep,
                     _actor: Staff) -> list[DerivativeRead]:
    """The evidence item's redacted derivatives, newest first."""
    return [DerivativeRead.model_validate(d)
            for d in service.list_derivatives(session=session, evidence_id=evidence_id)]


@router.get("/derivatives/{derivative_id}", response_model=DerivativeRead)
def get_derivative(derivative_id: str, session: SessionDep, _actor: Staff) -> DerivativeRead:
    """One derivative: hashes, counts, review flags, and the request it answers."""
    return DerivativeRead.model_validate(
        service.get_derivative(session=session, derivative_id=derivative_id))


def _stream(part: Literal["video", "manifest"], derivative_id: str, addr: str,
            session: SessionDep, actor: Principal, reason: str, wanted: str
            ) -> StreamingResponse:
    _row, obj, reader = service.open_derivative(
        session=session, store=get_store(), keyring=get_keyring(), derivative_id=derivative_id,
        part=part, actor=actor, reason=reason, wanted=wanted, client_addr=addr)
    return stream_range(session, reader, wanted, sha256=obj.sha256,
                        media_type="video/mp4" if part == "video" else "application/json")


@router.patch("/derivatives/{derivative_id}", response_model=DerivativeRead)
def label_derivative(derivative_id: str, body: DerivativeLabel, session: SessionDep,
                     actor: Custodian, addr: ClientAddr) -> DerivativeRead:
    """Name a redacted copy ("for the parent, request 12"); logged."""
    return DerivativeRead.model_validate(service.label_derivative(
        session=session, derivative_id=derivative_id, label=body.label, actor=actor,
        client_addr=addr))


@router.get("/derivatives/{derivative_id}/content")
def stream_derivative(derivative_id: str, addr: ClientAddr, session: SessionDep,
                      actor: Decider, reason: ViewingReason, wanted: RangeHeader = ""
                      ) -> StreamingResponse:
    """The redacted video, or one byte range of it (logged as `derivative.stream` with the
    reason and the range)."""
    return _stream("video", derivative_id, addr, session, actor, reason, wanted)


@router.get("/derivatives/{derivative_id}/manifest")
def stream_manifest(derivative_id: str, addr: ClientAddr, session: SessionDep,
                    actor: Decider, reason: ViewingReason) -> StreamingResponse:
    """The derivative's manifest: every blurred box, tools, settings, review flags (logged as
    `derivative.manifest`; it describes where faces are, so it is read like footage)."""
    return _stream("manifest", derivative_id, addr, session, actor, reason, "")


@router.post("/evidence/{evidence_id}/speech", response_model=JobRead, status_code=202)
def search_speech(evidence_id: str, body: SpeechTerms, session: SessionDep, actor: Custodian,
                  addr: ClientAddr) -> JobRead:
    """Queue a search of the recording's speech for names, places, code patterns and spoken
    numbers; its suggestions (GET .../speech) are accepted or rejected in a redaction
    request's `speech`."""
    return JobRead.model_validate(service.request_speech_search(
        session=session, evidence_id=evidence_id, terms=body, actor=actor, client_addr=addr))


@router.get("/evidence/{evidence_id}/speech", response_model=list[SpeechRead])
def list_speech(evidence_id: str, session: SessionDep, _actor: Custodian) -> list[SpeechRead]:
    """The recording's speech searches, newest first, each with its suggested mute ranges
    (custodian only: a suggestion names what was heard)."""
    return [SpeechRead.model_validate(r)
            for r in service.list_speech_searches(session=session, evidence_id=evidence_id)]


@router.get("/evidence/{evidence_id}/speech/{speech_id}/transcript")
def read_transcript(evidence_id: str, speech_id: RowId, session: SessionDep, actor: Custodian,
                    addr: ClientAddr, reason: ViewingReason) -> dict[str, Any]:
    """Every word the search heard, with its time (logged as `speech.transcript` with the
    reason)."""
    return service.read_transcript(session=session, store=get_store(), keyring=get_keyring(),
                                   evidence_id=evidence_id, speech_id=speech_id, actor=actor,
                                   reason=reason, client_addr=addr)
