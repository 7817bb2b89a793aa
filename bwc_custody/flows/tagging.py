"""Tag changes and what follows them: every open request on the recording is decided again
on the tags now in force, in the same transaction (and a sign-off the new decision
contradicts is voided). The routes, the commands and the person count change tags here."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from bwc_custody.auth.service import Principal
from bwc_custody.errors import Forbidden
from bwc_custody.evidence.models import Evidence
from bwc_custody.flows.requests import redecide
from bwc_custody.retention import service as retention
from bwc_custody.retention.models import HoldCreate, RetentionHold
from bwc_custody.roles import Role
from bwc_custody.tags import analysis
from bwc_custody.tags import service as tags
from bwc_custody.tags.models import AnalysisResult, RecordingFacts, RecordingFactsUpdate, Tag
from storage.objectstore import ObjectStore


def add_tag(*, session: Session, evidence_id: str, name: str, source: str, actor: Principal,
            reason: str = "", confidence: float | None = None,
            evidence: dict[str, Any] | None = None, client_addr: str = "") -> Tag:
    """Add a tag (`tags.service.add_tag`) and decide the recording's open requests again."""
    tag = tags.add_tag(session=session, evidence_id=evidence_id, name=name, source=source,
                       actor=actor, reason=reason, confidence=confidence, evidence=evidence,
                       client_addr=client_addr)
    redecide(session=session, evidence_id=evidence_id, actor=actor, client_addr=client_addr)
    return tag


def remove_tag(*, session: Session, evidence_id: str, name: str, actor: Principal,
               reason: str, client_addr: str = "") -> list[Tag]:
    """A custodian removes a tag with a reason; the open requests are decided again."""
    removed = tags.remove_tag(session=session, evidence_id=evidence_id, name=name, actor=actor,
                              reason=reason, client_addr=client_addr)
    redecide(session=session, evidence_id=evidence_id, actor=actor, client_addr=client_addr)
    return removed


def apply_officer_metadata(*, session: Session, evidence: Evidence, actor: Principal,
                           client_addr: str = "") -> list[Tag]:
    """The officer's tags and 3-day notices from a new recording's metadata, then its open
    requests decided (none yet for new footage, but the rule holds for every tag change)."""
    added = tags.apply_officer_metadata(session=session, evidence=evidence, actor=actor,
                                        client_addr=client_addr)
    if added:
        redecide(session=session, evidence_id=evidence.id, actor=actor,
                 client_addr=client_addr)
    return added


def record_analysis(*, session: Session, evidence_id: str, count: Any, actor: Principal,
                    requested_by: str) -> AnalysisResult:
    """Store a person count with its auto tags; when it added or retracted any, the open
    requests are decided again."""
    row, changed = analysis.record_analysis(session=session, evidence_id=evidence_id,
                                            count=count, actor=actor,
                                            requested_by=requested_by)
    if changed:
        redecide(session=session, evidence_id=evidence_id, actor=actor)
    return row


def set_recording_facts(*, session: Session, evidence_id: str, body: RecordingFactsUpdate,
                        actor: Principal, client_addr: str = "") -> RecordingFacts:
    """The custodian sets a recording's facts (tried as an adult, the harm of premature
    release); its live requests are decided again."""
    row = tags.set_recording_facts(session=session, evidence_id=evidence_id, body=body,
                                   actor=actor, client_addr=client_addr)
    redecide(session=session, evidence_id=evidence_id, actor=actor, client_addr=client_addr)
    return row


def place_hold(*, session: Session, store: ObjectStore, evidence_id: str, body: HoldCreate,
               actor: Principal, client_addr: str = "") -> RetentionHold:
    """Place a hold (`retention.service.place_hold`) and, for an investigation hold that asks
    for it, tag the recording `investigation_open` with the hold's reason in the same step.

    The policy engine reads tags, not holds, on purpose: a hold answers "may these bytes be
    destroyed?" (KDLA schedule) and is lifted when a case or a suit ends, while
    `investigation_open` answers "does an open investigation withhold this footage?" (KRS
    61.878(1)(h)), which a custodian must state and answer for. Tying the two would open
    footage the day a litigation hold is lifted, or withhold it under a hold placed only to
    keep it; the console offers the tag beside the hold so neither is forgotten."""
    if body.tag_investigation_open and not actor.has_any({Role.custodian}):
        raise Forbidden("only a custodian may tag a recording investigation_open",
                        required=["custodian"])
    hold = retention.place_hold(session=session, store=store, evidence_id=evidence_id,
                                body=body, actor=actor, client_addr=client_addr)
    if body.tag_investigation_open:
        add_tag(session=session, evidence_id=evidence_id, name="investigation_open",
                source="custodian", actor=actor, client_addr=client_addr,
                reason=f"investigation hold {hold.id}: {hold.reason}")
    return hold
