"""Take footage into custody (CLI file or finished upload), read it back, export it.

What follows a new recording in other domains (officer tags, notices, the person count) is
`flows.ingest`'s: the routes and commands ingest through it.
"""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import text
from sqlmodel import Session, col, select

from bwc_custody.auth.service import Principal
from bwc_custody.custody import service as custody
from bwc_custody.db import engine_of
from bwc_custody.evidence import media
from bwc_custody.evidence.errors import (
    AlreadyPublished,
    DuplicateEvidence,
    EmptyFile,
    EvidenceDisposed,
    EvidenceNotFound,
)
from bwc_custody.evidence.models import DockMetadata, Evidence, Receipt
from bwc_custody.timeutil import as_utc, utcnow
from bwc_custody.vault import service as vault
from bwc_custody.vault.loopback import serve_plaintext
from bwc_custody.vault.models import PendingObject, StoredObject
from storage.crypto import EncryptResult, RangeReader
from storage.errors import IntegrityError
from storage.keys import Keyring, Signer, WrappedKey
from storage.objectstore import ObjectStore


def original_key(evidence_id: str) -> str:
    """Object key of an evidence item's original."""
    return f"originals/{evidence_id}"


def get_or_raise(*, session: Session, evidence_id: str, fresh: bool = False) -> Evidence:
    """The evidence item with this id (`fresh`: re-read, not the session's copy)."""
    evidence = session.get(Evidence, evidence_id, populate_existing=fresh)
    if evidence is None:
        raise EvidenceNotFound(f"no evidence {evidence_id!r}", evidence_id=evidence_id)
    return evidence


def find(*, session: Session, ref: str) -> Evidence:
    """The recording a person names by its id or any unambiguous start of it (the console
    shows 8 characters); EvidenceNotFound naming the candidates when it is ambiguous."""
    ref = ref.strip().lower()
    if len(ref) == 36:
        return get_or_raise(session=session, evidence_id=ref)
    if len(ref) < 4:
        raise EvidenceNotFound(f"{ref!r} is too short to name a recording (4 characters or "
                               "more of its id)", evidence_id=ref)
    found = list(session.exec(select(Evidence.id).where(col(Evidence.id).startswith(ref))
                              .order_by(col(Evidence.id)).limit(6)))
    if len(found) != 1:
        raise EvidenceNotFound(
            f"no recording's id starts with {ref!r}" if not found else
            f"{len(found)} recordings' ids start with {ref!r}: give more of it",
            evidence_id=ref, candidates=found)
    return get_or_raise(session=session, evidence_id=found[0])


def require_not_disposed(evidence: Evidence) -> Evidence:
    """`evidence`, unless it was destroyed under its retention schedule."""
    if evidence.disposed_at is not None:
        raise EvidenceDisposed(
            f"evidence {evidence.id} was destroyed under its retention schedule on "
            f"{evidence.disposed_at.date().isoformat()}; only its hash and custody history "
            "remain", evidence_id=evidence.id, sha256=evidence.sha256,
            disposed_at=evidence.disposed_at.isoformat())
    return evidence


def get_by_sha256(*, session: Session, sha256: str) -> Evidence | None:
    """The evidence item with this content hash, if already in custody."""
    return session.exec(select(Evidence).where(Evidence.sha256 == sha256)).first()


def list_evidence(
    *, session: Session, officer_id: str | None = None, limit: int = 100, offset: int = 0
) -> list[Evidence]:
    """Evidence, newest first, optionally one officer's."""
    stmt = select(Evidence).order_by(col(Evidence.received_at).desc()).limit(limit).offset(offset)
    if officer_id is not None:
        stmt = stmt.where(Evidence.officer_id == officer_id)
    return list(session.exec(stmt))


def sign_receipt(*, signer: Signer, evidence: Evidence, duplicate: bool) -> Receipt:
    """A receipt for `evidence`, signed with the server key."""
    receipt = Receipt(
        evidence_id=evidence.id, sha256=evidence.sha256, size=evidence.size,
        received_at=evidence.received_at, duplicate=duplicate, key_id=signer.key_id,
    )
    receipt.signature = signer.sign(receipt.signed_bytes())
    return receipt


def _stored_object(*, session: Session, evidence: Evidence) -> StoredObject:
    obj = session.get(StoredObject, evidence.object_key)
    if obj is None:
        raise IntegrityError(
            f"evidence {evidence.id} has no stored object", evidence_id=evidence.id
        )
    return obj


def original_reader(*, session: Session, store: ObjectStore, keyring: Keyring,
                    evidence: Evidence) -> RangeReader:
    """A range reader over an evidence item's authenticated plaintext, for a worker to serve
    to ffmpeg over loopback (`vault.loopback.serve_plaintext`) without plaintext on disk."""
    return vault.open_reader(store=store, keyring=keyring,
                             obj=_stored_object(session=session, evidence=evidence))


def open_original(*, session: Session, store: ObjectStore, keyring: Keyring, evidence_id: str,
                  actor: Principal, reason: str, wanted: str = "", client_addr: str = ""
                  ) -> tuple[Evidence, RangeReader]:
    """Record an `evidence.stream` entry (with the bytes asked for: a player's seek is on
    record like a play) and return a reader of the original's authenticated plaintext, for
    the whole file or a byte range."""
    evidence = require_not_disposed(get_or_raise(session=session, evidence_id=evidence_id))
    reader = original_reader(session=session, store=store, keyring=keyring, evidence=evidence)
    custody.append(session=session, actor=actor, action="evidence.stream",
                   target_type="evidence", target_id=evidence_id, client_addr=client_addr,
                   reason=reason, details={"sha256": evidence.sha256, "size": evidence.size,
                                           "range": wanted or "all"})
    return evidence, reader


def poster_key(evidence_id: str) -> str:
    """Where a recording's poster frame is stored (`storage/FORMAT.md`)."""
    return f"posters/{evidence_id}.jpg"


def has_poster(*, session: Session, evidence_id: str) -> bool:
    """Whether the recording's poster frame was made (and not destroyed with it)."""
    obj = session.get(StoredObject, poster_key(evidence_id))
    return obj is not None and obj.disposed_at is None


def store_poster(*, session: Session, store: ObjectStore, keyring: Keyring, evidence_id: str,
                 jpeg: bytes, at_seconds: float, faces_blurred: int, actor: Principal
                 ) -> StoredObject | None:
    """Keep the recording's poster frame (made once, at its first person count), encrypted
    like any object, and log it; None when it already has one."""
    evidence = require_not_disposed(get_or_raise(session=session, evidence_id=evidence_id))
    if has_poster(session=session, evidence_id=evidence_id):
        return None
    obj = vault.store_plaintext(session=session, store=store, keyring=keyring,
                                source=io.BytesIO(jpeg), key=poster_key(evidence_id),
                                object_id=uuid.uuid4(), kind="poster")
    custody.append(session=session, actor=actor, action="evidence.poster",
                   target_type="evidence", target_id=evidence.id,
                   details={"key": obj.key, "sha256": obj.sha256, "size": obj.size,
                            "at_seconds": at_seconds, "faces_blurred": faces_blurred})
    return obj


def read_posters(*, session: Session, store: ObjectStore, keyring: Keyring,
                 evidence_ids: list[str], actor: Principal, client_addr: str = "",
                 shown_on: str = "") -> dict[str, bytes]:
    """The poster frames of these recordings that have one, decrypted, with one custody entry
    naming every poster shown (a list page's worth of stills is one look, logged once)."""
    objs = [o for o in session.exec(select(StoredObject).where(
        col(StoredObject.key).in_([poster_key(i) for i in evidence_ids]),
        col(StoredObject.disposed_at).is_(None)))]
    if not objs:
        return {}
    shown = {o.key.removeprefix("posters/").removesuffix(".jpg"):
             b"".join(vault.iter_plaintext(store=store, keyring=keyring, obj=o)) for o in objs}
    custody.append(session=session, actor=actor, action="evidence.posters_view",
                   target_type="evidence_list", client_addr=client_addr, reason=shown_on,
                   details={"evidence_ids": sorted(shown)})
    return shown


def _probe_stored(
    *, store: ObjectStore, keyring: Keyring, obj: StoredObject
) -> tuple[str, dict[str, Any], str | None]:
    reader = vault.open_reader(store=store, keyring=keyring, obj=obj)
    with serve_plaintext(reader) as url:
        return media.probe(url)


def _admit(
    *,
    session: Session,
    store: ObjectStore,
    keyring: Keyring,
    obj: StoredObject,
    evidence_id: str,
    metadata: DockMetadata,
    actor: Principal,
    source: str,
    client_addr: str,
    adopted: bool = False,
) -> Evidence:
    status, summary, error = _probe_stored(store=store, keyring=keyring, obj=obj)
    fields = metadata.model_dump(exclude={"extra"})
    evidence = Evidence(
        id=evidence_id, object_key=obj.key, sha256=obj.sha256, size=obj.size,
        ingested_by=actor.username, source=source, extra=metadata.extra,
        media_status=status, media=summary, media_error=error, **fields,
    )
    session.add(evidence)
    session.flush()
    custody.append(
        session=session, actor=actor, action="evidence.ingest", target_type="evidence",
        target_id=evidence.id, client_addr=client_addr,
        details={
            "sha256": obj.sha256, "size": obj.size, "object_key": obj.key, "store": obj.store,
            "source": source, "media_status": status, "filename": metadata.filename,
            # What the officer or dock said, as said: the log keeps recorded_at's own
            # offset, which the evidence row (UTC) does not.
            "metadata": metadata.model_dump(mode="json", exclude_defaults=True),
            # published by an ingest that died before recording it, adopted now
            **({"adopted": True} if adopted else {}),
        },
    )
    return evidence


def recover_interrupted(*, session: Session, store: ObjectStore, keyring: Keyring,
                        signer: Signer, stale_after: timedelta = timedelta(days=1)
                        ) -> list[Admission]:
    """Finish the ingests that died after publishing an original and before recording it
    (their written-down objects are in the store, nothing records them), with what each
    ingest wrote down; forget written-down objects never published after `stale_after`."""
    done: list[Admission] = []
    rows = session.exec(select(PendingObject).where(PendingObject.kind == "original")
                        .order_by(col(PendingObject.created_at)))
    for pending in list(rows):
        if session.get(StoredObject, pending.key) is not None:
            session.delete(pending)  # recorded after all
            continue
        if pending.sha256 is None or not store.exists(pending.key):
            if as_utc(pending.created_at) < utcnow() - stale_after:
                session.delete(pending)
            continue
        _lock_content(session, pending.sha256)
        found = _already_here(session, store, pending.sha256)
        if not found["orphans"]:
            continue  # recorded meanwhile (the lock waited for it)
        context = pending.context
        who = Principal(user_id=None, username=str(context.get("actor", "unknown")),
                        roles=frozenset())
        done.append(_settle(
            session, store, keyring, signer, found,
            metadata=DockMetadata.model_validate(context.get("metadata", {})), actor=who,
            source=str(context.get("source", "cli")),
            client_addr=str(context.get("client_addr", ""))))
    session.flush()
    return done


@dataclass(frozen=True)
class Admission:
    """What an ingest did: the signed receipt, and the recording when it is new (None when
    the content was already in custody, or the upload was already finalized)."""

    receipt: Receipt
    evidence: Evidence | None = None


def _duplicate_receipt(
    *, session: Session, signer: Signer, existing: Evidence, actor: Principal, source: str,
    client_addr: str, metadata: DockMetadata,
) -> Receipt:
    """Log a second arrival of content already in custody; receipt names the existing item.

    Content destroyed under its schedule is refused: a receipt would claim custody of bytes
    no longer kept, and its unique hash cannot be taken in again as a new item."""
    require_not_disposed(existing)
    custody.append(
        session=session, actor=actor, action="evidence.ingest_duplicate",
        target_type="evidence", target_id=existing.id, client_addr=client_addr,
        details={"sha256": existing.sha256, "source": source, "filename": metadata.filename,
                 "device_serial": metadata.device_serial},
    )
    return sign_receipt(signer=signer, evidence=existing, duplicate=True)


def _lock_content(session: Session, sha256: str) -> None:
    """Serialise ingests of the same content until this transaction ends, so a twin arriving
    at the same moment waits and then finds this one (a duplicate receipt) instead of
    publishing a second, orphaned original and failing on the unique hash."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        key = int.from_bytes(bytes.fromhex(sha256[:16]), "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
    elif dialect == "sqlite":
        # a write that touches no row takes SQLite's (database-wide) write lock now
        session.execute(text("DELETE FROM evidence WHERE 0"))


def ingest_stream(
    *,
    session: Session,
    store: ObjectStore,
    keyring: Keyring,
    signer: Signer,
    source: BinaryIO,
    metadata: DockMetadata,
    actor: Principal,
    expected_sha256: str | None = None,
    client_addr: str = "",
    on_progress: Callable[[int], None] | None = None,
) -> Admission:
    """Hash+encrypt `source` into the store, then record it; returns the signed receipt.

    Content already in custody is not stored twice: the receipt names the existing item.
    """
    evidence_id = str(uuid.uuid4())
    found: dict[str, Any] = {}

    def refuse_empty_or_duplicate(result: EncryptResult) -> None:
        if result.size == 0:
            raise EmptyFile("the file is empty (0 bytes); nothing was ingested")
        _lock_content(session, result.sha256)
        found.update(_already_here(session, store, result.sha256))
        if found["evidence"] is not None:
            raise DuplicateEvidence(found["evidence"].id)
        if found["orphans"]:
            raise AlreadyPublished()

    context = _pending_context(evidence_id, metadata, "cli", actor, client_addr)
    try:
        obj = vault.store_plaintext(
            session=session, store=store, keyring=keyring, source=source,
            key=original_key(evidence_id), object_id=uuid.UUID(evidence_id), kind="original",
            lock=vault.original_lock(), expected_sha256=expected_sha256,
            before_publish=refuse_empty_or_duplicate, on_progress=on_progress,
            pending=context)
    except (DuplicateEvidence, AlreadyPublished):
        return _settle(session, store, keyring, signer, found, metadata=metadata, actor=actor,
                       source="cli", client_addr=client_addr)
    evidence = _admit(
        session=session, store=store, keyring=keyring, obj=obj, evidence_id=evidence_id,
        metadata=metadata, actor=actor, source="cli", client_addr=client_addr,
    )
    return Admission(sign_receipt(signer=signer, evidence=evidence, duplicate=False), evidence)


def _pending_context(evidence_id: str, metadata: DockMetadata, source: str, actor: Principal,
                     client_addr: str) -> dict[str, Any]:
    """What finishing an ingest needs if its process dies after publishing."""
    return {"evidence_id": evidence_id, "source": source, "actor": actor.username,
            "client_addr": client_addr,
            "metadata": metadata.model_dump(mode="json", exclude_defaults=True)}


def _already_here(session: Session, store: ObjectStore, sha256: str) -> dict[str, Any]:
    """Under the content's lock: the recording of this content if one is in custody, and the
    objects of it that dead ingests published but never recorded."""
    return {"evidence": get_by_sha256(session=session, sha256=sha256),
            "orphans": vault.published_orphans(session=session, store=store, sha256=sha256)}


def _settle(session: Session, store: ObjectStore, keyring: Keyring, signer: Signer,
            found: dict[str, Any], *, metadata: DockMetadata, actor: Principal, source: str,
            client_addr: str) -> Admission:
    """Finish an ingest whose content is already in the store: a duplicate receipt for a
    recording in custody, or the adoption of the first object a dead ingest published (it
    becomes the recording); any other such object is recorded as a copy, so that nothing
    the store keeps (and may not delete: it is write-once) goes unrecorded."""
    orphans = list(found["orphans"])
    existing: Evidence | None = found["evidence"]
    evidence: Evidence | None = None
    if existing is None:
        first = orphans.pop(0)
        obj = vault.adopt(session=session, store=store, keyring=keyring, pending=first)
        evidence = _admit(session=session, store=store, keyring=keyring, obj=obj,
                          evidence_id=str(first.context.get("evidence_id")),
                          metadata=metadata, actor=actor, source=source,
                          client_addr=client_addr, adopted=True)
    recording = existing or evidence
    assert recording is not None
    for orphan in orphans:
        copy = vault.adopt(session=session, store=store, keyring=keyring, pending=orphan,
                           kind="original_copy")
        custody.append(session=session, actor=actor, action="evidence.copy_recorded",
                       target_type="evidence", target_id=recording.id, client_addr=client_addr,
                       details={"object_key": copy.key, "sha256": copy.sha256,
                                "why": "a second copy published by an ingest that died "
                                       "before recording it; kept, write-once"})
    if existing is None:
        return Admission(sign_receipt(signer=signer, evidence=recording, duplicate=False),
                         recording)
    return Admission(_duplicate_receipt(
        session=session, signer=signer, existing=existing, actor=actor, source=source,
        client_addr=client_addr, metadata=metadata))


def ingest_staged(
    *,
    session: Session,
    store: ObjectStore,
    keyring: Keyring,
    signer: Signer,
    evidence_id: str,
    ciphertext: Path,
    wrapped: WrappedKey,
    sha256: str,
    metadata: DockMetadata,
    actor: Principal,
    client_addr: str = "",
) -> Admission:
    """Publish a finished, already-encrypted upload and record it. A retry after the process
    died between publishing and recording adopts what it published."""
    vault.begin_pending_ciphertext(
        engine=engine_of(session), ciphertext=ciphertext, wrapped=wrapped, sha256=sha256,
        key=original_key(evidence_id), kind="original",
        context=_pending_context(evidence_id, metadata, "upload", actor, client_addr))
    _lock_content(session, sha256)
    found = _already_here(session, store, sha256)
    if found["evidence"] is not None and found["evidence"].id == evidence_id:
        # this very upload, recorded by the housekeeping after its first try died
        return Admission(sign_receipt(signer=signer, evidence=found["evidence"],
                                      duplicate=False))
    if found["evidence"] is not None or found["orphans"]:
        return _settle(session, store, keyring, signer, found, metadata=metadata, actor=actor,
                       source="upload", client_addr=client_addr)
    obj = vault.store_ciphertext(
        session=session, store=store, ciphertext=ciphertext, wrapped=wrapped, sha256=sha256,
        key=original_key(evidence_id), kind="original", lock=vault.original_lock(),
    )
    evidence = _admit(
        session=session, store=store, keyring=keyring, obj=obj, evidence_id=evidence_id,
        metadata=metadata, actor=actor, source="upload", client_addr=client_addr,
    )
    return Admission(sign_receipt(signer=signer, evidence=evidence, duplicate=False), evidence)


def export_original(
    *,
    session: Session,
    store: ObjectStore,
    keyring: Keyring,
    evidence_id: str,
    out: Path,
    actor: Principal,
    reason: str = "",
    client_addr: str = "",
) -> str:
    """Decrypt the original to `out`, verifying its SHA-256 before the file appears."""
    evidence = get_or_raise(session=session, evidence_id=evidence_id)
    obj = _stored_object(session=session, evidence=evidence)
    hasher = hashlib.sha256()
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        with open(tmp, "xb") as fh:
            for chunk in vault.iter_plaintext(store=store, keyring=keyring, obj=obj):
                hasher.update(chunk)
                fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        if hasher.hexdigest() != evidence.sha256:
            raise IntegrityError(
                f"evidence {evidence_id} decrypted to a different SHA-256; export refused",
                expected=evidence.sha256, actual=hasher.hexdigest(),
            )
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    custody.append(
        session=session, actor=actor, action="evidence.export", target_type="evidence",
        target_id=evidence_id, client_addr=client_addr, reason=reason,
        details={"sha256": evidence.sha256, "destination": str(out)},
    )
    return evidence.sha256

