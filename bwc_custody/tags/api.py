"""Tag, known-adult, notification and analysis routes (thin: one rule, one service or flow
call)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile

from bwc_custody.auth.service import Principal
from bwc_custody.deps import (
    MIB,
    ClientAddr,
    Custodian,
    RowId,
    SessionDep,
    Staff,
    allow,
    body_limit,
)
from bwc_custody.errors import Forbidden
from bwc_custody.evidence.service import get_or_raise as get_evidence_or_raise
from bwc_custody.flows import tagging
from bwc_custody.jobs.models import JobRead
from bwc_custody.reasons import ReasonBody
from bwc_custody.roles import Role
from bwc_custody.tags import analysis, service
from bwc_custody.tags.models import (
    AnalysisRead,
    EvidenceTags,
    KnownAdultRead,
    NotificationDone,
    NotificationRead,
    RecordingFactsRead,
    RecordingFactsUpdate,
    TagCreate,
    TagRead,
)
from bwc_custody.vault.service import get_keyring
from bwc_custody.vocabulary import TagName

router = APIRouter(tags=["tags"])
TagReader = Annotated[Principal, Depends(allow(Role.officer, Role.custodian,
                                              Role.legal_reviewer, Role.auditor))]



def _tags_view(session: SessionDep, evidence_id: str) -> EvidenceTags:
    rows = service.list_tags(session=session, evidence_id=evidence_id)
    return EvidenceTags(evidence_id=evidence_id,
                        effective=sorted({t.name for t in rows if t.removed_at is None}),
                        tags=[TagRead.model_validate(t) for t in rows])


@router.get("/evidence/{evidence_id}/tags", response_model=EvidenceTags)
def get_tags(evidence_id: str, session: SessionDep, actor: TagReader) -> EvidenceTags:
    """The evidence item's tags with provenance (an officer sees only their own uploads)."""
    evidence = get_evidence_or_raise(session=session, evidence_id=evidence_id)
    if not actor.has_any({Role.custodian, Role.legal_reviewer, Role.auditor}) \
            and evidence.officer_id != actor.username:
        raise Forbidden("officers see only their own uploads")
    return _tags_view(session, evidence_id)


@router.post("/evidence/{evidence_id}/tags", response_model=TagRead, status_code=201)
def add_tag(evidence_id: str, body: TagCreate, session: SessionDep, actor: Custodian,
            addr: ClientAddr) -> TagRead:
    """A custodian adds a tag (source `custodian`)."""
    tag = tagging.add_tag(session=session, evidence_id=evidence_id, name=body.name,
                          source="custodian", actor=actor, reason=body.reason,
                          client_addr=addr)
    return TagRead.model_validate(tag)


@router.delete("/evidence/{evidence_id}/tags/{name}", response_model=EvidenceTags)
def remove_tag(evidence_id: str, name: TagName, session: SessionDep, actor: Custodian,
               addr: ClientAddr, body: ReasonBody = None) -> EvidenceTags:
    """A custodian removes a tag (every source) with a written reason."""
    tagging.remove_tag(session=session, evidence_id=evidence_id, name=name, actor=actor,
                       reason=body.reason if body else "", client_addr=addr)
    return _tags_view(session, evidence_id)


@router.get("/evidence/{evidence_id}/facts", response_model=RecordingFactsRead)
def get_recording_facts(evidence_id: str, session: SessionDep,
                        _actor: Staff) -> RecordingFactsRead:
    """What the custodian has established about the recording (tried as an adult, the harm
    its premature release would do)."""
    get_evidence_or_raise(session=session, evidence_id=evidence_id)
    row = service.recording_facts(session=session, evidence_id=evidence_id)
    return RecordingFactsRead.model_validate(row).model_copy(
        update={"updated_by": row.updated_by or None})


@router.put("/evidence/{evidence_id}/facts", response_model=RecordingFactsRead)
def set_recording_facts(evidence_id: str, body: RecordingFactsUpdate, session: SessionDep,
                        actor: Custodian, addr: ClientAddr) -> RecordingFactsRead:
    """The custodian sets the recording's facts with a reason; its live requests are decided
    again."""
    return RecordingFactsRead.model_validate(tagging.set_recording_facts(
        session=session, evidence_id=evidence_id, body=body, actor=actor, client_addr=addr))


@router.get("/evidence/{evidence_id}/analysis", response_model=AnalysisRead)
def get_analysis(evidence_id: str, session: SessionDep, _actor: Custodian) -> AnalysisRead:
    """The newest person-count analysis of the evidence item."""
    return AnalysisRead.model_validate(
        analysis.latest_analysis(session=session, evidence_id=evidence_id))


@router.post("/evidence/{evidence_id}/analysis", response_model=JobRead, status_code=202)
def run_analysis(evidence_id: str, session: SessionDep, actor: Custodian,
                 addr: ClientAddr) -> JobRead:
    """Queue a person-count analysis; follow it at /jobs/{id}, read it here when done."""
    job = analysis.request_analysis(session=session, evidence_id=evidence_id, actor=actor,
                                    client_addr=addr)
    return JobRead.model_validate(job)


@router.get("/known-adults", response_model=list[KnownAdultRead])
def list_known_adults(session: SessionDep, _actor: Custodian,
                      include_removed: bool = False) -> list[KnownAdultRead]:
    """Enrolled known adults (never their encodings)."""
    return [KnownAdultRead.model_validate(r) for r in
            service.list_known_adults(session=session, include_removed=include_removed)]


# reference photos (a few, each a phone camera's JPEG)
@router.post("/known-adults", response_model=KnownAdultRead, status_code=201,
             openapi_extra=body_limit(64 * MIB))
def enrol_known_adult(
    session: SessionDep, actor: Custodian, addr: ClientAddr,
    name: Annotated[str, Form(max_length=200)],
    consent: Annotated[str, Form(max_length=4000)],
    photos: Annotated[list[UploadFile], File()],
) -> KnownAdultRead:
    """Enrol a consenting adult from reference photos (one clear face each)."""
    data = [p.file.read() for p in photos]
    row = service.enrol_known_adult(session=session, keyring=get_keyring(), name=name,
                                    photos=data, consent=consent, actor=actor,
                                    client_addr=addr)
    return KnownAdultRead.model_validate(row)


@router.delete("/known-adults/{adult_id}", response_model=KnownAdultRead)
def remove_known_adult(adult_id: RowId, session: SessionDep, actor: Custodian,
                       addr: ClientAddr, body: ReasonBody = None) -> KnownAdultRead:
    """Remove a known adult with a reason; the encrypted encodings are erased."""
    row = service.remove_known_adult(session=session, adult_id=adult_id, actor=actor,
                                     reason=body.reason if body else "",
                                     client_addr=addr)
    return KnownAdultRead.model_validate(row)


@router.get("/notifications", response_model=list[NotificationRead])
def list_notifications(session: SessionDep, _actor: Custodian,
                       open_only: Annotated[bool, Query(alias="open")] = True
                       ) -> list[NotificationRead]:
    """3-day notifications, soonest due first (only open ones unless open=false)."""
    return [NotificationRead.model_validate(n)
            for n in service.list_notifications(session=session, open_only=open_only)]


@router.post("/notifications/{notification_id}/done", response_model=NotificationRead)
def mark_done(notification_id: RowId, body: NotificationDone, session: SessionDep,
              actor: Custodian, addr: ClientAddr) -> NotificationRead:
    """Record that a notification was given."""
    row = service.mark_notification_done(session=session, notification_id=notification_id,
                                         actor=actor, note=body.note,
                                         client_addr=addr)
    return NotificationRead.model_validate(row)
