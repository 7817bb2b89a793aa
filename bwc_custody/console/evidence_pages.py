"""Console pages for recordings: one recording (metadata, its requests, tags with where each
came from, redacted copies, jobs, retention and holds), the original played with a stated
reason, and the list due for destruction. Each form calls the same service as the API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from bwc_custody.console.render import (
    CustodianForm,
    HolderForm,
    Short,
    Staff,
    Text,
    Watcher,
    back,
    page,
    with_cookie,
)
from bwc_custody.console.requests_pages import history
from bwc_custody.deps import RowId, SessionDep, client_addr, stream_file
from bwc_custody.errors import validated
from bwc_custody.evidence.service import get_or_raise, stream_original
from bwc_custody.jobs.service import list_jobs
from bwc_custody.redactions.models import RedactionRequest
from bwc_custody.redactions.service import list_derivatives
from bwc_custody.redactions.service import request_redaction as queue_redaction
from bwc_custody.requests import service as requests
from bwc_custody.retention import service as retention
from bwc_custody.retention.models import CaseClose, HoldCreate, HoldKind
from bwc_custody.tags.analysis import request_analysis as queue_analysis
from bwc_custody.tags.service import list_tags
from bwc_custody.vault.service import get_keyring, get_store

router = APIRouter()


@router.get("/evidence/{evidence_id}/original")
def watch_original(evidence_id: str, request: Request, session: SessionDep, user: Watcher,
                   reason: Annotated[str, Query(min_length=3, max_length=500)]) -> Response:
    """The original, played in the page (each fetch logged as `evidence.stream` with the
    reason given)."""
    evidence, chunks = stream_original(
        session=session, store=get_store(), keyring=get_keyring(), evidence_id=evidence_id,
        actor=user.principal, reason=reason, client_addr=client_addr(request))
    return with_cookie(stream_file(session, chunks, media_type="video/mp4", size=evidence.size,
                                    sha256=evidence.sha256), request, user)


@router.get("/evidence/{evidence_id}")
def evidence_page(evidence_id: str, request: Request, session: SessionDep,
                  user: Staff,
                  watch: Annotated[str | None, Query(max_length=500)] = None) -> Response:
    """One recording: metadata, its requests, tags with provenance, redacted copies, jobs,
    retention and holds."""
    return page(request, user, "evidence.html",
                requests=requests.list_requests(session=session, actor=user.principal,
                                       evidence_id=evidence_id),
                e=get_or_raise(session=session, evidence_id=evidence_id),
                jobs=list_jobs(session=session, evidence_id=evidence_id, limit=20),
                tags=list_tags(session=session, evidence_id=evidence_id),
                derivatives=list_derivatives(session=session, evidence_id=evidence_id),
                retention=retention.status(session=session, evidence_id=evidence_id),
                history=history(session, user, evidence_id),
                watch=watch.strip() if watch and len(watch.strip()) >= 3 else None,
                hold_kinds=list(HoldKind))


def _evidence_url(evidence_id: str) -> str:
    return f"/console/evidence/{evidence_id}"


@router.post("/evidence/{evidence_id}/redactions")
def request_redaction(evidence_id: str, request: Request, session: SessionDep,
                      user: CustodianForm) -> Response:
    """Queue a redaction that blurs every face (boxes, keep-face: through the API or CLI)."""
    queue_redaction(session=session, evidence_id=evidence_id, body=RedactionRequest(),
                    actor=user.principal, client_addr=client_addr(request))
    return back(request, user, _evidence_url(evidence_id), "redaction+queued")


@router.post("/evidence/{evidence_id}/analysis")
def request_analysis(evidence_id: str, request: Request, session: SessionDep,
                     user: CustodianForm) -> Response:
    """Queue a person count (juvenile and multi-student tags)."""
    queue_analysis(session=session, evidence_id=evidence_id, actor=user.principal,
                   client_addr=client_addr(request))
    return back(request, user, _evidence_url(evidence_id), "person+count+queued")


@router.post("/evidence/{evidence_id}/holds")
def place_hold(evidence_id: str, request: Request, session: SessionDep, user: HolderForm,
               kind: Short, reason: Text = "", reference: Short = "") -> Response:
    """Hold the recording past its schedule, with a reason."""
    body = validated(HoldCreate, {"kind": kind, "reference": reference, "reason": reason})
    retention.place_hold(session=session, store=get_store(), evidence_id=evidence_id,
                         body=body, actor=user.principal, client_addr=client_addr(request))
    return back(request, user, _evidence_url(evidence_id), "held")


@router.post("/evidence/{evidence_id}/holds/{hold_id}/lift")
def lift_hold(evidence_id: str, hold_id: RowId, request: Request, session: SessionDep,
              user: HolderForm, reason: Text = "") -> Response:
    """Lift one hold, with a reason."""
    retention.lift_hold(session=session, store=get_store(), evidence_id=evidence_id,
                        hold_id=hold_id, reason=reason, actor=user.principal,
                        client_addr=client_addr(request))
    return back(request, user, _evidence_url(evidence_id), "lifted")


@router.post("/evidence/{evidence_id}/case-closed")
def close_case(evidence_id: str, request: Request, session: SessionDep, user: HolderForm,
               reason: Text = "") -> Response:
    """Record that all legal activity in this recording's case has ended."""
    evidence = get_or_raise(session=session, evidence_id=evidence_id)
    body = validated(CaseClose, {"case_number": evidence.case_number or "", "reason": reason})
    retention.close_case(session=session, body=body, actor=user.principal,
                         client_addr=client_addr(request))
    return back(request, user, _evidence_url(evidence_id), "case+closed")


@router.post("/evidence/{evidence_id}/dispose")
def dispose(evidence_id: str, request: Request, session: SessionDep, user: CustodianForm,
            reason: Text = "") -> Response:
    """Destroy a recording due under its schedule."""
    retention.dispose(session=session, store=get_store(), evidence_id=evidence_id,
                      reason=reason, actor=user.principal, client_addr=client_addr(request))
    return back(request, user, _evidence_url(evidence_id), "destroyed")


@router.get("/retention")
def retention_due(request: Request, session: SessionDep, user: Staff) -> Response:
    """Recordings due for destruction now, oldest first."""
    return page(request, user, "retention.html", due=retention.due(session=session))
