"""The people of a recording: everyone its person count found (tracks joined into persons as
the count joins them), with a few face thumbnails each, for a custodian choosing who stays
visible in a redacted copy.

A count's faces (each track's boxes over time and its thumbnails, `redaction.analysis_faces`)
are stored encrypted beside the count (`people/<evidence_id>/<analysis_id>.json`), like the
poster frame; unlike the poster they show faces, so every reading for a person is logged.
A person's id is `<analysis id>-<person number>`: it names one count's person, so a count
run again later can never make an old choice mean someone else.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from bwc_custody.auth.service import Principal
from bwc_custody.custody import service as custody
from bwc_custody.evidence.service import get_or_raise as get_evidence_or_raise
from bwc_custody.evidence.service import require_not_disposed
from bwc_custody.tags.analysis import latest_analysis
from bwc_custody.tags.errors import PeopleNotStored, UnknownPerson
from bwc_custody.tags.models import AnalysisResult, PeopleRead, PersonRead, Thumbnail
from bwc_custody.vault import service as vault
from bwc_custody.vault.models import StoredObject
from redaction.analysis_faces import FORMAT, THUMBS_PER_PERSON
from storage.keys import Keyring
from storage.objectstore import ObjectStore

PERSON_ID = re.compile(r"^([1-9][0-9]{0,9})-([1-9][0-9]{0,5})$")


def people_key(evidence_id: str, analysis_id: int) -> str:
    """Where a person count's faces are stored (`storage/FORMAT.md`)."""
    return f"people/{evidence_id}/{analysis_id}.json"


def person_id(analysis_id: int, number: int) -> str:
    """The id a person is chosen by: `<analysis id>-<person number>`."""
    return f"{analysis_id}-{number}"


def store_people(*, session: Session, store: ObjectStore, keyring: Keyring, evidence_id: str,
                 analysis_id: int, document: dict[str, Any], actor: Principal) -> StoredObject:
    """Keep a person count's faces (`redaction.analysis_faces.people_document`) encrypted,
    and log it; returns the stored object."""
    require_not_disposed(get_evidence_or_raise(session=session, evidence_id=evidence_id))
    data = json.dumps({**document, "evidence_id": evidence_id, "analysis_id": analysis_id},
                      separators=(",", ":")).encode()
    obj = vault.store_plaintext(session=session, store=store, keyring=keyring,
                                source=io.BytesIO(data), key=people_key(evidence_id, analysis_id),
                                object_id=uuid.uuid4(), kind="people")
    tracks = document.get("tracks", [])
    custody.append(session=session, actor=actor, action="analysis.faces", target_type="evidence",
                   target_id=evidence_id,
                   details={"analysis_id": analysis_id, "key": obj.key, "sha256": obj.sha256,
                            "size": obj.size, "tracks": len(tracks),
                            "thumbnails": sum(len(t.get("thumbs", [])) for t in tracks)})
    return obj


def _stored(session: Session, evidence_id: str, analysis_id: int) -> StoredObject | None:
    obj = session.get(StoredObject, people_key(evidence_id, analysis_id))
    return obj if obj is not None and obj.disposed_at is None else None


def read_document(*, session: Session, store: ObjectStore, keyring: Keyring, evidence_id: str,
                  analysis_id: int) -> dict[str, Any]:
    """A count's faces, decrypted into memory (for the worker and the studio, which log what
    they do with them); PeopleNotStored for a count made before faces were kept."""
    obj = _stored(session, evidence_id, analysis_id)
    if obj is None:
        raise PeopleNotStored(
            f"person count {analysis_id} of recording {evidence_id} kept no faces (it was "
            "made before they were kept, or the recording was destroyed): run the person "
            "count again to choose people", evidence_id=evidence_id, analysis_id=analysis_id)
    doc: dict[str, Any] = json.loads(b"".join(
        vault.iter_plaintext(store=store, keyring=keyring, obj=obj)))
    if doc.get("format") != FORMAT:
        raise PeopleNotStored(f"person count {analysis_id} keeps its faces as "
                              f"{doc.get('format')!r}, not {FORMAT}",
                              evidence_id=evidence_id, analysis_id=analysis_id)
    return doc


def _persons(row: AnalysisResult, fps: float) -> list[PersonRead]:
    """The count's persons from its stored tracks (no thumbnails)."""
    assert row.id is not None
    by: dict[int, list[dict[str, Any]]] = {}
    for t in row.tracks:
        by.setdefault(int(t["person"]), []).append(t)
    out = []
    for number, ts in sorted(by.items()):
        first = min(int(t["first_frame"]) for t in ts)
        last = max(int(t["last_frame"]) for t in ts)
        out.append(PersonRead(
            id=person_id(row.id, number), analysis_id=row.id, number=number,
            first_s=round(first / fps, 2) if fps else 0.0,
            last_s=round(last / fps, 2) if fps else 0.0,
            first_frame=first, last_frame=last,
            track_ids=sorted(int(t["id"]) for t in ts),
            detections=sum(int(t["detections"]) for t in ts),
            max_score=max(float(t["max_score"]) for t in ts),
            enrolled_adult=ts[0].get("known_adult")))
    return out


def _thumbnails(doc: dict[str, Any], track_ids: Sequence[int], fps: float,
                with_jpeg: bool) -> list[Thumbnail]:
    """A person's best thumbnails over all their tracks, in time order."""
    wanted = set(track_ids)
    found = [(th, t["id"]) for t in doc["tracks"] if t["id"] in wanted and t["person"] is not None
             for th in t.get("thumbs", [])]
    found = sorted(found, key=lambda p: -float(p[0].get("quality", 0)))[:THUMBS_PER_PERSON]
    return [Thumbnail(frame=int(th["frame"]), time_s=round(int(th["frame"]) / fps, 2),
                      track_id=int(tid), jpeg_base64=th["jpeg"] if with_jpeg else None)
            for th, tid in sorted(found, key=lambda p: int(p[0]["frame"]))]


def list_people(*, session: Session, store: ObjectStore, keyring: Keyring, evidence_id: str,
                actor: Principal, thumbnails: bool = False, client_addr: str = "",
                shown_on: str = "") -> PeopleRead:
    """Everyone the recording's newest person count found, with their thumbnails' places
    (and, with `thumbnails`, the JPEGs); logged as `evidence.people_view` naming how many
    faces were shown. AnalysisNotFound when it was never counted."""
    evidence = require_not_disposed(get_evidence_or_raise(session=session,
                                                          evidence_id=evidence_id))
    row = latest_analysis(session=session, evidence_id=evidence_id)
    assert row.id is not None
    doc: dict[str, Any] | None = None
    if _stored(session, evidence_id, row.id) is not None:
        doc = read_document(session=session, store=store, keyring=keyring,
                            evidence_id=evidence_id, analysis_id=row.id)
    video = (evidence.media or {}).get("video") or {}
    fps = float(doc["fps"]) if doc else float(video.get("fps") or 0.0)
    people = _persons(row, fps)
    if doc is not None:
        for p in people:
            p.thumbnails = _thumbnails(doc, p.track_ids, fps, thumbnails)
    shown = sum(len(p.thumbnails) for p in people) if thumbnails else 0
    custody.append(session=session, actor=actor, action="evidence.people_view",
                   target_type="evidence", target_id=evidence_id, client_addr=client_addr,
                   reason=shown_on, details={"analysis_id": row.id, "people": len(people),
                                             "thumbnails_shown": shown})
    return PeopleRead(
        evidence_id=evidence_id, analysis_id=row.id, analysed_at=row.created_at, fps=fps,
        width=int(doc["width"]) if doc else int(video.get("width") or 0),
        height=int(doc["height"]) if doc else int(video.get("height") or 0),
        frames_total=row.frames_total, faces_stored=doc is not None, people=people)


@dataclass(frozen=True)
class ChosenPerson:
    """A person chosen to stay visible: who, in which count, and their tracks."""

    id: str
    analysis_id: int
    number: int
    track_ids: tuple[int, ...]
    enrolled_adult: str | None


def resolve_persons(*, session: Session, evidence_id: str,
                    ids: Sequence[str]) -> list[ChosenPerson]:
    """The persons these ids name, each found by a person count of this recording whose faces
    are stored; UnknownPerson (naming every unknown id) or PeopleNotStored otherwise."""
    unknown: list[str] = []
    chosen: list[ChosenPerson] = []
    rows: dict[int, AnalysisResult | None] = {}
    for pid in dict.fromkeys(ids):
        m = PERSON_ID.match(pid)
        if m is None:
            unknown.append(pid)
            continue
        aid, number = int(m.group(1)), int(m.group(2))
        if aid not in rows:
            rows[aid] = session.exec(select(AnalysisResult).where(
                col(AnalysisResult.id) == aid,
                col(AnalysisResult.evidence_id) == evidence_id)).first()
        row = rows[aid]
        tracks = [t for t in (row.tracks if row else []) if int(t["person"]) == number]
        if row is None or not tracks:
            unknown.append(pid)
            continue
        if _stored(session, evidence_id, aid) is None:
            raise PeopleNotStored(
                f"person {pid}: person count {aid} kept no faces to follow; run the person "
                "count again and choose from it", evidence_id=evidence_id, analysis_id=aid)
        chosen.append(ChosenPerson(id=pid, analysis_id=aid, number=number,
                                   track_ids=tuple(sorted(int(t["id"]) for t in tracks)),
                                   enrolled_adult=tracks[0].get("known_adult")))
    if unknown:
        raise UnknownPerson(
            f"no person count of recording {evidence_id} found {', '.join(unknown)} (ids are "
            "<analysis id>-<person number>, as `bwc people` lists them)",
            evidence_id=evidence_id, unknown=unknown)
    return chosen

