"""Review, release and letter routes: for one recording of a request, submit a file, sign
it off or send it back, release it or deny it; the requester's download of exactly the
released bytes; the delay notice and the request for a residency statement (thin: one access
rule, one call)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends
from fastapi.responses import StreamingResponse

from bwc_custody.auth.service import Principal
from bwc_custody.deps import (
    ClientAddr,
    Custodian,
    LegalReviewer,
    RangeHeader,
    SessionDep,
    Staff,
    allow,
    stream_range,
)
from bwc_custody.flows.models import RequestView
from bwc_custody.flows.requests import view_by_id
from bwc_custody.reasons import ReasonBody
from bwc_custody.releases import coverage, service
from bwc_custody.releases.models import (
    AnswerBody,
    ApproveBody,
    CoverageRead,
    CoverageReport,
    DelayNoticeBody,
    RoundRead,
    SubmitBody,
)
from bwc_custody.requests import service as requests
from bwc_custody.roles import Role
from bwc_custody.vault.service import get_agency_ca, get_keyring, get_signer, get_store

router = APIRouter(tags=["review"])
Recipient = Annotated[Principal, Depends(allow(Role.custodian, Role.requester))]
ONE = "/requests/{request_id}/recordings/{item_id}"


@router.post(f"{ONE}/review", response_model=RequestView)
def submit(request_id: str, item_id: str, body: SubmitBody, session: SessionDep,
           actor: Custodian, addr: ClientAddr) -> RequestView:
    """Submit one redacted file (a derivative of this recording) for legal review: the
    server signs a copy with the release's C2PA manifest, and that signed copy (the round's
    `derivative_id`) is what the reviewer watches and signs off and the requester gets."""
    service.submit(session=session, store=get_store(), keyring=get_keyring(),
                   ca=get_agency_ca(), request_id=request_id, item_id=item_id, body=body,
                   actor=actor, client_addr=addr)
    return view_by_id(session=session, request_id=request_id, actor=actor)


@router.post(f"{ONE}/coverage", response_model=CoverageRead)
def report_coverage(request_id: str, item_id: str, body: CoverageReport, session: SessionDep,
                    actor: LegalReviewer, addr: ClientAddr) -> CoverageRead:
    """Report ranges of the file under review your player played (seconds, with the
    playbackRate of each); returns what you have watched and what is still missing before
    you can sign it off. Normal speed counts everywhere, up to 2x outside flagged ranges."""
    return coverage.report(session=session, request_id=request_id, item_id=item_id,
                           body=body, actor=actor, client_addr=addr)


@router.get(f"{ONE}/coverage", response_model=CoverageRead)
def read_coverage(request_id: str, item_id: str, session: SessionDep,
                  actor: LegalReviewer) -> CoverageRead:
    """What you have watched of the file under review, and what is still missing."""
    return coverage.current(session=session, request_id=request_id, item_id=item_id,
                            actor=actor)


@router.post(f"{ONE}/approve", response_model=RequestView)
def approve(request_id: str, item_id: str, session: SessionDep, actor: LegalReviewer,
            addr: ClientAddr, body: Annotated[ApproveBody | None, Body()] = None
            ) -> RequestView:
    """Sign off on the file under review, with the written basis (only a reviewer who did
    not submit it and has watched it: all of it, or all but what `attestation` says need
    not be watched, and every flagged range at normal speed); the server signs the
    approval."""
    service.approve(session=session, store=get_store(), keyring=get_keyring(),
                    signer=get_signer(), request_id=request_id, item_id=item_id,
                    reason=body.reason if body else "",
                    attestation=body.attestation if body else "", actor=actor,
                    client_addr=addr)
    return view_by_id(session=session, request_id=request_id, actor=actor)


@router.post(f"{ONE}/return", response_model=RequestView)
def send_back(request_id: str, item_id: str, session: SessionDep, actor: LegalReviewer,
              addr: ClientAddr, body: ReasonBody = None) -> RequestView:
    """Send the file under review back to the custodian, with written reasons."""
    service.send_back(session=session, request_id=request_id, item_id=item_id,
                      reason=body.reason if body else "", actor=actor, client_addr=addr)
    return view_by_id(session=session, request_id=request_id, actor=actor)


@router.post(f"{ONE}/release", response_model=RequestView)
def release(request_id: str, item_id: str, session: SessionDep, actor: Custodian,
            addr: ClientAddr, body: AnswerBody | None = None) -> RequestView:
    """Release exactly the approved file (checked against the signed approval first); when
    part is withheld, `explanation` says how the exceptions apply, for the letter."""
    service.release(session=session, store=get_store(), keyring=get_keyring(),
                    signer=get_signer(), request_id=request_id, item_id=item_id,
                    explanation=body.explanation if body else "", actor=actor,
                    client_addr=addr)
    return view_by_id(session=session, request_id=request_id, actor=actor)


@router.post(f"{ONE}/deny", response_model=RequestView)
def deny(request_id: str, item_id: str, session: SessionDep, actor: Custodian,
         addr: ClientAddr, body: AnswerBody | None = None) -> RequestView:
    """Deny this recording (KRS 61.880(1)) when the decision in force withholds it, saying
    how the exceptions apply (`explanation`); the written response, signed by the server,
    goes to the requester once every recording of the request is answered."""
    service.deny(session=session, signer=get_signer(), request_id=request_id,
                 item_id=item_id, explanation=body.explanation if body else "", actor=actor,
                 client_addr=addr)
    return view_by_id(session=session, request_id=request_id, actor=actor)


@router.get("/requests/{request_id}/rounds", response_model=list[RoundRead])
def list_rounds(request_id: str, session: SessionDep, _actor: Staff) -> list[RoundRead]:
    """Every file submitted for review on the request and what became of it, oldest first."""
    requests.get_or_raise(session=session, request_id=request_id)
    return [RoundRead.model_validate(r)
            for r in service.rounds(session=session, request_id=request_id)]


@router.get(f"{ONE}/release/content")
def download_release(request_id: str, item_id: str, session: SessionDep, actor: Recipient,
                     addr: ClientAddr, wanted: RangeHeader = "") -> StreamingResponse:
    """A released copy (the requester's own request only), or one byte range of it (206: a
    resumed download), logged as `release.download` with the range; `X-Content-SHA256` is
    the hash in the signed approval."""
    statement, _obj, reader = service.open_release(
        session=session, store=get_store(), keyring=get_keyring(), signer=get_signer(),
        request_id=request_id, item_id=item_id, actor=actor, wanted=wanted, client_addr=addr)
    return stream_range(session, reader, wanted, media_type="video/mp4",
                        sha256=str(statement["sha256"]),
                        filename=service.release_filename(request_id, item_id))


@router.post("/requests/{request_id}/delay-notice", response_model=RequestView)
def send_delay_notice(request_id: str, body: DelayNoticeBody, session: SessionDep,
                      actor: Custodian, addr: ClientAddr) -> RequestView:
    """Tell the requester, within the five days, that the records are not ready: where and
    when they will be, the earliest date, and why (KRS 61.872(5))."""
    service.send_delay_notice(session=session, signer=get_signer(), request_id=request_id,
                              body=body, actor=actor, client_addr=addr)
    return view_by_id(session=session, request_id=request_id, actor=actor)


@router.post("/requests/{request_id}/residency-request", response_model=RequestView)
def request_residency_statement(request_id: str, session: SessionDep, actor: Custodian,
                                addr: ClientAddr) -> RequestView:
    """Ask the requester for the statement of residency the decision needs (KRS
    61.872(2)(a))."""
    service.request_residency_statement(session=session, signer=get_signer(),
                                        request_id=request_id, actor=actor, client_addr=addr)
    return view_by_id(session=session, request_id=request_id, actor=actor)
