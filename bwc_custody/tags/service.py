"""Tags with provenance, officer metadata at ingest, known adults, notifications.

Every change writes its custody entry in the caller's transaction. What a tag change does to
the open requests on the recording (they are decided again) is `flows.tagging`'s: the routes
and commands change tags through it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import numpy as np
from sqlmodel import Session, col, select

from bwc_custody.auth.service import Principal
from bwc_custody.custody import service as custody
from bwc_custody.errors import Forbidden
from bwc_custody.evidence.models import Evidence
from bwc_custody.evidence.service import get_or_raise as get_evidence_or_raise
from bwc_custody.reasons import require_reason
from bwc_custody.roles import Role
from bwc_custody.tags import rules
from bwc_custody.tags.errors import (
    InvalidReferencePhoto,
    KnownAdultNotFound,
    NotificationAlreadyDone,
    NotificationNotFound,
    TagNotFound,
    UnknownTag,
)
from bwc_custody.tags.models import (
    KnownAdult,
    Notification,
    RecordingFacts,
    RecordingFactsUpdate,
    Tag,
)
from bwc_custody.timeutil import as_utc, utcnow
from bwc_custody.vault.sealed import of_row, rewrap_rows, seal, unseal
from policies.vocabulary import TAGS
from storage.keys import Keyring

# ---- tags ----------------------------------------------------------------------------


def _check_name(name: str) -> str:
    if name not in TAGS:
        raise UnknownTag(f"{name!r} is not a tag of the policy vocabulary", allowed=list(TAGS))
    return name


def list_tags(*, session: Session, evidence_id: str, include_removed: bool = True) -> list[Tag]:
    """The evidence item's tags, oldest first (removed ones too unless asked not to)."""
    stmt = select(Tag).where(Tag.evidence_id == evidence_id).order_by(col(Tag.id))
    if not include_removed:
        stmt = stmt.where(col(Tag.removed_at).is_(None))
    return list(session.exec(stmt))


def effective_tags(*, session: Session, evidence_id: str) -> frozenset[str]:
    """The tag names in force (any source, not removed): what the policy engine sees."""
    return frozenset(t.name for t in list_tags(session=session, evidence_id=evidence_id,
                                               include_removed=False))


def _custodial_removal_rule(actor: Principal) -> None:
    if not actor.has_any({Role.custodian}):
        raise Forbidden("only a custodian may remove tags", required=["custodian"])


def add_tag(
    *, session: Session, evidence_id: str, name: str, source: str, actor: Principal,
    reason: str = "", confidence: float | None = None, evidence: dict[str, Any] | None = None,
    client_addr: str = "",
) -> Tag:
    """Add a tag from `source` (the active one of the same name and source if present)."""
    _check_name(name)
    get_evidence_or_raise(session=session, evidence_id=evidence_id)
    for t in list_tags(session=session, evidence_id=evidence_id, include_removed=False):
        if t.name == name and t.source == source:
            return t
    tag = Tag(evidence_id=evidence_id, name=name, source=source, created_by=actor.username,
              confidence=confidence, reason=reason.strip(), evidence=evidence or {})
    session.add(tag)
    session.flush()
    custody.append(session=session, actor=actor, action="tag.add", target_type="evidence",
                   target_id=evidence_id, client_addr=client_addr, reason=tag.reason,
                   details={"tag_id": tag.id, "name": name, "source": source,
                            "confidence": confidence, "evidence": tag.evidence})
    return tag


def remove_tag(*, session: Session, evidence_id: str, name: str, actor: Principal,
               reason: str, client_addr: str = "") -> list[Tag]:
    """A custodian removes tag `name` (every source) with a written reason; rows stay."""
    _custodial_removal_rule(actor)
    _check_name(name)
    text = require_reason(reason, "removing a tag")
    get_evidence_or_raise(session=session, evidence_id=evidence_id)
    active = [t for t in list_tags(session=session, evidence_id=evidence_id,
                                   include_removed=False) if t.name == name]
    if not active:
        raise TagNotFound(f"evidence {evidence_id} has no active tag {name!r}",
                          evidence_id=evidence_id, name=name)
    now = utcnow()
    for t in active:
        t.removed_at, t.removed_by, t.removal_reason = now, actor.username, text
        session.add(t)
    session.flush()
    custody.append(session=session, actor=actor, action="tag.remove", target_type="evidence",
                   target_id=evidence_id, client_addr=client_addr, reason=text,
                   details={"name": name, "tag_ids": [t.id for t in active],
                            "sources": sorted({t.source for t in active})})
    return active


def removed_by_custodian(*, session: Session, evidence_id: str, name: str) -> bool:
    """Whether a custodian removed tag `name` (the machine does not put it back); a tag a
    person count retracted is not such a removal."""
    return any(t.name == name and t.removed_at is not None and t.retracted_by_analysis is None
               for t in list_tags(session=session, evidence_id=evidence_id))


def retract_auto_tags(*, session: Session, evidence_id: str, keep: set[str], analysis_id: int,
                      actor: Principal, reason: str, details: dict[str, Any]) -> list[Tag]:
    """Retract the automatic tags in force that a new person count no longer supports (those
    not in `keep`); tags from officers and custodians stay. One custody entry names them
    with `details` (both counts)."""
    gone = [t for t in list_tags(session=session, evidence_id=evidence_id,
                                 include_removed=False)
            if t.source == "auto" and t.name not in keep]
    if not gone:
        return []
    now = utcnow()
    for t in gone:
        t.removed_at, t.removed_by, t.removal_reason = now, actor.username, reason
        t.retracted_by_analysis = analysis_id
        session.add(t)
    session.flush()
    custody.append(session=session, actor=actor, action="tag.retract", target_type="evidence",
                   target_id=evidence_id, reason=reason,
                   details={"names": sorted(t.name for t in gone),
                            "tag_ids": [t.id for t in gone], "analysis_id": analysis_id,
                            **details})
    return gone


# ---- a recording's facts ----------------------------------------------------------------


def recording_facts(*, session: Session, evidence_id: str) -> RecordingFacts:
    """What the custodian has established about the recording (defaults: nothing)."""
    found = session.get(RecordingFacts, evidence_id)
    return found or RecordingFacts(evidence_id=evidence_id, updated_by="")


def set_recording_facts(*, session: Session, evidence_id: str, body: RecordingFactsUpdate,
                        actor: Principal, client_addr: str = "") -> RecordingFacts:
    """The custodian sets a recording's facts, with a reason (the court record seen, the
    investigation's state); logged as `recording.facts` with what changed."""
    if not actor.has_any({Role.custodian}):
        raise Forbidden("only a custodian sets a recording's facts", required=["custodian"])
    text = require_reason(body.reason, "setting a recording's facts")
    get_evidence_or_raise(session=session, evidence_id=evidence_id)
    row = session.get(RecordingFacts, evidence_id) or RecordingFacts(
        evidence_id=evidence_id, updated_by=actor.username)
    changed: dict[str, Any] = {}
    if body.juvenile_tried_as_adult is not None:
        changed["juvenile_tried_as_adult"] = row.juvenile_tried_as_adult = \
            body.juvenile_tried_as_adult
    if body.articulated_harm is not None:
        changed["articulated_harm"] = row.articulated_harm = body.articulated_harm.strip() or None
    row.updated_by, row.updated_at = actor.username, utcnow()
    session.add(row)
    session.flush()
    custody.append(session=session, actor=actor, action="recording.facts",
                   target_type="evidence", target_id=evidence_id, client_addr=client_addr,
                   reason=text, details=changed)
    return row


# ---- officer metadata at ingest -------------------------------------------------------


def notice_due(evidence: Evidence) -> tuple[Any, str]:
    """(due time, basis): three days after `recorded_at`, else after `received_at`."""
    if evidence.recorded_at is not None:
        return as_utc(evidence.recorded_at) + timedelta(days=rules.NOTICE_DAYS), "recorded_at"
    return as_utc(evidence.received_at) + timedelta(days=rules.NOTICE_DAYS), "received_at"


def apply_officer_metadata(*, session: Session, evidence: Evidence,
                           actor: Principal | None = None, client_addr: str = "") -> list[Tag]:
    """Officer tags from the upload metadata (campus, involves_juvenile, incident_type) and a
    3-day notification for each notification incident; returns the tags added."""
    who = actor or Principal(user_id=None, username=evidence.ingested_by, roles=frozenset())
    wanted: list[tuple[str, dict[str, Any]]] = []
    if evidence.campus:
        wanted.append(("school_campus", {"field": "campus", "value": evidence.campus}))
    if evidence.involves_juvenile:
        wanted.append(("juvenile", {"field": "involves_juvenile", "value": True}))
    names, unmapped = rules.incident_tags(evidence.incident_type)
    for name in names:
        wanted.append((name, {"field": "incident_type", "value": evidence.incident_type}))
    if unmapped:
        custody.append(session=session, actor=who, action="tag.incident_unmapped",
                       target_type="evidence", target_id=evidence.id, client_addr=client_addr,
                       details={"incident_type": evidence.incident_type, "unmapped": unmapped})
    added = [add_tag(session=session, evidence_id=evidence.id, name=n, source="officer",
                     actor=who, evidence=ev, client_addr=client_addr)
             for n, ev in wanted]
    for name in names:
        if name in rules.NOTIFY:
            create_notification(session=session, evidence=evidence, kind=name, actor=who,
                                client_addr=client_addr)
    return added


# ---- notifications --------------------------------------------------------------------


def create_notification(*, session: Session, evidence: Evidence, kind: str, actor: Principal,
                        client_addr: str = "") -> Notification:
    """A notification owed for `kind` on `evidence` (one open one per kind and item)."""
    for n in session.exec(select(Notification).where(Notification.evidence_id == evidence.id,
                                                     Notification.kind == kind)):
        return n
    due, basis = notice_due(evidence)
    note = Notification(evidence_id=evidence.id, kind=kind, due_at=due, due_basis=basis,
                        created_by=actor.username)
    session.add(note)
    session.flush()
    custody.append(session=session, actor=actor, action="notification.create",
                   target_type="evidence", target_id=evidence.id, client_addr=client_addr,
                   details={"notification_id": note.id, "kind": kind,
                            "due_at": due.isoformat(), "due_basis": basis})
    return note


def list_notifications(*, session: Session, open_only: bool = True) -> list[Notification]:
    """Notifications by due time (only those not yet done, by default)."""
    stmt = select(Notification).order_by(col(Notification.due_at), col(Notification.id))
    if open_only:
        stmt = stmt.where(col(Notification.done_at).is_(None))
    return list(session.exec(stmt))


def mark_notification_done(*, session: Session, notification_id: int, actor: Principal,
                           note: str = "", client_addr: str = "") -> Notification:
    """Record that the notice was given."""
    row = session.get(Notification, notification_id)
    if row is None:
        raise NotificationNotFound(f"no notification {notification_id}", id=notification_id)
    if row.done_at is not None:
        raise NotificationAlreadyDone(f"notification {notification_id} is already done",
                                      done_at=as_utc(row.done_at).isoformat())
    row.done_at, row.done_by, row.done_note = utcnow(), actor.username, note.strip()
    session.add(row)
    session.flush()
    custody.append(session=session, actor=actor, action="notification.done",
                   target_type="evidence", target_id=row.evidence_id, client_addr=client_addr,
                   reason=row.done_note or "", details={"notification_id": row.id,
                                                        "kind": row.kind})
    return row


# ---- known adults ---------------------------------------------------------------------


def _unseal(keyring: Keyring, row: KnownAdult) -> np.ndarray:
    return np.frombuffer(unseal(keyring, of_row(row)), dtype=np.float64).reshape(-1, 128)


def enrol_known_adult(*, session: Session, keyring: Keyring, name: str,
                      photos: Sequence[bytes], consent: str, actor: Principal,
                      client_addr: str = "") -> KnownAdult:
    """Enrol a consenting adult from reference photos (one clear face each)."""
    from redaction.keepface import reference_from_bytes

    if not name.strip():
        raise InvalidReferencePhoto("a known adult needs a name")
    consent_text = require_reason(consent, "enrolling a known adult (record of consent)")
    if not photos:
        raise InvalidReferencePhoto("at least one reference photo is needed")
    encodings = []
    for i, data in enumerate(photos):
        try:
            encodings.append(reference_from_bytes(f"#{i + 1}", data).encoding)
        except InvalidReferencePhoto as exc:
            raise InvalidReferencePhoto(exc.message, **exc.details, photo=i + 1) from None
    sealed = seal(keyring, np.stack(encodings).astype(np.float64).tobytes())
    row = KnownAdult(name=name.strip(), consent=consent_text, object_id=sealed.object_id,
                     kek_id=sealed.kek_id, wrapped_key=sealed.wrapped_key,
                     ciphertext=sealed.ciphertext,
                     encoding_count=len(encodings),
                     photo_sha256=[hashlib.sha256(p).hexdigest() for p in photos],
                     created_by=actor.username)
    session.add(row)
    session.flush()
    custody.append(session=session, actor=actor, action="known_adult.enrol",
                   target_type="known_adult", target_id=str(row.id), client_addr=client_addr,
                   reason=consent_text, details={"name": row.name,
                                                 "photo_sha256": row.photo_sha256,
                                                 "kek_id": row.kek_id})
    return row


def list_known_adults(*, session: Session, include_removed: bool = False) -> list[KnownAdult]:
    """Enrolled known adults (removed ones too when asked)."""
    stmt = select(KnownAdult).order_by(col(KnownAdult.id))
    if not include_removed:
        stmt = stmt.where(col(KnownAdult.removed_at).is_(None))
    return list(session.exec(stmt))


def remove_known_adult(*, session: Session, adult_id: int, actor: Principal, reason: str,
                       client_addr: str = "") -> KnownAdult:
    """Remove a known adult: the encrypted encodings are erased, the record stays."""
    text = require_reason(reason, "removing a known adult")
    row = session.get(KnownAdult, adult_id)
    if row is None or row.removed_at is not None:
        raise KnownAdultNotFound(f"no enrolled known adult {adult_id}", id=adult_id)
    row.removed_at, row.removed_by, row.removal_reason = utcnow(), actor.username, text
    row.ciphertext, row.wrapped_key = "", ""
    session.add(row)
    session.flush()
    custody.append(session=session, actor=actor, action="known_adult.remove",
                   target_type="known_adult", target_id=str(row.id), client_addr=client_addr,
                   reason=text, details={"name": row.name})
    return row


def load_known_adults(*, session: Session, keyring: Keyring) -> list[Any]:
    """The enrolled adults with decrypted encodings, for the analysis (memory only)."""
    from redaction.analysis import KnownAdult as Reference

    return [Reference(name=r.name, encodings=list(_unseal(keyring, r)))
            for r in list_known_adults(session=session)]


def known_adult_encodings(*, session: Session, keyring: Keyring,
                          adult_ids: Sequence[int]) -> list[tuple[KnownAdult, np.ndarray]]:
    """Named enrolled adults with their decrypted encodings (memory only); KnownAdultNotFound
    for an unknown or removed one."""
    out = []
    for adult_id in adult_ids:
        row = session.get(KnownAdult, adult_id)
        if row is None or row.removed_at is not None:
            raise KnownAdultNotFound(f"no enrolled known adult {adult_id}", adult_id=adult_id)
        out.append((row, _unseal(keyring, row)))
    return out


def rewrap_known_adults(*, session: Session, keyring: Keyring, kek_id: str) -> int:
    """Re-wrap every known adult's data key under `kek_id` (after a KEK rotation)."""
    return rewrap_rows(session=session, keyring=keyring,
                       rows=list_known_adults(session=session), kek_id=kek_id)
