"""The web console for records custodians and legal reviewers: server-rendered pages over the
same services as the API (no second way of deciding anything).

Pages: the request queue, one request (the decision with every rule and citation, its
history, the review rounds, and the actions the workflow table allows this user now), one
recording (tags with provenance, redacted copies, retention and holds), the list due for
destruction. Each form posts to one route that calls one service function; a refusal comes
back as a page naming its code and message, with nothing changed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlmodel import Session

from bwc_custody.appeals import service as appeals
from bwc_custody.appeals.models import AppealCreate, AppealDecision
from bwc_custody.console.session import (
    COOKIE,
    ConsoleUser,
    CsrfFailed,
    console_allow,
    console_form,
    cookie_args,
    same_origin,
)
from bwc_custody.custody.service import entries_after, entries_for, log_size
from bwc_custody.db import INTEGER_MAX
from bwc_custody.deps import PUBLIC, RowId, SessionDep, allow, client_addr, stream_file
from bwc_custody.errors import BwcError, validated
from bwc_custody.evidence.service import find as find_evidence
from bwc_custody.evidence.service import get_or_raise, stream_original
from bwc_custody.flows import auth as flows
from bwc_custody.flows import requests as flow
from bwc_custody.jobs.service import list_jobs
from bwc_custody.redactions.models import RedactionRequest
from bwc_custody.redactions.service import list_derivatives, open_derivative
from bwc_custody.redactions.service import request_redaction as queue_redaction
from bwc_custody.releases import service as releases
from bwc_custody.releases.models import SubmitBody
from bwc_custody.requests import service as requests
from bwc_custody.requests.models import FactsUpdate, RequestCreate
from bwc_custody.retention import service as retention
from bwc_custody.retention.models import CaseClose, HoldCreate, HoldKind
from bwc_custody.roles import Role
from bwc_custody.tags.analysis import request_analysis as queue_analysis
from bwc_custody.tags.service import effective_tags, list_tags
from bwc_custody.vault.service import get_keyring, get_signer, get_store
from policies.calendar import kentucky_today
from policies.vocabulary import FORMS, REQUESTER_TYPES
from review.workflow import REQUEST_STATES, TRANSITIONS, available

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")

router = APIRouter(prefix="/console", include_in_schema=False)
STAFF = (Role.custodian, Role.legal_reviewer, Role.auditor)
Staff = Annotated[ConsoleUser, Depends(console_allow(*STAFF))]
Watcher = Annotated[ConsoleUser, Depends(console_allow(Role.custodian, Role.legal_reviewer))]
Auditor = Annotated[ConsoleUser, Depends(console_allow(Role.auditor))]
_LOG_PAGE = 100
CustodianForm = Annotated[ConsoleUser, Depends(console_form(Role.custodian))]
ReviewerForm = Annotated[ConsoleUser, Depends(console_form(Role.legal_reviewer))]
HolderForm = Annotated[ConsoleUser, Depends(console_form(Role.custodian, Role.legal_reviewer))]
AnyoneForm = Annotated[ConsoleUser, Depends(console_form(*Role))]
Text = Annotated[str, Form(max_length=4000)]
Short = Annotated[str, Form(max_length=200)]



# No script at all, nothing from elsewhere, never inside another site's frame.
_CSP = ("default-src 'none'; style-src 'unsafe-inline'; media-src 'self'; img-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


def _guarded(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"  # pages name children's cases
    response.headers["Content-Security-Policy"] = _CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _with_cookie(response: Response, request: Request, user: ConsoleUser | None) -> Response:
    if user is not None and user.renewed_token:
        response.set_cookie(value=user.renewed_token, **cookie_args(request))
    return _guarded(response)


# What a form's redirect may say was done; anything else in `?done=` is not shown, so a
# crafted link cannot put words on a console page.
DONE = {
    "linked": "The recordings are linked and each is decided on its tags.",
    "recorded": "The request is recorded.",
    "submitted": "The file is before legal review.",
    "approved": "The file is signed off for release.",
    "returned": "The file is sent back to the custodian.",
    "released": "The file is released; the written response goes out once every recording "
                "of the request is answered.",
    "denied": "The recording is denied; the written response goes out once every recording "
              "of the request is answered.",
    "withdrawn": "The recording is withdrawn from the request.",
    "confirmed": "The relationship is confirmed; the recordings are decided again.",
    "facts recorded": "The requester's facts are recorded; the recordings are decided again.",
    "appeal recorded": "The appeal is recorded; the recording is kept while it stands.",
    "appeal decided": "The appeal's decision is recorded.",
    "closed": "The request is closed.",
    "held": "The hold is placed.",
    "lifted": "The hold is lifted.",
    "case closed": "The case is recorded as closed.",
    "destroyed": "The recording is destroyed; its hash and custody history remain.",
    "redaction queued": "A redaction is queued.",
    "person count queued": "A person count is queued.",
    "logged out": "You are logged out.",
}


def page(request: Request, user: ConsoleUser | None, template: str, *, status: int = 200,
         **context: Any) -> Response:
    """A console page, with the renewed logon cookie when there is one."""
    context |= {"user": user, "roles": sorted(str(r) for r in user.principal.roles)
                if user else [], "done": DONE.get(request.query_params.get("done", ""))}
    return _with_cookie(TEMPLATES.TemplateResponse(request, template, context,
                                                   status_code=status), request, user)


def back(request: Request, user: ConsoleUser, url: str, done: str) -> Response:
    """After a form: back to the page it came from, saying what was done (Post/Redirect/Get)."""
    assert done.replace("+", " ") in DONE, done
    return _with_cookie(RedirectResponse(f"{url}?done={done}", status_code=303), request, user)


def error_page(request: Request, exc: BwcError) -> Response:
    """A refusal as a page (401: to the logon page instead)."""
    if exc.status == 401:
        response: Response = RedirectResponse("/console/login", status_code=303)
        response.delete_cookie(COOKIE, path="/console")
        return response
    # back to the page the form was on, when that was a console page of this server
    here = f"{request.url.scheme}://{request.url.netloc}/console/"
    referer = request.headers.get("referer", "")
    back_to = referer[len(here) - len("/console/"):] if referer.startswith(here) else "/console/"
    return _guarded(TEMPLATES.TemplateResponse(request, "error.html", {
        "user": None, "roles": [], "error": exc, "back": back_to}, status_code=exc.status))


# ---- logon -----------------------------------------------------------------------------

@router.get("/login", dependencies=[Depends(allow(PUBLIC))])
def login_form(request: Request) -> Response:
    """The logon page."""
    return page(request, None, "login.html", failed=None)


@router.post("/login", dependencies=[Depends(allow(PUBLIC))])
def login(request: Request, session: SessionDep, username: Short, password: Short,
          otp: Annotated[str, Form(max_length=12)] = "") -> Response:
    """Log on with a username, password and one-time code (the API's lock-out applies)."""
    if not same_origin(request):  # no logging a browser into someone else's account
        return page(request, None, "login.html", status=403, failed=CsrfFailed(
            "the logon form came from another site"))
    try:
        pair = flows.login(session=session, username=username, password=password,
                           client_addr=client_addr(request), via="console", otp=otp)
    except BwcError as exc:
        return page(request, None, "login.html", status=exc.status, failed=exc)
    response = RedirectResponse("/console/", status_code=303)
    response.set_cookie(value=pair.access_token, **cookie_args(request))
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep, user: AnyoneForm) -> Response:
    """End the console session, in this browser and on the server."""
    flows.console_logout(session=session, actor=user.principal, session_id=user.session_id,
                         client_addr=client_addr(request))
    response = RedirectResponse("/console/login?done=logged+out", status_code=303)
    response.delete_cookie(COOKIE, path="/console")
    return response


# ---- requests --------------------------------------------------------------------------

@router.get("/")
def queue(request: Request, session: SessionDep, user: Staff,
          state: Annotated[str | None, Query(max_length=20)] = "live") -> Response:
    """Requests, soonest deadline first: state, deadline, and the decision in force with its
    rules."""
    rows = requests.list_requests(session=session, actor=user.principal,
                                  state=None if state in ("live", "all") else state)
    if state == "live":
        rows = [r for r in rows if r.state == "open"]
    return page(request, user, "requests.html", state=state, states=REQUEST_STATES,
                today=kentucky_today(), requester_types=REQUESTER_TYPES, forms=FORMS,
                requests=flow.views_of(session=session, rows=rows, actor=user.principal))


@router.post("/requests")
def record_request(request: Request, session: SessionDep, user: CustodianForm,
                   description: Text, requester_name: Short, requester_type: Short,
                   form: Short, received_on: Short = "", evidence_ids: Text = "",
                   residency: Short = "unknown", parent_of_depicted: Short = "",
                   attorney_affidavit: Short = "") -> Response:
    """Record a request that came by mail, email or in person; the recordings named (ids or
    their first characters) are linked and decided at once."""
    body = validated(RequestCreate, {
        "description": description, "requester_name": requester_name,
        "requester_type": requester_type, "form": form, "received_on": received_on or None,
        "evidence_ids": _evidence_ids(session, evidence_ids), "residency": residency,
        "parent_of_depicted": bool(parent_of_depicted),
        "attorney_affidavit": bool(attorney_affidavit)})
    row = flow.create_request(session=session, body=body, actor=user.principal,
                              client_addr=client_addr(request))
    return back(request, user, _request_url(row.id), "recorded")


def _evidence_ids(session: Session, given: str) -> list[str]:
    """Recordings named in a form: ids or unambiguous starts of them, by commas, spaces or
    lines."""
    return [find_evidence(session=session, ref=ref).id
            for ref in re.split(r"[\s,]+", given) if ref]


@router.get("/requests/{request_id}")
def request_page(request_id: str, request: Request, session: SessionDep,
                 user: Staff) -> Response:
    """One request: each recording it asks for with the decision on it (every rule and
    citation), its review rounds and the actions this user may take now; the letters, the
    appeals, the history."""
    row = requests.get_or_raise(session=session, request_id=request_id)
    view = flow.view_of(session=session, row=row, actor=user.principal)
    roles = frozenset(str(r) for r in user.principal.roles)
    all_rounds = releases.rounds(session=session, request_id=request_id)
    items = []
    for item in view.recordings:
        assert item.evidence_id is not None  # staff see which recording
        items.append({
            "item": item, "actions": {t.name for t in available(state=item.state,
                                                                 roles=roles)},
            "rounds": [x for x in all_rounds if x.item_id == item.id],
            "derivatives": list_derivatives(session=session, evidence_id=item.evidence_id),
            "tags": sorted(effective_tags(session=session, evidence_id=item.evidence_id))})
    return page(request, user, "request.html", r=view, today=kentucky_today(), items=items,
                decisions=requests.decisions(session=session, request_id=request_id),
                transitions=TRANSITIONS,
                can_link=user.has(Role.custodian) and row.state == "open",
                can_appeal=user.has(Role.custodian, Role.legal_reviewer),
                history=_history(session, user, request_id))


def _history(session: Session, user: ConsoleUser, target_id: str) -> list[Any] | None:
    """The custody entries about `target_id`, for an auditor (who alone reads the log, as
    in the API); None for everyone else."""
    return entries_for(session=session, target_id=target_id) if user.has(Role.auditor) else None


def _request_url(request_id: str) -> str:
    return f"/console/requests/{request_id}"


@router.post("/requests/{request_id}/link")
def link(request_id: str, request: Request, session: SessionDep, user: CustodianForm,
         evidence_ids: Text) -> Response:
    """Name the recordings asked for; the policy engine decides each on its tags."""
    flow.link_recordings(session=session, request_id=request_id,
                         evidence_ids=_evidence_ids(session, evidence_ids),
                         actor=user.principal, client_addr=client_addr(request))
    return back(request, user, _request_url(request_id), "linked")


@router.post("/requests/{request_id}/recordings/{item_id}/submit")
def submit(request_id: str, item_id: str, request: Request, session: SessionDep,
           user: CustodianForm, derivative_id: Short, note: Text = "") -> Response:
    """Put one redacted file of the recording before legal review."""
    releases.submit(session=session, request_id=request_id, item_id=item_id,
                    body=validated(SubmitBody, {"derivative_id": derivative_id, "note": note}),
                    actor=user.principal, client_addr=client_addr(request))
    return back(request, user, _request_url(request_id), "submitted")


@router.post("/requests/{request_id}/recordings/{item_id}/deny")
def deny(request_id: str, item_id: str, request: Request, session: SessionDep,
         user: CustodianForm, explanation: Text = "") -> Response:
    """Deny the recording: the decision's exceptions and how they apply; the written
    response goes out once every recording is answered."""
    releases.deny(session=session, signer=get_signer(), request_id=request_id,
                  item_id=item_id, explanation=explanation, actor=user.principal,
                  client_addr=client_addr(request))
    return back(request, user, _request_url(request_id), "denied")


@router.post("/requests/{request_id}/appeals")
def record_appeal(request_id: str, request: Request, session: SessionDep, user: HolderForm,
                  forum: Short, filed_on: Short, note: Text = "",
                  reference: Short = "") -> Response:
    """Record an appeal of the answer to the request: its recordings are kept meanwhile."""
    appeals.record_appeal(session=session, request_id=request_id, body=validated(
        AppealCreate, {"forum": forum, "filed_on": filed_on, "note": note,
                       "reference": reference}), actor=user.principal,
        client_addr=client_addr(request))
    return back(request, user, _request_url(request_id), "appeal+recorded")


@router.post("/requests/{request_id}/appeals/{appeal_id}/decision")
def record_appeal_decision(request_id: str, appeal_id: RowId, request: Request,
                           session: SessionDep, user: HolderForm, outcome: Short,
                           decided_on: Short, note: Text = "",
                           reference: Short = "") -> Response:
    """Record the Attorney General's or the court's decision on an appeal."""
    appeals.record_decision(session=session, request_id=request_id, appeal_id=appeal_id,
                            body=validated(AppealDecision, {
                                "outcome": outcome, "decided_on": decided_on, "note": note,
                                "reference": reference}),
                            actor=user.principal, client_addr=client_addr(request))
    return back(request, user, _request_url(request_id), "appeal+decided")


@router.post("/requests/{request_id}/recordings/{item_id}/approve")
def approve(request_id: str, item_id: str, request: Request, session: SessionDep,
            user: ReviewerForm, reason: Text = "") -> Response:
    """Sign off on the file under review (after watching it), with the written basis."""
    releases.approve(session=session, store=get_store(), keyring=get_keyring(),
                     signer=get_signer(), request_id=request_id, item_id=item_id,
                     reason=reason, actor=user.principal, client_addr=client_addr(request))
    return back(request, user, _request_url(request_id), "approved")


@router.post("/requests/{request_id}/recordings/{item_id}/return")
def send_back(request_id: str, item_id: str, request: Request, session: SessionDep,
              user: ReviewerForm, reason: Text = "") -> Response:
    """Send the file under review back to the custodian, with reasons."""
    releases.send_back(session=session, request_id=request_id, item_id=item_id,
                       reason=reason, actor=user.principal, client_addr=client_addr(request))
    return back(request, user, _request_url(request_id), "returned")


@router.post("/requests/{request_id}/recordings/{item_id}/release")
def release(request_id: str, item_id: str, request: Request, session: SessionDep,
            user: CustodianForm, explanation: Text = "") -> Response:
    """Release exactly the approved file (checked against the signed approval first)."""
    releases.release(session=session, store=get_store(), keyring=get_keyring(),
                     signer=get_signer(), request_id=request_id, item_id=item_id,
                     explanation=explanation, actor=user.principal,
                     client_addr=client_addr(request))
    return back(request, user, _request_url(request_id), "released")


@router.post("/requests/{request_id}/recordings/{item_id}/close")
def withdraw(request_id: str, item_id: str, request: Request, session: SessionDep,
             user: CustodianForm, reason: Text = "") -> Response:
    """Withdraw one recording from the request, with a written reason."""
    flow.close_recording(session=session, signer=get_signer(), request_id=request_id,
                         item_id=item_id, actor=user.principal, reason=reason,
                         client_addr=client_addr(request))
    return back(request, user, _request_url(request_id), "withdrawn")


@router.post("/requests/{request_id}/relationship")
def confirm_relationship(request_id: str, request: Request, session: SessionDep,
                         user: CustodianForm, reason: Text = "") -> Response:
    """Confirm the relationship the requester claims, naming the document seen."""
    flow.confirm_relationship(session=session, request_id=request_id, note=reason,
                              actor=user.principal, client_addr=client_addr(request))
    return back(request, user, _request_url(request_id), "confirmed")


@router.post("/requests/{request_id}/facts")
def update_facts(request_id: str, request: Request, session: SessionDep,
                 user: CustodianForm, residency: Short = "", custodial_parent: Short = "",
                 person_tested: Short = "", attorney_affidavit: Short = "") -> Response:
    """Record the requester's facts the custodian has checked; decided again."""
    given = {"residency": residency or None,
             "custodial_parent": {"yes": True, "no": False}.get(custodial_parent),
             "person_tested": {"yes": True, "no": False}.get(person_tested),
             "attorney_affidavit": {"yes": True, "no": False}.get(attorney_affidavit)}
    flow.update_facts(session=session, request_id=request_id, body=validated(
        FactsUpdate, {k: v for k, v in given.items() if v is not None}),
        actor=user.principal, client_addr=client_addr(request))
    return back(request, user, _request_url(request_id), "facts+recorded")


@router.post("/requests/{request_id}/close")
def close(request_id: str, request: Request, session: SessionDep, user: CustodianForm,
          reason: Text = "") -> Response:
    """Close the request, with a written reason."""
    flow.close_request(session=session, signer=get_signer(), request_id=request_id,
                       actor=user.principal, reason=reason, client_addr=client_addr(request))
    return back(request, user, _request_url(request_id), "closed")


@router.get("/derivatives/{derivative_id}/video")
def watch(derivative_id: str, request: Request, session: SessionDep, user: Watcher,
          request_id: Annotated[str, Query(min_length=1, max_length=36)]) -> Response:
    """The redacted file, played in the page (each fetch logged as `derivative.stream`)."""
    _row, obj, chunks = open_derivative(
        session=session, store=get_store(), keyring=get_keyring(), derivative_id=derivative_id,
        part="video", actor=user.principal, reason=f"console review of request {request_id}",
        client_addr=client_addr(request))
    return _with_cookie(stream_file(session, chunks, media_type="video/mp4", size=obj.size,
                                    sha256=obj.sha256), request, user)


# ---- recordings and retention ------------------------------------------------------------

@router.get("/evidence/{evidence_id}/original")
def watch_original(evidence_id: str, request: Request, session: SessionDep, user: Watcher,
                   reason: Annotated[str, Query(min_length=3, max_length=500)]) -> Response:
    """The original, played in the page (each fetch logged as `evidence.stream` with the
    reason given)."""
    evidence, chunks = stream_original(
        session=session, store=get_store(), keyring=get_keyring(), evidence_id=evidence_id,
        actor=user.principal, reason=reason, client_addr=client_addr(request))
    return _with_cookie(stream_file(session, chunks, media_type="video/mp4", size=evidence.size,
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
                history=_history(session, user, evidence_id),
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


@router.get("/custody")
def custody_log(request: Request, session: SessionDep, user: Auditor,
                after: Annotated[int | None, Query(ge=0, le=INTEGER_MAX)] = None) -> Response:
    """The custody log, a hundred entries at a time (the newest by default)."""
    size = log_size(session=session)
    start = max(0, size - _LOG_PAGE) if after is None else min(after, size)
    return page(request, user, "custody.html", size=size, start=start, page_size=_LOG_PAGE,
                entries=entries_after(session=session, after_seq=start, limit=_LOG_PAGE))


@router.get("/retention")
def retention_due(request: Request, session: SessionDep, user: Staff) -> Response:
    """Recordings due for destruction now, oldest first."""
    return page(request, user, "retention.html", due=retention.due(session=session))
