"""Console pages for recordings: the list (searched, filtered, paged, with a poster frame of
each, faces blurred), one recording (metadata, its requests, tags with where each came from,
its facts, redacted copies to play and name, jobs with live progress, retention and holds),
the original played with a stated reason, the 3-day notifications and the list due for
destruction. Each form calls the same flow or service as the API."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from sqlmodel import Session

from bwc_custody.console.render import (
    Custodian,
    CustodianForm,
    HolderForm,
    Short,
    Staff,
    Text,
    Watcher,
    back,
    confirmed,
    fragment,
    page,
    with_cookie,
)
from bwc_custody.console.requests_pages import history
from bwc_custody.deps import RowId, SessionDep, client_addr, stream_range
from bwc_custody.errors import BwcError, validated
from bwc_custody.evidence.service import get_or_raise, open_original, read_posters
from bwc_custody.flows import recordings, tagging
from bwc_custody.flows.redactions import heads_asked
from bwc_custody.flows.redactions import request_redaction as queue_redaction
from bwc_custody.jobs.service import Pace, list_jobs, pace
from bwc_custody.redactions.models import RedactionRequest
from bwc_custody.redactions.service import (
    label_derivative,
    list_derivatives,
    list_speech_searches,
    request_speech_search,
)
from bwc_custody.requests import service as requests
from bwc_custody.retention import service as retention
from bwc_custody.retention.models import CaseClose, HoldCreate, HoldKind
from bwc_custody.tags import service as tags
from bwc_custody.tags.analysis import request_analysis as queue_analysis
from bwc_custody.tags.models import NotificationDone, RecordingFactsUpdate
from bwc_custody.timeutil import utcnow
from bwc_custody.vault.service import get_keyring, get_store
from policies.vocabulary import TAGS
from redaction.speech_match import LEVEL_HELP, LEVEL_PRECISION
from redaction.speech_models import parse_terms

router = APIRouter()
_FILTERS = ("q", "received_from", "received_to", "recorded_from", "recorded_to", "campus",
            "officer", "case_number", "incident_type", "tag", "retention", "open_request")
_ACTIVE = ("queued", "running")


def _evidence_url(evidence_id: str) -> str:
    return f"/console/evidence/{evidence_id}"


@router.get("/evidence")
def recordings_list(request: Request, session: SessionDep, user: Staff,
                    page_no: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
                    for_request: Annotated[str | None, Query(max_length=36)] = None
                    ) -> Response:
    """Recordings, newest first, filtered by what the form asks; with `for_request`, each can
    be picked and linked to that request. Posters shown are logged in one entry."""
    given: dict[str, Any] = {k: request.query_params.get(k, "").strip() for k in _FILTERS}
    given["open_request"] = {"yes": True, "no": False}.get(given["open_request"], "")
    problem: BwcError | None = None
    try:
        query = recordings.parse_query({**given, "limit": 25, "offset": (page_no - 1) * 25})
        found = recordings.search(session=session, query=query)
    except BwcError as exc:  # the filters stay on the page with what was wrong
        problem, found = exc, recordings.RecordingPage(total=0, offset=0, limit=25, rows=[])
    posters = {k: base64.b64encode(v).decode() for k, v in read_posters(
        session=session, store=get_store(), keyring=get_keyring(),
        evidence_ids=[r.id for r in found.rows if r.has_poster], actor=user.principal,
        client_addr=client_addr(request), shown_on="console: the recordings list").items()}
    picking = None
    if for_request and user.has("custodian"):
        target = requests.get_or_raise(session=session, request_id=for_request)
        picking = target if target.state == "open" else None
    shown = {k: request.query_params.get(k, "") for k in _FILTERS}
    context: dict[str, Any] = {
        "found": found, "posters": posters, "given": shown,
        "qs": urlencode({k: v for k, v in shown.items() if v}
                        | ({"for_request": picking.id} if picking else {})),
        "tags": sorted(TAGS), "problem": problem, "page_no": page_no, "picking": picking,
        "pages": max(1, -(-found.total // 25))}
    if fragment(request):
        return page(request, user, "_recordings_table.html", status=problem.status
                    if problem else 200, **context)
    return page(request, user, "recordings.html", status=problem.status if problem else 200,
                **context)


def _redaction_paces(session: Session) -> dict[str, Pace]:
    """Seconds a redacted copy as this page asks for it (faces only, or with whole heads;
    the detector's default spacing) has taken per second of recording on this server, each
    where enough such copies have been made to tell."""
    def like(heads: bool) -> Callable[[dict[str, Any]], bool]:
        return lambda params: (bool(params.get("heads")) == heads
                               and params.get("detect_every") is None)

    paces = {"faces": pace(session=session, kind="redaction", like=like(False)),
             "heads": pace(session=session, kind="redaction", like=like(True))}
    return {k: v for k, v in paces.items() if v is not None}


@router.get("/evidence/{evidence_id}/original")
def watch_original(evidence_id: str, request: Request, session: SessionDep, user: Watcher,
                   reason: Annotated[str, Query(min_length=3, max_length=500)]) -> Response:
    """The original, played in the page, with byte ranges (a player seeks); each fetch logged
    as `evidence.stream` with the reason given."""
    wanted = request.headers.get("range", "")
    evidence, reader = open_original(
        session=session, store=get_store(), keyring=get_keyring(), evidence_id=evidence_id,
        actor=user.principal, reason=reason, wanted=wanted, client_addr=client_addr(request))
    return with_cookie(stream_range(session, reader, wanted, media_type="video/mp4",
                                    sha256=evidence.sha256), request, user)


@router.get("/evidence/{evidence_id}")
def evidence_page(evidence_id: str, request: Request, session: SessionDep,
                  user: Staff,
                  watch: Annotated[str | None, Query(max_length=500)] = None) -> Response:
    """One recording: metadata and poster, its requests, tags with provenance, its facts,
    redacted copies to play and name, jobs, retention and holds."""
    evidence = get_or_raise(session=session, evidence_id=evidence_id)
    poster = read_posters(session=session, store=get_store(), keyring=get_keyring(),
                          evidence_ids=[evidence_id], actor=user.principal,
                          client_addr=client_addr(request),
                          shown_on="console: the recording's page").get(evidence_id)
    all_tags = tags.list_tags(session=session, evidence_id=evidence_id)
    return page(request, user, "evidence.html",
                requests=requests.list_requests(session=session, actor=user.principal,
                                                evidence_id=evidence_id),
                e=evidence, poster=base64.b64encode(poster).decode() if poster else None,
                jobs=list_jobs(session=session, evidence_id=evidence_id, limit=20),
                tags=all_tags, in_force=sorted({t.name for t in all_tags if t.active}),
                tag_names=sorted(TAGS),
                facts=tags.recording_facts(session=session, evidence_id=evidence_id),
                derivatives=list_derivatives(session=session, evidence_id=evidence_id),
                speech=next(iter(list_speech_searches(session=session,
                                                      evidence_id=evidence_id)), None)
                if user.has("custodian") else None,
                retention=retention.status(session=session, evidence_id=evidence_id),
                # the requests whose decision asks for whole heads: the box comes ticked
                heads_asked=heads_asked(session=session, evidence_id=evidence_id)
                if user.has("custodian") else [],
                # what a copy will take on this server, at the pace of the last ones made
                paces=_redaction_paces(session) if user.has("custodian")
                and evidence.disposed_at is None and evidence.media_status == "video" else {},
                history=history(session, user, evidence_id),
                watch=watch.strip() if watch and len(watch.strip()) >= 3 else None,
                hold_kinds=list(HoldKind), levels=LEVEL_PRECISION, level_help=LEVEL_HELP)


@router.get("/evidence/{evidence_id}/jobs")
def jobs_fragment(evidence_id: str, request: Request, session: SessionDep, user: Staff,
                  watching: Annotated[str, Query(max_length=400)] = "") -> Response:
    """The recording's jobs, for the page to poll while any runs; when one it was watching
    has finished, the whole page reloads (a new copy, new tags)."""
    jobs = list_jobs(session=session, evidence_id=evidence_id, limit=20)
    was = set(filter(None, watching.split(",")))
    response = page(request, user, "_jobs.html", jobs=jobs,
                    e=get_or_raise(session=session, evidence_id=evidence_id))
    if any(j.id in was and j.state not in _ACTIVE for j in jobs):
        response.headers["HX-Refresh"] = "true"
    return response


@router.post("/evidence/{evidence_id}/redactions")
def request_redaction(evidence_id: str, request: Request, session: SessionDep,
                      user: CustodianForm, heads: Short = "", heads_asked: Short = "",
                      mute_sound: Short = "", speech_id: Short = "",
                      mute: Annotated[list[str], Form(max_length=2000)] = []  # noqa: B006
                      ) -> Response:
    """Queue a redaction that blurs every face (and with `heads`, every whole head); with
    `speech_id`, the ticked suggestions of that speech search are muted and the rest kept.
    The heads box comes ticked where a decision asks for whole heads (`heads_asked`): unticked
    there, the copy is made without them on purpose (and that request will refuse it)."""
    choice: dict[str, Any] | None = None
    if speech_id:
        row = next((r for r in list_speech_searches(session=session, evidence_id=evidence_id)
                    if str(r.id) == speech_id), None)
        ticked = set(mute)
        choice = {"analysis_id": row.id if row else 0, "decisions": [
            {"id": x["id"], "action": "accept" if str(x["id"]) in ticked else "reject"}
            for x in (row.suggestions if row else [])]}
    chosen = True if heads == "yes" else False if heads_asked == "yes" else None
    body = validated(RedactionRequest, {"heads": chosen,
                                        "mute_sound": mute_sound or None, "speech": choice})
    queue_redaction(session=session, evidence_id=evidence_id, body=body,
                    actor=user.principal, client_addr=client_addr(request))
    return back(request, user, _evidence_url(evidence_id), "redaction+queued")


@router.post("/evidence/{evidence_id}/speech")
def search_speech(evidence_id: str, request: Request, session: SessionDep,
                  user: CustodianForm, terms: Text = "", numbers: Short = "") -> Response:
    """Queue a search of the recording's speech for the names and places listed (one per
    line) and, when ticked, spoken numbers."""
    wanted = parse_terms({"terms": [t for t in terms.splitlines() if t.strip()],
                          "numbers": numbers == "yes"})
    request_speech_search(session=session, evidence_id=evidence_id, terms=wanted,
                          actor=user.principal, client_addr=client_addr(request))
    return back(request, user, _evidence_url(evidence_id), "speech+search+queued")


@router.post("/evidence/{evidence_id}/analysis")
def request_analysis(evidence_id: str, request: Request, session: SessionDep,
                     user: CustodianForm) -> Response:
    """Queue a person count (juvenile and multi-student tags)."""
    queue_analysis(session=session, evidence_id=evidence_id, actor=user.principal,
                   client_addr=client_addr(request))
    return back(request, user, _evidence_url(evidence_id), "person+count+queued")


@router.post("/evidence/{evidence_id}/tags")
def add_tag(evidence_id: str, request: Request, session: SessionDep, user: CustodianForm,
            name: Short, reason: Text = "") -> Response:
    """Tag the recording, with a reason; its open requests are decided again."""
    tagging.add_tag(session=session, evidence_id=evidence_id, name=name, source="custodian",
                    actor=user.principal, reason=reason, client_addr=client_addr(request))
    return back(request, user, _evidence_url(evidence_id), "tagged")


@router.post("/evidence/{evidence_id}/tags/remove")
def remove_tag(evidence_id: str, request: Request, session: SessionDep, user: CustodianForm,
               name: Short, reason: Text = "") -> Response:
    """Remove a tag (every source), with a reason; its open requests are decided again."""
    tagging.remove_tag(session=session, evidence_id=evidence_id, name=name,
                       actor=user.principal, reason=reason, client_addr=client_addr(request))
    return back(request, user, _evidence_url(evidence_id), "untagged")


@router.post("/evidence/{evidence_id}/facts")
def set_facts(evidence_id: str, request: Request, session: SessionDep, user: CustodianForm,
              reason: Text = "", juvenile_tried_as_adult: Short = "",
              articulated_harm: Text = "") -> Response:
    """Set what the custodian knows of the recording; its open requests are decided again."""
    body = validated(RecordingFactsUpdate, {
        "juvenile_tried_as_adult": juvenile_tried_as_adult == "yes",
        "articulated_harm": articulated_harm.strip() or None, "reason": reason})
    tagging.set_recording_facts(session=session, evidence_id=evidence_id, body=body,
                                actor=user.principal, client_addr=client_addr(request))
    return back(request, user, _evidence_url(evidence_id), "facts+set")


@router.post("/evidence/{evidence_id}/derivatives/{derivative_id}/label")
def label_copy(evidence_id: str, derivative_id: str, request: Request, session: SessionDep,
               user: CustodianForm, label: Short = "") -> Response:
    """Name a redacted copy so it can be told from the others."""
    label_derivative(session=session, derivative_id=derivative_id, label=label[:120],
                     actor=user.principal, client_addr=client_addr(request))
    return back(request, user, _evidence_url(evidence_id), "labelled")


@router.post("/evidence/{evidence_id}/holds")
def place_hold(evidence_id: str, request: Request, session: SessionDep, user: HolderForm,
               kind: Short, reason: Text = "", reference: Short = "",
               tag_investigation_open: Short = "") -> Response:
    """Hold the recording past its schedule, with a reason; an investigation hold may also
    tag it `investigation_open` (what withholds it from requesters)."""
    body = validated(HoldCreate, {"kind": kind, "reference": reference, "reason": reason,
                                  "tag_investigation_open": tag_investigation_open == "yes"})
    tagging.place_hold(session=session, store=get_store(), evidence_id=evidence_id, body=body,
                       actor=user.principal, client_addr=client_addr(request))
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
            reason: Text = "", confirm: Short = "") -> Response:
    """Destroy a recording due under its schedule (the box must be ticked)."""
    confirmed(confirm, "destroying the recording and its copies cannot be undone")
    retention.dispose(session=session, store=get_store(), evidence_id=evidence_id,
                      reason=reason, actor=user.principal, client_addr=client_addr(request))
    return back(request, user, _evidence_url(evidence_id), "destroyed")


@router.get("/retention")
def retention_due(request: Request, session: SessionDep, user: Staff) -> Response:
    """Recordings due for destruction now, oldest first."""
    return page(request, user, "retention.html", due=retention.due(session=session))


@router.get("/notifications")
def notifications(request: Request, session: SessionDep, user: Custodian,
                  show: Annotated[str, Query(pattern="^(open|all)$")] = "open") -> Response:
    """The district's 3-day notices owed (detention under 18, arrest, firearm or Taser),
    soonest due first, to mark as given."""
    rows = tags.list_notifications(session=session, open_only=show == "open")
    return page(request, user, "notifications.html", rows=rows, show=show, now=utcnow(),
                evidence=_evidence_of(session, [r.evidence_id for r in rows]))


def _evidence_of(session: Session, ids: list[str]) -> dict[str, Any]:
    return {i: get_or_raise(session=session, evidence_id=i) for i in set(ids)}


@router.post("/notifications/{notification_id}/done")
def notification_done(notification_id: RowId, request: Request, session: SessionDep,
                      user: CustodianForm, note: Text = "") -> Response:
    """Record how and to whom the notice was given."""
    body = validated(NotificationDone, {"note": note})
    tags.mark_notification_done(session=session, notification_id=notification_id,
                                actor=user.principal, note=body.note,
                                client_addr=client_addr(request))
    return back(request, user, "/console/notifications", "notice+given")
