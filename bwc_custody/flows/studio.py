"""The redaction studio: a custodian sees everyone the person count found, chooses who stays
visible, boxes what else identifies a student, checks it against a copy, and renders a new
copy through the job queue. It spans the person count (tags), the copies (redactions) and
the original (evidence), so it is a flow; the console's studio page calls only this.

Each opening is logged (`studio.open`: the faces shown), each followed-box preview
(`studio.follow`: the original was read to follow it), and each render closes the session
(`studio.session`: when it opened, what was chosen, the job queued), beside the queue's own
`redaction.queued` entry with every choice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from bwc_custody.auth.service import Principal
from bwc_custody.custody import service as custody
from bwc_custody.custody.models import CustodyEntry
from bwc_custody.errors import InvalidInput
from bwc_custody.evidence.models import Evidence
from bwc_custody.evidence.service import get_or_raise as get_evidence_or_raise
from bwc_custody.evidence.service import original_reader, require_not_disposed
from bwc_custody.flows.redactions import request_redaction
from bwc_custody.jobs.models import Job
from bwc_custody.redactions.models import Derivative, RedactionRequest
from bwc_custody.redactions.service import (
    displayed_frame,
    list_derivatives,
    list_speech_searches,
    open_derivative,
)
from bwc_custody.tags.analysis import latest_analysis
from bwc_custody.tags.errors import AnalysisNotFound, PeopleNotStored
from bwc_custody.tags.models import PeopleRead
from bwc_custody.tags.people import list_people, read_document
from bwc_custody.timeutil import utcnow
from bwc_custody.vault.loopback import serve_plaintext
from redaction.follow import follow
from redaction.regions import Keyframe, parse_regions
from storage.crypto import RangeReader
from storage.keys import Keyring
from storage.objectstore import ObjectStore

SHOWN_ON = "console: the redaction studio"


@dataclass
class Studio:
    """What the studio page shows: the recording, its people (with thumbnails), its copies,
    the frame and clock boxes are drawn on, and the custody entry that opened the session."""

    evidence: Evidence
    people: PeopleRead | None
    copies: list[Derivative]
    width: int
    height: int
    duration: float
    fps: float
    opened: CustodyEntry


def open_studio(*, session: Session, store: ObjectStore, keyring: Keyring, evidence_id: str,
                actor: Principal, client_addr: str = "") -> Studio:
    """Open a studio session on a recording: its people with their face thumbnails (logged
    as shown), its copies, and a `studio.open` entry that the render names."""
    evidence = require_not_disposed(get_evidence_or_raise(session=session,
                                                          evidence_id=evidence_id))
    try:
        people: PeopleRead | None = list_people(
            session=session, store=store, keyring=keyring, evidence_id=evidence_id,
            actor=actor, thumbnails=True, client_addr=client_addr, shown_on=SHOWN_ON)
    except AnalysisNotFound:
        people = None
    width, height, duration, fps = displayed_frame(evidence)
    opened = custody.append(session=session, actor=actor, action="studio.open",
                            target_type="evidence", target_id=evidence_id,
                            client_addr=client_addr,
                            details={"analysis_id": people.analysis_id if people else None,
                                     "people": len(people.people) if people else 0})
    return Studio(evidence=evidence, people=people,
                  copies=list_derivatives(session=session, evidence_id=evidence_id),
                  width=width, height=height, duration=float(duration or 0.0),
                  fps=float(fps or 0.0), opened=opened)


def open_copy(*, session: Session, store: ObjectStore, keyring: Keyring, evidence_id: str,
              copy_id: str, actor: Principal, wanted: str, client_addr: str = ""
              ) -> tuple[Derivative, RangeReader]:
    """A copy's plaintext reader for the studio's second player, each fetch logged as
    `derivative.stream`."""
    row, _obj, reader = open_derivative(session=session, store=store, keyring=keyring,
                                        derivative_id=copy_id, part="video", actor=actor,
                                        reason=f"{SHOWN_ON}: comparing", wanted=wanted,
                                        client_addr=client_addr)
    if row.evidence_id != evidence_id:
        raise InvalidInput("that copy is of another recording", copy_id=copy_id)
    return row, reader


def timeline(*, session: Session, store: ObjectStore, keyring: Keyring, evidence_id: str,
             copy_id: str | None = None) -> dict[str, Any]:
    """The studio's timeline: faces found and people present in each second and where the
    picture cuts to another scene (from the newest person count), the review flags and
    choices of one copy (the newest by default), and the newest speech search's suggested
    mutes for the custodian to answer on the timeline (the words heard, as the recording
    page shows them; the full transcript stays behind its logged read).
    No faces: read with the page, not logged again."""
    evidence = require_not_disposed(get_evidence_or_raise(session=session,
                                                          evidence_id=evidence_id))
    width, height, duration, fps = displayed_frame(evidence)
    out: dict[str, Any] = {"duration": float(duration or 0.0), "fps": float(fps or 0.0),
                           "width": width, "height": height, "seconds": [], "people": [],
                           "cuts": [],
                           "flags": [], "copy": None,
                           "speech": _speech(session, evidence_id)}
    try:
        row = latest_analysis(session=session, evidence_id=evidence_id)
        assert row.id is not None
        doc = read_document(session=session, store=store, keyring=keyring,
                            evidence_id=evidence_id, analysis_id=row.id)
        out |= _per_second(doc, row.id, out["duration"])
    except (AnalysisNotFound, PeopleNotStored):
        pass  # never counted, or counted before faces were kept: no faces on the timeline
    copies = list_derivatives(session=session, evidence_id=evidence_id)
    chosen = next((c for c in copies if c.id == copy_id), copies[0] if copies else None)
    if chosen is not None:
        out["flags"] = chosen.flags
        out["copy"] = {"id": chosen.id, "label": chosen.label,
                       "regions": chosen.request.get("regions", {}),
                       "keep_persons": [p.get("id") for p in
                                        chosen.request.get("keep_persons", [])]}
    return out


def _speech(session: Session, evidence_id: str) -> dict[str, Any] | None:
    """The newest speech search, for the timeline: its suggestions in time order (each
    answered there and sent with the render as the request's `speech`), or None."""
    row = next(iter(list_speech_searches(session=session, evidence_id=evidence_id)), None)
    if row is None:
        return None
    return {"id": row.id, "has_audio": row.has_audio, "created_by": row.created_by,
            "created_at": row.created_at.isoformat(),
            "suggestions": sorted(row.suggestions, key=lambda x: (x["start"], x["id"]))}


def _per_second(doc: dict[str, Any], analysis_id: int, duration: float) -> dict[str, Any]:
    """Faces found and people present in each second, and each person's seen stretches."""
    fps = float(doc["fps"]) or 1.0
    every = int(doc.get("sample_every") or max(1, round(fps / 5)))
    n = max(1, int(duration or doc.get("frames_total", 0) / fps) + 1)
    faces = [0] * n
    present: list[set[int]] = [set() for _ in range(n)]
    stretches: dict[int, list[list[float]]] = {}
    for t in doc["tracks"]:
        frames = [int(o[0]) for o in t["obs"]]
        for f in frames:
            faces[min(n - 1, int(f / fps))] += 1
        if t["person"] is None or not frames:
            continue
        for s in range(int(frames[0] / fps), min(n - 1, int(frames[-1] / fps)) + 1):
            present[s].add(int(t["person"]))
        # a person's stretches: the track's frames, split where it was not seen for a while
        runs = stretches.setdefault(int(t["person"]), [])
        start = prev = frames[0]
        for f in frames[1:]:
            if f - prev > 3 * every:
                runs.append([round(start / fps, 2), round((prev + every) / fps, 2)])
                start = f
            prev = f
        runs.append([round(start / fps, 2), round((prev + every) / fps, 2)])
    return {"cuts": [round(int(c) / fps, 3) for c in doc.get("cuts", [])],
            "seconds": [{"t": s, "faces": faces[s], "people": len(present[s])}
                        for s in range(n)],
            "people": [{"id": f"{analysis_id}-{p}", "stretches": sorted(r)}
                       for p, r in sorted(stretches.items())]}


def copy_boxes(*, session: Session, store: ObjectStore, keyring: Keyring, evidence_id: str,
               copy_id: str, actor: Principal, client_addr: str = "") -> dict[str, Any]:
    """Where a copy blurred faces, frame by frame (its manifest, read as footage is: logged
    as `derivative.manifest`), to outline on the original: [time, [[x0, y0, x1, y1], ...]]
    for every frame with a box, and the boxes it kept sharp apart."""
    row, _obj, reader = open_derivative(session=session, store=store, keyring=keyring,
                                        derivative_id=copy_id, part="manifest", actor=actor,
                                        reason=SHOWN_ON + ": outlining what it blurred",
                                        client_addr=client_addr)
    if row.evidence_id != evidence_id:
        raise InvalidInput("that copy is of another recording", copy_id=copy_id)
    manifest = json.loads(b"".join(reader.iter_plaintext()))
    frames = []
    for f in manifest.get("frames", []):
        kept = [r[1:5] for r in f[1] if r[7]]
        frames.append([round(float(f[3]), 3), f[2], kept])
    return {"copy": copy_id, "frames": frames,
            "regions": manifest.get("regions", {}), "width": manifest["output"]["width"],
            "height": manifest["output"]["height"]}


def follow_box(*, session: Session, store: ObjectStore, keyring: Keyring, evidence_id: str,
               start: float, end: float, anchors: list[Keyframe], actor: Principal,
               client_addr: str = "") -> dict[str, Any]:
    """Follow a box the custodian drew through its time range (`redaction.follow`) for the
    studio to show before rendering; the original is read over loopback, never to disk, and
    the reading is logged (`studio.follow`). Refused like a request's box would be."""
    evidence = require_not_disposed(get_evidence_or_raise(session=session,
                                                          evidence_id=evidence_id))
    width, height, duration, fps = displayed_frame(evidence)
    probe = parse_regions({"boxes": [{"start": start, "end": end, "box": anchors[0].box,
                                      "at": anchors[0].t, "follow": True,
                                      "keyframes": [k.model_dump() for k in anchors[1:]]}]})
    if width and height:
        probe.check_within(width, height, duration, fps)
    reader = original_reader(session=session, store=store, keyring=keyring, evidence=evidence)
    with serve_plaintext(reader) as url:
        path, lost = follow(url, start=start, end=end, anchors=anchors)
    custody.append(session=session, actor=actor, action="studio.follow", target_type="evidence",
                   target_id=evidence_id, client_addr=client_addr,
                   reason=SHOWN_ON + ": following a box",
                   details={"start": start, "end": end, "keyframes": len(anchors),
                            "points": len(path), "moved_with_picture": len(lost)})
    return {"path": path, "lost": lost}


def render(*, session: Session, evidence_id: str, body: RedactionRequest, opened_seq: int,
           actor: Principal, client_addr: str = "") -> Job:
    """Queue the copy the studio's choices describe (checked whole: refused with its code and
    nothing queued), and close the session in the log: when it opened, what was chosen, the
    job."""
    opened = session.exec(select(CustodyEntry).where(CustodyEntry.seq == opened_seq)).first()
    if (opened is None or opened.action != "studio.open" or opened.target_id != evidence_id
            or opened.actor != actor.username):
        raise InvalidInput("the studio session is not yours or not of this recording: open "
                           "the studio again", opened=opened_seq)
    job = request_redaction(session=session, evidence_id=evidence_id, body=body, actor=actor,
                            client_addr=client_addr)
    regions = job.params.get("regions", {})
    boxes = regions.get("boxes", [])
    answered = {"speech": _speech_answers(body)} if body.speech is not None else {}
    custody.append(session=session, actor=actor, action="studio.session",
                   target_type="evidence", target_id=evidence_id, client_addr=client_addr,
                   details={**answered, "opened_seq": opened.seq,
                            "opened_at": opened.at.isoformat(),
                            "submitted_at": utcnow().isoformat(), "job_id": job.id,
                            "kept_persons": [p["id"] for p in job.params.get("keep_persons",
                                                                             [])],
                            "boxes": len(boxes),
                            "followed": sum(1 for b in boxes if b.get("follow")),
                            "blackout": len(regions.get("blackout", [])),
                            "mute": len(regions.get("mute", []))})
    return job


def _speech_answers(body: RedactionRequest) -> dict[str, Any]:
    """How the speech suggestions were answered in the studio (counts, never words)."""
    assert body.speech is not None
    acts = [d.get("action") for d in body.speech.decisions]
    return {"speech_id": body.speech.analysis_id, "accepted": acts.count("accept"),
            "rejected": acts.count("reject"),
            "widened": sum(1 for d in body.speech.decisions
                           if d.get("action") == "accept"
                           and (d.get("start") is not None or d.get("end") is not None))}
