"""Console pages for requests: the queue (soonest deadline first), one request (each
recording it asks for with the decision on it, every rule and citation, its review rounds and
the actions this user may take now), and the forms that act on it. Each form calls the same
flow or service as the API."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from sqlmodel import Session

from bwc_custody.appeals import service as appeals
from bwc_custody.appeals.models import AppealCreate, AppealDecision
from bwc_custody.console.render import (
    CustodianForm,
    HolderForm,
    ReviewerForm,
    Short,
    Staff,
    Text,
    Watcher,
    back,
    confirmed,
    page,
    with_cookie,
)
from bwc_custody.console.session import ConsoleUser
from bwc_custody.custody.service import entries_for
from bwc_custody.deps import RowId, SessionDep, client_addr, stream_range
from bwc_custody.errors import InvalidInput, validated
from bwc_custody.evidence.service import find as find_evidence
from bwc_custody.flows import requests as flow
from bwc_custody.flows.models import RequestView
from bwc_custody.redactions.service import list_derivatives, open_derivative
from bwc_custody.releases import coverage
from bwc_custody.releases import service as releases
from bwc_custody.releases.models import CoverageReport, SubmitBody
from bwc_custody.requests import service as requests
from bwc_custody.requests.models import FactsUpdate, RequestCreate
from bwc_custody.roles import Role
from bwc_custody.tags.service import effective_tags
from bwc_custody.vault.service import get_agency_ca, get_keyring, get_signer, get_store
from policies.calendar import kentucky_today
from policies.engine import whole_heads_rules
from policies.vocabulary import FORMS, REQUESTER_TYPES
from review.workflow import TRANSITIONS, available

router = APIRouter()


# The queues a request can sit in, each named for what is to be done next.
QUEUES: dict[str, str] = {
    "mine": "Waiting for me",
    "new": "To decide and redact",
    "returned": "Sent back by legal review",
    "approved": "Approved: release now",
    "due": "Answer due today or overdue",
    "review": "In legal review",
    "open": "All open",
    "answered": "Answered",
    "closed": "Closed",
    "all": "All",
}


def _queues_of(view: RequestView, today: dt.date) -> set[str]:
    """The queues one request is in."""
    found = {"all", view.state}
    if view.state != "open":
        return found
    items = view.recordings
    if not items or any(i.state == "open" and i.returned is None for i in items):
        found.add("new")
    if any(i.returned is not None for i in items):
        found.add("returned")
    if any(i.state == "approved" for i in items):
        found.add("approved")
    if any(i.state == "in_review" for i in items):
        found.add("review")
    if view.deadline <= today:
        found.add("due")
    return found


def _mine(user: ConsoleUser) -> set[str]:
    """What each role works on first: the custodian what waits on them, the legal reviewer
    what is before them; an auditor watches everything open."""
    wanted: set[str] = set()
    if user.has(Role.custodian):
        wanted |= {"new", "returned", "approved", "due"}
    if user.has(Role.legal_reviewer):
        wanted |= {"review"}
    return wanted or {"open"}


@router.get("/")
def queue(request: Request, session: SessionDep, user: Staff,
          show: Annotated[str, Query(max_length=20)] = "mine") -> Response:
    """Requests, soonest deadline first, in the queue asked for (by default what waits on
    this user): each with its recordings' states and decisions in plain words."""
    show = show if show in QUEUES else "mine"
    today = kentucky_today()
    views = flow.views_of(session=session, actor=user.principal,
                          rows=requests.list_requests(session=session, actor=user.principal))
    placed = [(v, _queues_of(v, today)) for v in views]
    mine = _mine(user)
    for _view, queues in placed:
        if queues & mine:
            queues.add("mine")
    counts = {name: sum(1 for _v, q in placed if name in q) for name in QUEUES}
    shown = [v for v, q in placed if show in q]
    # what each file under review will take counsel to watch, to plan the queue with
    review = coverage.review_times(session=session, item_ids=[
        i.id for v in shown for i in v.recordings if i.state == "in_review"])
    return page(request, user, "requests.html", show=show, queues=QUEUES, counts=counts,
                today=today, requester_types=REQUESTER_TYPES, forms=FORMS, requests=shown,
                review_times=review)


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
        rounds = [x for x in all_rounds if x.item_id == item.id]
        # a reviewer sees what they have watched of the file under review
        watching = next((x for x in rounds if x.outcome is None), None) \
            if item.state == "in_review" and user.has(Role.legal_reviewer) else None
        copies = list_derivatives(session=session, evidence_id=item.evidence_id)
        items.append({
            "item": item, "actions": {t.name for t in available(state=item.state,
                                                                 roles=roles)},
            "rounds": rounds,
            "coverage": coverage.of_round(session=session, round_=watching,
                                          reviewer=user.principal.username)
            if watching else None,
            # what may be submitted: redacted copies (the server signs one per submission),
            # each with what its review will take (flagged footage is watched at 1x)
            "derivatives": [d for d in copies if d.kind == "redacted"],
            "review_times": {d.id: coverage.review_time(session=session, derivative=d)
                             for d in copies if d.kind == "redacted"}
            if user.has(Role.custodian) else {},
            # the rules asking for whole heads: a copy without them is refused (heads_required)
            "heads": whole_heads_rules(item.decision.decision) if item.decision else [],
            # the signed copies under review: the reviewer reads what their manifest says
            "signed": {d.id: d for d in copies if d.kind == "signed"},
            "tags": sorted(effective_tags(session=session, evidence_id=item.evidence_id))})
    return page(request, user, "request.html", r=view, today=kentucky_today(), items=items,
                decisions=requests.decisions(session=session, request_id=request_id),
                transitions=TRANSITIONS,
                can_link=user.has(Role.custodian) and row.state == "open",
                can_appeal=user.has(Role.custodian, Role.legal_reviewer),
                history=history(session, user, request_id))


def history(session: Session, user: ConsoleUser, target_id: str) -> list[Any] | None:
    """The custody entries about `target_id`, for an auditor (who alone reads the log, as
    in the API); None for everyone else."""
    return entries_for(session=session, target_id=target_id) if user.has(Role.auditor) else None


def _request_url(request_id: str) -> str:
    return f"/console/requests/{request_id}"


@router.post("/requests/{request_id}/link")
def link(request_id: str, request: Request, session: SessionDep, user: CustodianForm,
         evidence_ids: Text = "",
         pick: Annotated[list[str], Form(max_length=100)] = []) -> Response:  # noqa: B006
    """Name the recordings asked for (picked from the list, or ids or their first characters
    typed); the policy engine decides each on its tags."""
    chosen = _evidence_ids(session, evidence_ids) + [
        find_evidence(session=session, ref=ref[:36]).id for ref in pick]
    if not chosen:
        raise InvalidInput("name at least one recording: tick it in the list or type its id",
                           field="evidence_ids")
    flow.link_recordings(session=session, request_id=request_id,
                         evidence_ids=list(dict.fromkeys(chosen)),
                         actor=user.principal, client_addr=client_addr(request))
    return back(request, user, _request_url(request_id), "linked")


@router.post("/requests/{request_id}/recordings/{item_id}/submit")
def submit(request_id: str, item_id: str, request: Request, session: SessionDep,
           user: CustodianForm, derivative_id: Short, note: Text = "") -> Response:
    """Put one redacted file of the recording before legal review."""
    releases.submit(session=session, store=get_store(), keyring=get_keyring(),
                    ca=get_agency_ca(), request_id=request_id, item_id=item_id,
                    body=validated(SubmitBody, {"derivative_id": derivative_id, "note": note}),
                    actor=user.principal, client_addr=client_addr(request))
    return back(request, user, _request_url(request_id), "submitted")


@router.post("/requests/{request_id}/recordings/{item_id}/deny")
def deny(request_id: str, item_id: str, request: Request, session: SessionDep,
         user: CustodianForm, explanation: Text = "", confirm: Short = "") -> Response:
    """Deny the recording: the decision's exceptions and how they apply; the written
    response goes out once every recording is answered (the box must be ticked)."""
    confirmed(confirm, "denying the recording")
    releases.deny(session=session, signer=get_signer(), request_id=request_id,
                  item_id=item_id, explanation=explanation, actor=user.principal,
                  client_addr=client_addr(request))
    return back(request, user, _request_url(request_id), _answered("denied", request_id,
                                                                   session))


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


@router.post("/requests/{request_id}/recordings/{item_id}/coverage")
def report_coverage(request_id: str, item_id: str, request: Request, session: SessionDep,
                    user: ReviewerForm,
                    ranges: Annotated[str, Form(max_length=64_000)] = "") -> Response:
    """What the page's player played of the file under review (static/coverage.js sends it:
    `ranges` is JSON, [{start, end, rate}, ...]); answers the redrawn coverage panel."""
    try:
        played = json.loads(ranges or "[]")
    except ValueError as exc:
        raise InvalidInput("the played ranges are not JSON", field="ranges") from exc
    seen = coverage.report(session=session, request_id=request_id, item_id=item_id,
                           body=validated(CoverageReport, {"ranges": played}),
                           actor=user.principal, client_addr=client_addr(request))
    return page(request, user, "_coverage.html", cov=seen, player=f"player-{seen.round_id}")


@router.post("/requests/{request_id}/recordings/{item_id}/approve")
def approve(request_id: str, item_id: str, request: Request, session: SessionDep,
            user: ReviewerForm, reason: Text = "", attestation: Text = "") -> Response:
    """Sign off on the file under review (after watching it: all of it, or with the written
    attestation of why the rest need not be watched), with the written basis."""
    releases.approve(session=session, store=get_store(), keyring=get_keyring(),
                     signer=get_signer(), request_id=request_id, item_id=item_id,
                     reason=reason, attestation=attestation, actor=user.principal,
                     client_addr=client_addr(request))
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
            user: CustodianForm, explanation: Text = "", confirm: Short = "") -> Response:
    """Release exactly the approved file (checked against the signed approval first; the box
    must be ticked)."""
    confirmed(confirm, "releasing the file to the requester")
    releases.release(session=session, store=get_store(), keyring=get_keyring(),
                     signer=get_signer(), request_id=request_id, item_id=item_id,
                     explanation=explanation, actor=user.principal,
                     client_addr=client_addr(request))
    return back(request, user, _request_url(request_id), _answered("released", request_id,
                                                                   session))


def _answered(done: str, request_id: str, session: Session) -> str:
    """`done`, or `done, answered` when that step answered the whole request."""
    whole = requests.get_or_raise(session=session, request_id=request_id)
    return f"{done}, answered" if whole.state == "answered" else done


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
          request_id: Annotated[str | None, Query(min_length=1, max_length=36)] = None
          ) -> Response:
    """The redacted file, played in the page, with byte ranges (a player seeks); each fetch
    logged as `derivative.stream`."""
    wanted = request.headers.get("range", "")
    _row, obj, reader = open_derivative(
        session=session, store=get_store(), keyring=get_keyring(), derivative_id=derivative_id,
        part="video", actor=user.principal,
        reason=f"console review of request {request_id}" if request_id
        else "console: the recording's page", wanted=wanted, client_addr=client_addr(request))
    return with_cookie(stream_range(session, reader, wanted, media_type="video/mp4",
                                    sha256=obj.sha256), request, user)
