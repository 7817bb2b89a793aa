"""The custody log as auditors read it in the console: newest first, a page at a time,
filtered by action, actor, record and date (days in the agency's zone, exact UTC on hover),
and a button that queues the verification `bwc verify` runs (a `verify` job: re-reading
every stored file takes as long as the store is large) and shows its progress, then what
it found."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from bwc_custody.console.render import Auditor, AuditorForm, Short, page, with_cookie
from bwc_custody.console.session import ConsoleUser
from bwc_custody.custody.search import LogQuery, actions_and_actors, search_entries
from bwc_custody.deps import SessionDep, client_addr
from bwc_custody.errors import BwcError, NotFound, validated
from bwc_custody.flows.verify_state import request_verification
from bwc_custody.jobs.models import Job
from bwc_custody.jobs.service import get_job

router = APIRouter()
_FILTERS = ("action", "actor", "record", "since", "until")
_PAGE = 100
# the htmx event a finished verification's box sends, on which the log table reads itself again
VERIFIED = "custody-verified"


def _verification(session: Session, job_id: str | None) -> Job | None:
    """The `verify` job named in the address (None when none is)."""
    if not job_id:
        return None
    job = get_job(session=session, job_id=job_id)
    if job.kind != "verify":
        raise NotFound(f"no verification {job_id}", job_id=job_id)
    return job


def _log_page(request: Request, session: Session, user: ConsoleUser) -> Response:
    """The log page for the filters in the address, with a verification's progress or result
    if the address names one."""
    given = {k: request.query_params.get(k, "").strip() for k in _FILTERS}
    cursor = {k: request.query_params.get(k) for k in ("before", "after")
              if request.query_params.get(k)}
    problem: BwcError | None = None
    try:
        query = validated(LogQuery, {**{k: v for k, v in given.items() if v}, **cursor,
                                     "limit": _PAGE})
        found = search_entries(session=session, query=query)
        entries, total, older, newer = found.entries, found.total, found.older, found.newer
    except BwcError as exc:  # the filters stay on the page with what was wrong
        problem, entries, total, older, newer = exc, [], 0, False, False
    actions, actors = actions_and_actors(session=session)
    families = sorted({a.split(".")[0] + ".*" for a in actions if "." in a})
    filters = {k: v for k, v in given.items() if v}
    # the table as the page shows it, for the page to read again once a verification ends
    here = "/console/custody" + ("?" + urlencode(filters | cursor) if filters or cursor else "")
    return page(request, user, "custody.html", status=problem.status if problem else 200,
                entries=entries, total=total, older=older, newer=newer, given=given,
                qs=urlencode(filters), here=here, actions=actions,
                families=families, actors=actors, problem=problem,
                job=_verification(session, request.query_params.get("verification")))


@router.get("/custody")
def custody_log(request: Request, session: SessionDep, user: Auditor) -> Response:
    """The custody log, newest first, a hundred entries a page, filtered as asked."""
    return _log_page(request, session, user)


@router.get("/custody/verifications/{job_id}")
def verification(job_id: str, request: Request, session: SessionDep, user: Auditor
                 ) -> Response:
    """One verification's progress, or what it found, for the log page to poll while it
    runs. Once it has ended, the log holds its entry (`custody.verify`) which the table on
    the page, read when the page loaded, lacks: the answer tells the page to read the table
    again (an htmx event the table listens for)."""
    job = _verification(session, job_id)
    response = page(request, user, "_verification.html", job=job)
    if job is not None and job.state not in ("queued", "running"):
        response.headers["HX-Trigger"] = VERIFIED
    return response


@router.post("/custody/verify")
def verify_now(request: Request, session: SessionDep, user: AuditorForm,
               fixity: Short = "") -> Response:
    """Queue the verification `bwc verify` runs (the chain, every signed checkpoint, the
    database's state against the log, and with `fixity` every stored object decrypted and
    hashed again); the log page then shows its progress and what it found."""
    job = request_verification(session=session, actor=user.principal, fixity=fixity == "yes",
                               client_addr=client_addr(request))
    return with_cookie(RedirectResponse(f"/console/custody?verification={job.id}",
                                        status_code=303), request, user)
