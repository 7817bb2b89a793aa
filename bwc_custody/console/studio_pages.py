"""The redaction studio in the console (custodians only): everyone the person count found with
their faces and a "keep visible" switch, the original and a redacted copy side by side playing
in sync, boxes drawn on a paused frame (fixed or followed), blackout and mute ranges, a
timeline of faces, people, choices and review flags, and a button that queues the new copy.

The page's script (`static/studio.js`) holds the choices until they are rendered and talks to
the JSON routes here; every route calls `flows.studio`, which calls the same services as the
API (`POST /api/v1/evidence/{id}/redactions` takes the same choices)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import JSONResponse, Response

from bwc_custody.console.render import Custodian, CustodianForm, back, page, with_cookie
from bwc_custody.console.session import ConsoleUser
from bwc_custody.deps import SessionDep, client_addr, stream_range
from bwc_custody.errors import BwcError, InvalidInput, validated
from bwc_custody.evidence.service import open_original
from bwc_custody.flows import studio
from bwc_custody.jobs.service import list_jobs
from bwc_custody.redactions.models import RedactionRequest
from bwc_custody.tags.analysis import request_analysis as queue_analysis
from bwc_custody.vault.service import get_keyring, get_store
from redaction.regions import Keyframe
from redaction.speech_match import LEVEL_PRECISION

router = APIRouter()
Copy = Annotated[str | None, Query(max_length=36)]


def _json(request: Request, user: ConsoleUser, body: Any, status: int = 200) -> Response:
    """A JSON answer for the studio's script, with the console's headers."""
    return with_cookie(JSONResponse(body, status_code=status), request, user)


def _refusal(request: Request, user: ConsoleUser, exc: BwcError) -> Response:
    """A refusal the script shows beside what was refused (the choices stay on the page)."""
    return _json(request, user, exc.to_dict(), exc.status)


@router.get("/evidence/{evidence_id}/studio")
def studio_page(evidence_id: str, request: Request, session: SessionDep, user: Custodian,
                copy: Copy = None) -> Response:
    """The studio: people, players, timeline, choices, render (opening it is logged with the
    faces shown)."""
    s = studio.open_studio(session=session, store=get_store(), keyring=get_keyring(),
                           evidence_id=evidence_id, actor=user.principal,
                           client_addr=client_addr(request))
    shown = next((c for c in s.copies if c.id == copy), s.copies[0] if s.copies else None)
    return page(request, user, "studio.html", s=s, e=s.evidence, copy=shown,
                jobs=list_jobs(session=session, evidence_id=evidence_id, limit=5),
                levels=LEVEL_PRECISION)


@router.get("/evidence/{evidence_id}/studio/original")
def studio_original(evidence_id: str, request: Request, session: SessionDep,
                    user: Custodian) -> Response:
    """The original for the studio's player, with byte ranges (a player seeks); each fetch
    logged as `evidence.stream`."""
    wanted = request.headers.get("range", "")
    evidence, reader = open_original(
        session=session, store=get_store(), keyring=get_keyring(), evidence_id=evidence_id,
        actor=user.principal, reason=studio.SHOWN_ON, wanted=wanted,
        client_addr=client_addr(request))
    return with_cookie(stream_range(session, reader, wanted, media_type="video/mp4",
                                    sha256=evidence.sha256), request, user)


@router.get("/evidence/{evidence_id}/studio/copies/{copy_id}")
def studio_copy(evidence_id: str, copy_id: str, request: Request, session: SessionDep,
                user: Custodian) -> Response:
    """A redacted copy for the studio's second player, with byte ranges; each fetch logged
    as `derivative.stream`."""
    wanted = request.headers.get("range", "")
    row, reader = studio.open_copy(
        session=session, store=get_store(), keyring=get_keyring(), evidence_id=evidence_id,
        copy_id=copy_id, actor=user.principal, wanted=wanted,
        client_addr=client_addr(request))
    return with_cookie(stream_range(session, reader, wanted, media_type="video/mp4",
                                    sha256=row.sha256), request, user)


@router.get("/evidence/{evidence_id}/studio/timeline")
def studio_timeline(evidence_id: str, request: Request, session: SessionDep, user: Custodian,
                    copy: Copy = None) -> Response:
    """Faces and people per second, and a copy's flags and choices, for the timeline."""
    return _json(request, user, studio.timeline(
        session=session, store=get_store(), keyring=get_keyring(), evidence_id=evidence_id,
        copy_id=copy))


@router.get("/evidence/{evidence_id}/studio/boxes")
def studio_boxes(evidence_id: str, request: Request, session: SessionDep, user: Custodian,
                 copy: Annotated[str, Query(min_length=1, max_length=36)]) -> Response:
    """Where a copy blurred faces, to outline them on the original (its manifest: logged)."""
    return _json(request, user, studio.copy_boxes(
        session=session, store=get_store(), keyring=get_keyring(), evidence_id=evidence_id,
        copy_id=copy, actor=user.principal, client_addr=client_addr(request)))


@router.post("/evidence/{evidence_id}/studio/count")
def studio_count(evidence_id: str, request: Request, session: SessionDep,
                 user: CustodianForm) -> Response:
    """Queue the person count from the studio, and come back to it (it reloads itself when
    the count is done)."""
    queue_analysis(session=session, evidence_id=evidence_id, actor=user.principal,
                   client_addr=client_addr(request))
    return back(request, user, f"/console/evidence/{evidence_id}/studio", "person+count+queued")


@router.post("/evidence/{evidence_id}/studio/follow")
def studio_follow(evidence_id: str, request: Request, session: SessionDep,
                  user: CustodianForm, start: Annotated[float, Form(ge=0)],
                  end: Annotated[float, Form(gt=0)],
                  anchors: Annotated[str, Form(max_length=20_000)]) -> Response:
    """Follow a drawn box through its time (forward and back from where it was drawn and
    corrected), for the page to show before rendering; the original's reading is logged."""
    try:
        given = json.loads(anchors)
        if not isinstance(given, list) or not given:
            raise InvalidInput("anchors: a list of {t, box}", field="anchors")
        marks = [validated(Keyframe, a) for a in given]
        return _json(request, user, studio.follow_box(
            session=session, store=get_store(), keyring=get_keyring(),
            evidence_id=evidence_id, start=start, end=end, anchors=marks,
            actor=user.principal, client_addr=client_addr(request)))
    except json.JSONDecodeError:
        return _refusal(request, user, InvalidInput("anchors is not JSON", field="anchors"))
    except BwcError as exc:
        session.rollback()
        return _refusal(request, user, exc)


@router.post("/evidence/{evidence_id}/studio/render")
def studio_render(evidence_id: str, request: Request, session: SessionDep,
                  user: CustodianForm, choices: Annotated[str, Form(max_length=2_000_000)],
                  opened: Annotated[int, Form(ge=1, le=2**62)]) -> Response:
    """Queue the copy the choices describe; a refusal comes back with its code and problems,
    nothing queued, the choices still on the page."""
    try:
        body = validated(RedactionRequest, json.loads(choices))
        job = studio.render(session=session, evidence_id=evidence_id, body=body,
                            opened_seq=opened, actor=user.principal,
                            client_addr=client_addr(request))
    except json.JSONDecodeError:
        return _refusal(request, user, InvalidInput("choices is not JSON", field="choices"))
    except BwcError as exc:
        session.rollback()
        return _refusal(request, user, exc)
    return _json(request, user, {
        "job_id": job.id, "next": f"/console/evidence/{evidence_id}/studio?done=copy+queued"})
