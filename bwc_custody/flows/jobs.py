"""The job kinds the queue accepts and the handler that runs each (one table), and the two
handlers, which span domains: a redaction must pass retention's check before it is
published; a person count's tags decide the recording's open requests again."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bwc_custody.config import get_settings
from bwc_custody.custody import service as custody
from bwc_custody.db import session_scope
from bwc_custody.evidence.service import get_or_raise as get_evidence_or_raise
from bwc_custody.evidence.service import (
    has_poster,
    original_reader,
    poster_key,
    require_not_disposed,
    store_poster,
)
from bwc_custody.flows import tagging
from bwc_custody.flows.ingest import recover_interrupted
from bwc_custody.flows.verify_state import run_verify_job
from bwc_custody.jobs.worker import Handlers, JobContext
from bwc_custody.redactions import service as redactions
from bwc_custody.retention.service import is_held
from bwc_custody.tags.errors import AnalysisFailed
from bwc_custody.tags.people import people_key, store_people
from bwc_custody.tags.service import load_known_adults
from bwc_custody.vault import service as vault
from bwc_custody.vault.loopback import serve_plaintext
from redaction.analysis import analyze_file
from redaction.analysis_faces import people_document
from redaction.analysis_settings import AnalysisSettings
from redaction.errors import RedactionError
from redaction.poster import Poster, make_poster
from storage.objectstore import ObjectStore


def _admit_derivative(session: Session, store: ObjectStore, evidence_id: str,
                      keys: list[str]) -> None:
    """Under the custody log's lock (a disposition takes it too): refuse a derivative of a
    recording destroyed while it was being made, and put the recording's hold, if one
    stands, on the new objects as well."""
    custody.lock_log(session)
    require_not_disposed(get_evidence_or_raise(session=session, evidence_id=evidence_id,
                                               fresh=True))
    if is_held(session=session, evidence_id=evidence_id):
        for key in keys:
            store.set_legal_hold(key, True)


def run_redaction_job(ctx: JobContext) -> None:
    """The handler of `redaction` jobs."""
    redactions.redact_evidence(ctx, admit=_admit_derivative)


def run_speech_job(ctx: JobContext) -> None:
    """The handler of `speech` jobs: a transcript is a derivative of the recording, admitted
    (held, or refused for a destroyed recording) as one."""
    redactions.search_speech(ctx, admit=_admit_derivative)


def run_analysis_job(ctx: JobContext) -> None:
    """The handler of `analysis` jobs: count without holding a transaction, then record the
    count, its faces (for choosing who stays visible), its tags, the re-decided requests and
    the job's completion in one. The first count of a recording also makes its poster frame
    (faces blurred) for the list."""
    evidence_id = ctx.job.evidence_id or ""
    store, keyring = vault.get_store(), vault.get_keyring()
    with session_scope(ctx.engine) as session:
        evidence = get_evidence_or_raise(session=session, evidence_id=evidence_id)
        adults = load_known_adults(session=session, keyring=keyring)
        reader = original_reader(session=session, store=store, keyring=keyring,
                                 evidence=evidence)
        wants_poster = not has_poster(session=session, evidence_id=evidence_id)
        duration = evidence.media.get("duration_s")
    poster: Poster | str | None = None
    try:
        with serve_plaintext(reader) as url:
            count = analyze_file(url, known_adults=adults, settings=AnalysisSettings(
                detect_backend=get_settings().detect_backend))
            if wants_poster:
                try:
                    poster = make_poster(url, duration_s=duration)
                except RedactionError as exc:  # the list shows no still; the count stands
                    poster = exc.code
    except RedactionError as exc:
        raise AnalysisFailed(f"evidence {evidence_id} could not be analysed: {exc}",
                             evidence_id=evidence_id, cause=exc.code) from None
    made: list[str] = []  # what this handler stored, removed again if it is not recorded
    try:
        with session_scope(ctx.engine) as session:
            row = tagging.record_analysis(session=session, evidence_id=evidence_id,
                                          count=count, actor=ctx.worker,
                                          requested_by=ctx.job.created_by)
            assert row.id is not None
            made.append(people_key(evidence_id, row.id))
            store_people(session=session, store=store, keyring=keyring,
                         evidence_id=evidence_id, analysis_id=row.id, actor=ctx.worker,
                         document=people_document(
                             faces=count.faces, width=count.width, height=count.height,
                             fps=count.fps, frames_total=count.frames_total,
                             sample_every=int(count.settings["sample_every"]),
                             cuts=count.cuts))
            result: dict[str, object] = {"analysis_id": row.id,
                                         "distinct_people": row.distinct_people,
                                         "unidentified_people": row.unidentified_people}
            if isinstance(poster, Poster):
                made.append(poster_key(evidence_id))
                if not store_poster(session=session, store=store, keyring=keyring,
                                    evidence_id=evidence_id, jpeg=poster.jpeg,
                                    at_seconds=poster.at_seconds,
                                    faces_blurred=poster.faces_blurred, actor=ctx.worker):
                    made.pop()  # it had one already: not this handler's to remove
                result["poster_faces_blurred"] = poster.faces_blurred
            elif poster is not None:
                result["poster_failed"] = poster
            _admit_derivative(session, store, evidence_id, made)
            ctx.complete(session, result)
    except BaseException:
        for key in made:
            try:
                store.delete(key)
            except Exception:  # noqa: S110 - best effort; an orphan is unreferenced ciphertext
                pass
        raise


def housekeeping(engine: Engine) -> None:
    """What the workers do between jobs, besides checkpoints: adopt what an interrupted
    ingest published."""
    recover_interrupted(engine)


# Every job kind and the function that runs it (tests check this matches jobs.service.KINDS).
HANDLERS: Handlers = {
    "redaction": run_redaction_job,
    "analysis": run_analysis_job,
    "speech": run_speech_job,
    "verify": run_verify_job,
}

