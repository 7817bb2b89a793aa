"""Redaction of evidence: a custodian's request becomes a job; a worker decrypts the original
over a loopback URL (never to disk), redacts it into its scratch directory, and publishes the
derivative and its manifest encrypted, with the job's completion, in one transaction.

The job's handler is `flows.jobs.run_redaction_job`: it runs `redact_evidence` with the
retention check a new derivative must pass (`admit`), which lives above this domain.
"""

from __future__ import annotations

import base64
import io
import json
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from sqlmodel import Session, col, select

from bwc_custody.auth.service import Principal
from bwc_custody.config import get_settings
from bwc_custody.custody import service as custody
from bwc_custody.db import session_scope
from bwc_custody.evidence.models import Evidence
from bwc_custody.evidence.service import get_or_raise as get_evidence_or_raise
from bwc_custody.evidence.service import original_reader, require_not_disposed
from bwc_custody.jobs import service as jobs
from bwc_custody.jobs.models import Job
from bwc_custody.jobs.worker import JobContext
from bwc_custody.redactions.errors import (
    DerivativeNotFound,
    InvalidRedactionRequest,
    SpeechSearchNotFound,
)
from bwc_custody.redactions.models import (
    Derivative,
    KeepPhoto,
    RedactionRequest,
    SpeechAnalysis,
    SpeechChoice,
)
from bwc_custody.tags.errors import KnownAdultNotFound
from bwc_custody.tags.people import read_document, resolve_persons
from bwc_custody.tags.service import known_adult_encodings
from bwc_custody.timeutil import utcnow
from bwc_custody.vault import service as vault
from bwc_custody.vault.loopback import serve_plaintext
from bwc_custody.vault.models import StoredObject
from redaction.errors import InvalidReferencePhoto, NoAudioStream
from redaction.keepface import Reference, reference_from_bytes
from redaction.keepperson import KeepPeople, TrackPath
from redaction.media import MediaSource
from redaction.pipeline import RedactOptions, redact_file
from redaction.regions import Regions, parse_regions
from redaction.speech import Decision, accepted_mutes, suggest_mutes
from redaction.speech_models import MuteSuggestion, SpeechTerms, parse_terms
from redaction.speech_spot import KeywordSpotter
from storage.crypto import RangeReader, sha256_file
from storage.errors import IntegrityError
from storage.keys import Keyring
from storage.objectstore import ObjectStore


def displayed_frame(evidence: Evidence) -> tuple[int, int, float | None, float | None]:
    """(width, height, duration in seconds, frame rate) of the recording as a player shows
    it (turned upright), from its probe at ingest; 0 x 0 when the probe found no size."""
    video = (evidence.media or {}).get("video") or {}
    width, height = int(video.get("width") or 0), int(video.get("height") or 0)
    if video.get("rotation") in (90, 270):
        width, height = height, width
    return width, height, (evidence.media or {}).get("duration_s"), video.get("fps")


def _stamped(regions: Regions, who: str, when: str) -> Regions:
    """`regions` with every range marked as chosen by `who` at `when` (the server's word, not
    the client's)."""
    def mark(ranges: list[Any]) -> list[Any]:
        return [r.model_copy(update={"chosen_by": who, "chosen_at": when}) for r in ranges]

    return regions.model_copy(update={"boxes": mark(regions.boxes),
                                      "blackout": mark(regions.blackout),
                                      "mute": mark(regions.mute)})


def request_redaction(*, session: Session, evidence_id: str, body: RedactionRequest,
                      actor: Principal, client_addr: str = "",
                      heads_asked: Sequence[dict[str, Any]] = ()) -> Job:
    """Queue a redaction of an evidence item after checking everything it names: a region
    outside the frame or the video (`invalid_regions`), a person no count found
    (`unknown_person`), an enrolled adult or a photo that is not (`invalid_redaction_request`,
    `invalid_reference_photo`) is refused and nothing is queued. Each region and kept person
    is recorded with who chose it and when.

    `heads_asked` names the requests whose decision asks for whole heads (the flow above
    reads them): heads mode is then on unless the body says `heads: false`, and the job
    records who asked (`heads_asked_by`), so the copy shows why its heads were blurred, or
    that the custodian chose not to."""
    evidence = get_evidence_or_raise(session=session, evidence_id=evidence_id)
    if heads_asked and body.heads is None:
        body = body.model_copy(update={"heads": True})
    regions = parse_regions(body.regions)  # refused now, not hours later in a worker
    if body.speech is not None:
        regions.mute = sorted([*regions.mute, *_accepted_speech(session, evidence_id,
                                                               body.speech, actor)],
                              key=lambda m: m.start)
    width, height, duration, fps = displayed_frame(evidence)
    if width and height:
        regions.check_within(width, height, duration, fps)
    persons = resolve_persons(session=session, evidence_id=evidence_id, ids=body.keep_persons)
    if len({p.analysis_id for p in persons}) > 1:
        raise InvalidRedactionRequest(
            "keep_persons: choose every person from one person count (the newest)",
            analyses=sorted({p.analysis_id for p in persons}))
    stray = sorted(set(body.keep_reasons) - set(body.keep_persons))
    if stray:
        raise InvalidRedactionRequest(f"keep_reasons names {', '.join(stray)}, not kept",
                                      persons=stray)
    try:
        known_adult_encodings(session=session, keyring=vault.get_keyring(),
                              adult_ids=body.keep_adults)
    except KnownAdultNotFound as exc:
        raise InvalidRedactionRequest(f"keep_adults: {exc.message}", **exc.details) from None
    now = utcnow().isoformat(timespec="seconds")
    params = body.model_dump(exclude_none=True, exclude={"keep_photos", "keep_persons",
                                                         "keep_reasons", "regions", "speech"})
    params["regions"] = _stamped(regions, actor.username, now).model_dump(
        exclude_defaults=True)
    if persons:
        params["keep_persons"] = [
            {"id": p.id, "analysis_id": p.analysis_id, "number": p.number,
             "track_ids": list(p.track_ids), "enrolled_adult": p.enrolled_adult,
             "reason": body.keep_reasons.get(p.id, ""), "chosen_by": actor.username,
             "chosen_at": now} for p in persons]
    params["keep_photos"] = [_store_keep_photo(session, evidence_id, p)
                             for p in body.keep_photos]
    if heads_asked:
        params["heads_asked_by"] = [dict(a) for a in heads_asked]
    return jobs.enqueue(session=session, kind="redaction", actor=actor, evidence_id=evidence_id,
                        params=params, client_addr=client_addr)


def _keep_people(session: Session, store: ObjectStore, keyring: Keyring, evidence_id: str,
                 params: dict[str, Any]) -> KeepPeople | None:
    """The chosen people's tracks, and everyone else's, from their person count's stored
    faces (decrypted into memory only)."""
    chosen = params.get("keep_persons") or []
    if not chosen:
        return None
    doc = read_document(session=session, store=store, keyring=keyring, evidence_id=evidence_id,
                        analysis_id=int(chosen[0]["analysis_id"]))
    owner = {int(t): str(p["id"]) for p in chosen for t in p["track_ids"]}
    tracks = [TrackPath.of(int(t["id"]), owner.get(int(t["id"]))
                           if t.get("person") is not None else None, t["obs"])
              for t in doc["tracks"] if t["obs"]]
    every = int(doc.get("sample_every") or max(1, round(float(doc["fps"]) / 5)))
    return KeepPeople(tracks, sample_every=every, persons=list(chosen))


def _store_keep_photo(session: Session, evidence_id: str, photo: KeepPhoto) -> dict[str, str]:
    """Check a keep-face photo now (one clear face) and store it encrypted for the worker."""
    try:
        data = base64.b64decode(photo.data, validate=True)
    except ValueError:  # binascii.Error, or text that is not ASCII at all
        raise InvalidReferencePhoto(f"keep_photos {photo.name!r} is not base64",
                                    path=photo.name) from None
    ref = reference_from_bytes(photo.name, data)
    obj = vault.store_plaintext(session=session, store=vault.get_store(),
                                keyring=vault.get_keyring(), source=io.BytesIO(data),
                                key=f"references/{evidence_id}/{uuid.uuid4()}",
                                object_id=uuid.uuid4(), kind="reference")
    return {"name": photo.name, "sha256": ref.sha256, "key": obj.key}


def _references(session: Session, store: ObjectStore, keyring: Keyring,
                params: dict[str, Any]) -> list[Any]:
    """Keep-face references: enrolled adults' stored encodings, then the request's photos
    (decrypted into memory only)."""
    refs = []
    for photo in params.get("keep_photos", []):
        obj = session.get(StoredObject, photo["key"])
        if obj is None:
            raise IntegrityError(f"keep-face photo {photo['name']} is missing from the store",
                                 key=photo["key"])
        data = b"".join(vault.iter_plaintext(store=store, keyring=keyring, obj=obj))
        refs.append(reference_from_bytes(photo["name"], data))
    adult_ids = list(params.get("keep_adults", []))
    for row, encodings in known_adult_encodings(session=session, keyring=keyring,
                                                adult_ids=adult_ids):
        for i, enc in enumerate(encodings):
            photo_hash = row.photo_sha256[i] if i < len(row.photo_sha256) else ""
            refs.append(Reference(name=f"known_adult:{row.id}:{row.name}",
                                  sha256=str(photo_hash),
                                  encoding=enc))
    return refs


# Called in the publishing transaction with the new objects' keys, under the custody log's
# lock: refuses a derivative of a destroyed recording, and holds the objects if it is held.
Admit = Callable[[Session, ObjectStore, str, list[str]], None]


def redact_evidence(ctx: JobContext, *, admit: Admit) -> None:
    """Run a `redaction` job: redact the original, then publish what it made."""
    params = ctx.job.params
    evidence_id = ctx.job.evidence_id or ""
    store, keyring = vault.get_store(), vault.get_keyring()
    with session_scope(ctx.engine) as session:
        evidence = get_evidence_or_raise(session=session, evidence_id=evidence_id)
        reader = original_reader(session=session, store=store, keyring=keyring,
                                 evidence=evidence)
        refs = _references(session, store, keyring, params)
        people = _keep_people(session, store, keyring, evidence_id, params)
    options = RedactOptions(detect_backend=get_settings().detect_backend,
                            **{k: params[k] for k in ("detect_every", "pad", "heads",
                                                      "mute_sound") if k in params})
    regions = parse_regions(params.get("regions", {}))
    out, manifest = ctx.workdir / "redacted.mp4", ctx.workdir / "manifest.json"
    with serve_plaintext(reader) as url:
        source = MediaSource(url, evidence.filename or f"{evidence.id}.mp4", evidence.size,
                             evidence.sha256)
        result = redact_file(source, out, options=options, regions=regions, keep_faces=refs,
                             keep_people=people, manifest_path=manifest,
                             progress=ctx.progress)
    if result.source_sha256 != evidence.sha256:
        raise IntegrityError("the redaction read another original than the evidence's",
                             evidence_id=evidence_id)
    _publish(ctx, store, keyring, evidence, result, manifest, admit)


def _publish(ctx: JobContext, store: ObjectStore, keyring: Keyring, evidence: Evidence,
             result: Any, manifest: Path, admit: Admit) -> None:
    """Store video and manifest encrypted, record the derivative and complete the job in one
    transaction; on any failure remove what was stored, so nothing half-done is published."""
    derivative_id = str(uuid.uuid4())
    prefix = f"derivatives/{evidence.id}/{derivative_id}"
    published: list[str] = []
    try:
        with session_scope(ctx.engine) as session:
            stored = {}
            for part, path, digest in (("video", result.output, result.output_sha256),
                                       ("manifest", manifest, sha256_file(manifest))):
                key = f"{prefix}/{'redacted.mp4' if part == 'video' else 'manifest.json'}"
                with open(path, "rb") as fh:
                    stored[part] = vault.store_plaintext(
                        session=session, store=store, keyring=keyring, source=fh, key=key,
                        object_id=uuid.uuid4(), kind="derivative" if part == "video"
                        else "manifest", expected_sha256=digest)
                published.append(key)
            admit(session, store, evidence.id, published)
            row = Derivative(
                id=derivative_id, evidence_id=evidence.id, job_id=ctx.job.id,
                object_key=stored["video"].key, manifest_key=stored["manifest"].key,
                sha256=stored["video"].sha256, size=stored["video"].size,
                manifest_sha256=stored["manifest"].sha256, source_sha256=evidence.sha256,
                frames=result.frames, boxes=result.boxes, tracks=result.tracks,
                review_flags=len(result.low_confidence), flags=result.low_confidence,
                warnings=result.warnings,
                request=ctx.job.params, requested_by=ctx.job.created_by)
            session.add(row)
            session.flush()
            ctx.complete(session, {"derivative_id": row.id, "sha256": row.sha256,
                                   "manifest_sha256": row.manifest_sha256,
                                   "frames": row.frames, "boxes": row.boxes,
                                   "review_flags": row.review_flags})
    except BaseException:
        for key in published:
            try:
                store.delete(key)
            except Exception:  # noqa: S110 - best effort; an orphan is unreferenced ciphertext
                pass
        raise


def list_derivatives(*, session: Session, evidence_id: str) -> list[Derivative]:
    """An evidence item's derivatives, newest first."""
    get_evidence_or_raise(session=session, evidence_id=evidence_id)
    return list(session.exec(select(Derivative).where(Derivative.evidence_id == evidence_id)
                             .order_by(col(Derivative.created_at).desc())).all())


def label_derivative(*, session: Session, derivative_id: str, label: str, actor: Principal,
                     client_addr: str = "") -> Derivative:
    """Give a redacted copy the custodian's name for it ("for the parent, request 12");
    logged with the label it had."""
    row = get_derivative(session=session, derivative_id=derivative_id)
    before, row.label = row.label, " ".join(label.split())
    session.add(row)
    session.flush()
    custody.append(session=session, actor=actor, action="derivative.label",
                   target_type="evidence", target_id=row.evidence_id, client_addr=client_addr,
                   details={"derivative_id": row.id, "label": row.label, "before": before})
    return row


def get_derivative(*, session: Session, derivative_id: str) -> Derivative:
    """One derivative, or DerivativeNotFound."""
    row = session.get(Derivative, derivative_id)
    if row is None:
        raise DerivativeNotFound(f"no derivative {derivative_id}", derivative_id=derivative_id)
    return row


def open_derivative(*, session: Session, store: ObjectStore, keyring: Keyring,
                    derivative_id: str, part: Literal["video", "manifest"], actor: Principal,
                    reason: str, wanted: str = "", client_addr: str = ""
                    ) -> tuple[Derivative, StoredObject, RangeReader]:
    """Log the access (`derivative.stream` / `derivative.manifest`, with the bytes asked for:
    a player's seek is on record like a play) and return a reader of the part's authenticated
    plaintext, for the whole file or a byte range."""
    row = get_derivative(session=session, derivative_id=derivative_id)
    obj = session.get(StoredObject, row.object_key if part == "video" else row.manifest_key)
    if obj is None:
        raise IntegrityError(f"derivative {derivative_id} has no stored {part}",
                             derivative_id=derivative_id)
    reader = vault.open_reader(store=store, keyring=keyring, obj=obj)
    custody.append(session=session, actor=actor,
                   action="derivative.stream" if part == "video" else "derivative.manifest",
                   target_type="evidence", target_id=row.evidence_id, client_addr=client_addr,
                   reason=reason, details={"derivative_id": row.id, "sha256": obj.sha256,
                                           "range": wanted or "all"})
    return row, obj, reader


# ---- speech: names and numbers said aloud, suggested for muting --------------------------


def request_speech_search(*, session: Session, evidence_id: str, terms: SpeechTerms,
                          actor: Principal, client_addr: str = "") -> Job:
    """Queue a search of the recording's speech for `terms` and spoken numbers (a `speech`
    job: transcription is slow)."""
    require_not_disposed(get_evidence_or_raise(session=session, evidence_id=evidence_id))
    return jobs.enqueue(session=session, kind="speech", actor=actor, evidence_id=evidence_id,
                        params={"terms": terms.model_dump()}, client_addr=client_addr)


def transcript_key(evidence_id: str, job_id: str) -> str:
    """Where a speech search's transcript is kept: under the recording's derivatives, so it
    is held, and destroyed, with them (storage/FORMAT.md)."""
    return f"derivatives/{evidence_id}/speech-{job_id}.json"


def configured_spotter() -> KeywordSpotter:
    """The speech search's keyword spotter at the thresholds the settings give
    (BWC_SPEECH_SPOT_THRESHOLD for the terms' words, BWC_SPEECH_SPOT_DIGIT_THRESHOLD for the
    digit words)."""
    settings = get_settings()
    return KeywordSpotter(threshold=settings.speech_spot_threshold,
                          digit_threshold=settings.speech_spot_digit_threshold)


def search_speech(ctx: JobContext, *, admit: Admit) -> None:
    """Run a `speech` job: transcribe the original, find the terms and numbers, keep the
    transcript encrypted and the suggestions for the custodian. A recording without sound
    is recorded as such, not failed."""
    evidence_id = ctx.job.evidence_id or ""
    terms = parse_terms(ctx.job.params.get("terms", {}))
    store, keyring = vault.get_store(), vault.get_keyring()
    with session_scope(ctx.engine) as session:
        evidence = get_evidence_or_raise(session=session, evidence_id=evidence_id)
        reader = original_reader(session=session, store=store, keyring=keyring,
                                 evidence=evidence)
    try:
        with serve_plaintext(reader) as url:
            result = suggest_mutes(MediaSource(url, evidence.filename or f"{evidence.id}.mp4",
                                               evidence.size, evidence.sha256),
                                   terms, progress=ctx.progress,
                                   spotter=configured_spotter())
    except NoAudioStream:
        result = None
    with session_scope(ctx.engine) as session:
        row = SpeechAnalysis(evidence_id=evidence_id, job_id=ctx.job.id,
                             terms=terms.model_dump(), created_by=ctx.job.created_by,
                             has_audio=result is not None)
        details: dict[str, Any] = {"job_id": ctx.job.id, "has_audio": result is not None}
        if result is not None:
            text = json.dumps(result.transcript.to_dict(), ensure_ascii=False).encode()
            obj = vault.store_plaintext(session=session, store=store, keyring=keyring,
                                        source=io.BytesIO(text),
                                        key=transcript_key(evidence_id, ctx.job.id),
                                        object_id=uuid.uuid4(), kind="transcript")
            admit(session, store, evidence_id, [obj.key])
            row.transcript_key, row.words = obj.key, len(result.transcript.words)
            row.suggestions = [x.to_dict() for x in result.suggestions]
            row.engine, row.seconds = result.transcript.engine, result.transcript.seconds
            # kinds and counts only: the log travels in evidence packages, the names do not
            details |= {"transcript_sha256": obj.sha256, "words": row.words,
                        "suggestions": dict(Counter(x.kind for x in result.suggestions)),
                        "low_confidence": sum(x.low_confidence for x in result.suggestions)}
        session.add(row)
        session.flush()
        custody.append(session=session, actor=ctx.worker, action="speech.search",
                       target_type="evidence", target_id=evidence_id,
                       details={"speech_id": row.id, **details})
        ctx.complete(session, {"speech_id": row.id, "has_audio": row.has_audio,
                               "suggestions": len(row.suggestions)})


def list_speech_searches(*, session: Session, evidence_id: str) -> list[SpeechAnalysis]:
    """A recording's speech searches, newest first."""
    get_evidence_or_raise(session=session, evidence_id=evidence_id)
    return list(session.exec(select(SpeechAnalysis)
                             .where(SpeechAnalysis.evidence_id == evidence_id)
                             .order_by(col(SpeechAnalysis.id).desc())).all())


def get_speech_search(*, session: Session, evidence_id: str, speech_id: int) -> SpeechAnalysis:
    """One of the recording's speech searches, or SpeechSearchNotFound."""
    row = session.get(SpeechAnalysis, speech_id)
    if row is None or row.evidence_id != evidence_id:
        raise SpeechSearchNotFound(f"no speech search {speech_id} of evidence {evidence_id}",
                                   evidence_id=evidence_id, speech_id=speech_id)
    return row


def read_transcript(*, session: Session, store: ObjectStore, keyring: Keyring,
                    evidence_id: str, speech_id: int, actor: Principal, reason: str,
                    client_addr: str = "") -> dict[str, Any]:
    """The search's transcript (every word heard, with times), decrypted; the read logged
    (`speech.transcript`) with the reason given."""
    row = get_speech_search(session=session, evidence_id=evidence_id, speech_id=speech_id)
    obj = session.get(StoredObject, row.transcript_key) if row.transcript_key else None
    if obj is None:
        raise SpeechSearchNotFound(f"speech search {speech_id} heard no sound to transcribe",
                                   evidence_id=evidence_id, speech_id=speech_id)
    data = b"".join(vault.iter_plaintext(store=store, keyring=keyring, obj=obj))
    custody.append(session=session, actor=actor, action="speech.transcript",
                   target_type="evidence", target_id=evidence_id, client_addr=client_addr,
                   reason=reason, details={"speech_id": row.id, "sha256": obj.sha256})
    return dict(json.loads(data))


def _suggestions(row: SpeechAnalysis) -> list[MuteSuggestion]:
    return [MuteSuggestion(**x) for x in row.suggestions]


def _accepted_speech(session: Session, evidence_id: str, choice: SpeechChoice,
                     actor: Principal) -> list[Any]:
    """The mute ranges of the suggestions the custodian accepted, each naming who accepted
    it; every suggestion must be answered (accepted or rejected), none twice."""
    row = get_speech_search(session=session, evidence_id=evidence_id,
                            speech_id=choice.analysis_id)
    suggestions = _suggestions(row)
    try:
        decisions = [Decision.model_validate(d) for d in choice.decisions]
    except ValueError as exc:
        raise InvalidRedactionRequest(f"speech decision invalid: {exc}") from None
    answered = [d.id for d in decisions]
    missing = sorted({x.id for x in suggestions} - set(answered))
    twice = sorted({i for i in answered if answered.count(i) > 1})
    if missing or twice:
        raise InvalidRedactionRequest(
            "every speech suggestion must be accepted or rejected, once",
            unanswered=missing, answered_twice=twice, speech_id=row.id)
    return list(accepted_mutes(suggestions, decisions, decided_by=actor.username))
