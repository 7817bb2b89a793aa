"""Person-count analysis of evidence: queued as a job, stored, and turned into auto tags.

The job's handler (`flows.jobs.run_analysis_job`) counts without holding a transaction, then
records the result, its auto tags, the re-decided requests and the job's completion in one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, col, select

from bwc_custody.auth.service import Principal
from bwc_custody.custody import service as custody
from bwc_custody.evidence.models import Evidence
from bwc_custody.evidence.service import get_or_raise as get_evidence_or_raise
from bwc_custody.jobs import service as jobs
from bwc_custody.jobs.models import Job
from bwc_custody.tags import rules
from bwc_custody.tags.errors import AnalysisNotFound
from bwc_custody.tags.models import AnalysisResult, Tag
from bwc_custody.tags.service import (
    add_tag,
    effective_tags,
    removed_by_custodian,
    retract_auto_tags,
)


def people_of(tracks: Sequence[dict[str, Any]]) -> list[rules.Person]:
    """Group stored track dicts into persons for the tagging rules."""
    by: dict[int, list[dict[str, Any]]] = {}
    for t in tracks:
        by.setdefault(int(t["person"]), []).append(t)
    return [rules.Person(person=p, track_ids=tuple(int(t["id"]) for t in ts),
                         frames=tuple((int(t["first_frame"]), int(t["last_frame"])) for t in ts),
                         score=max(float(t["max_score"]) for t in ts),
                         known_adult=ts[0].get("known_adult"))
            for p, ts in sorted(by.items())]


def campus_basis(*, session: Session, evidence: Evidence) -> str | None:
    """Why the footage counts as recorded on a campus (its campus metadata, or an active
    `school_campus` tag), or None when it does not."""
    if evidence.campus:
        return f"evidence campus metadata: {evidence.campus}"
    if "school_campus" in effective_tags(session=session, evidence_id=evidence.id):
        return "an active school_campus tag"
    return None


def apply_auto_tags(*, session: Session, evidence: Evidence, result: AnalysisResult,
                    actor: Principal, previous: AnalysisResult | None = None
                    ) -> tuple[list[Tag], list[Tag]]:
    """Add the auto tags the rules derive from `result` and retract the auto tags in force it
    no longer supports; returns (added, retracted).

    A tag a custodian removed with a reason is not put back by the machine (the custodian's
    decision stands). A count retracts only what it contradicts: on a campus, having seen
    someone (a count that found no face proves nothing, and off campus the rules propose
    nothing either way); officer and custodian tags are never touched."""
    basis = campus_basis(session=session, evidence=evidence)
    proposed = rules.auto_tags(campus=basis, people=people_of(result.tracks))
    added = []
    for t in proposed:
        if removed_by_custodian(session=session, evidence_id=evidence.id, name=t.name):
            continue
        added.append(add_tag(session=session, evidence_id=evidence.id, name=t.name,
                             source="auto", actor=actor, confidence=t.confidence,
                             evidence={**t.evidence, "analysis_id": result.id}))
    retracted: list[Tag] = []
    if basis is not None and result.distinct_people > 0:
        assert result.id is not None
        retracted = retract_auto_tags(
            session=session, evidence_id=evidence.id, keep={t.name for t in proposed},
            analysis_id=result.id, actor=actor,
            reason=f"person count {result.id} found {result.unidentified_people} unidentified "
                   f"of {result.distinct_people} people"
                   + (f" (count {previous.id} found {previous.unidentified_people} of "
                      f"{previous.distinct_people})" if previous else "")
                   + ": no longer supported",
            details={"now": _counted(result), "before": _counted(previous)})
    return added, retracted


def _counted(row: AnalysisResult | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"analysis_id": row.id, "distinct_people": row.distinct_people,
            "unidentified_people": row.unidentified_people, "known_adults": row.known_adults}


def request_analysis(*, session: Session, evidence_id: str, actor: Principal,
                     client_addr: str = "") -> Job:
    """Queue a person-count analysis of an evidence item; one already queued (not started)
    is the answer to a second ask, since it reads the enrolled adults when it runs."""
    get_evidence_or_raise(session=session, evidence_id=evidence_id)
    waiting = jobs.list_jobs(session=session, state="queued", kind="analysis",
                             evidence_id=evidence_id, limit=1)
    if waiting:
        return waiting[0]
    return jobs.enqueue(session=session, kind="analysis", actor=actor, evidence_id=evidence_id,
                        client_addr=client_addr)


def record_analysis(*, session: Session, evidence_id: str, count: Any, actor: Principal,
                    requested_by: str) -> tuple[AnalysisResult, bool]:
    """Store a PersonCount, log it and apply the auto tags it implies, retracting those it no
    longer supports; returns the row and whether any tag changed."""
    evidence = get_evidence_or_raise(session=session, evidence_id=evidence_id)
    previous = _newest(session, evidence_id)
    data = count.to_dict()
    row = AnalysisResult(evidence_id=evidence_id, created_by=requested_by,
                         distinct_people=count.distinct_people,
                         unidentified_people=count.unidentified_people,
                         known_adults=count.known_adults, tracks=data["tracks"],
                         frames_total=count.frames_total, frames_analysed=count.frames_analysed,
                         seconds=count.seconds, settings=count.settings, version=count.version)
    session.add(row)
    session.flush()
    custody.append(session=session, actor=actor, action="analysis.run", target_type="evidence",
                   target_id=evidence_id,
                   details={"analysis_id": row.id, "distinct_people": row.distinct_people,
                            "unidentified_people": row.unidentified_people,
                            "known_adults": row.known_adults, "version": row.version,
                            "frames_analysed": row.frames_analysed,
                            "requested_by": requested_by})
    added, retracted = apply_auto_tags(session=session, evidence=evidence, result=row,
                                       actor=actor, previous=previous)
    fresh = [t for t in added if t.evidence.get("analysis_id") == row.id]  # not kept ones
    return row, bool(fresh or retracted)


def _newest(session: Session, evidence_id: str) -> AnalysisResult | None:
    return session.exec(select(AnalysisResult).where(AnalysisResult.evidence_id == evidence_id)
                        .order_by(col(AnalysisResult.id).desc()).limit(1)).first()


def latest_analysis(*, session: Session, evidence_id: str) -> AnalysisResult:
    """The newest analysis of an evidence item."""
    row = _newest(session, evidence_id)
    if row is None:
        raise AnalysisNotFound(f"evidence {evidence_id} has not been analysed",
                               evidence_id=evidence_id)
    return row
