"""Store, read, verify and re-key encrypted objects; the store/keyring/signer factories."""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bwc_custody.config import Settings, get_settings
from bwc_custody.db import engine_of, session_scope
from bwc_custody.timeutil import utcnow
from bwc_custody.vault.errors import HashMismatch, ObjectDisposed
from bwc_custody.vault.models import PendingObject, StoredObject
from provenance.ca import AgencyCA
from storage.crypto import (
    HEADER_SIZE,
    EncryptResult,
    Header,
    RangeReader,
    SegmentCipher,
    encrypt_file,
    new_data_key,
    plaintext_size,
)
from storage.errors import IntegrityError, ObjectMissing
from storage.keys import Keyring, Signer, WrappedKey
from storage.local import LocalObjectStore
from storage.objectstore import ObjectLock, ObjectStore, content_version, is_content_version
from storage.s3 import S3ObjectStore


def build_store(settings: Settings) -> ObjectStore:
    """The object store the settings describe (S3 when an endpoint is set)."""
    if settings.uses_s3:
        assert settings.s3_endpoint
        store = S3ObjectStore(
            settings.s3_endpoint,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
            bucket=settings.s3_bucket,
            secure=settings.s3_secure,
            region=settings.s3_region,
            part_size=settings.s3_part_size,
            retention_mode=settings.retention_mode,
        )
        store.ensure_bucket()
        return store
    return LocalObjectStore(settings.objects_dir)


@lru_cache
def get_store() -> ObjectStore:
    """The process-wide object store."""
    return build_store(get_settings())


def get_keyring() -> Keyring:
    """The KEK keyring (created with a first key on first use)."""
    settings = get_settings()
    return Keyring(settings.keys_dir, settings.kek_active).ensure()


@lru_cache
def get_signer() -> Signer:
    """The server's Ed25519 signing key."""
    return Signer.load_or_create(get_settings().keys_dir)


def get_agency_ca() -> AgencyCA:
    """The agency's C2PA certificate authority (made by `bwc init`, or on first use), read
    afresh each call: `bwc keys rotate-c2pa` in another process switches it by one rename."""
    settings = get_settings()
    return AgencyCA.load_or_create(settings.c2pa_dir, agency=settings.agency_name)


def original_lock(settings: Settings | None = None) -> ObjectLock | None:
    """The WORM retention every original gets when published (none with 0 retention days:
    S3 refuses a retain-until date that is not in the future)."""
    settings = settings or get_settings()
    if settings.retention_days == 0:
        return None
    return ObjectLock(
        mode=settings.retention_mode,
        retain_until=utcnow() + timedelta(days=settings.retention_days),
    )


def _record(
    *,
    session: Session,
    store: ObjectStore,
    key: str,
    object_id: uuid.UUID,
    kind: str,
    sha256: str,
    size: int,
    ct_size: int,
    segment_size: int,
    wrapped: WrappedKey,
    version: str | None,
) -> StoredObject:
    row = StoredObject(
        key=key,
        object_id=str(object_id),
        kind=kind,
        sha256=sha256,
        size=size,
        ciphertext_size=ct_size,
        segment_size=segment_size,
        kek_id=wrapped.kek_id,
        wrapped_key=wrapped.b64,
        store=store.name,
        version=version,
    )
    session.add(row)
    pending = session.get(PendingObject, key)
    if pending is not None:  # recorded now, in the caller's transaction: nothing to adopt
        session.delete(pending)
    session.flush()
    return row


# ---- objects written down before they are published ------------------------------------


def begin_pending(*, engine: Engine, key: str, object_id: uuid.UUID, kind: str,
                  wrapped: WrappedKey, segment_size: int, context: dict[str, Any],
                  sha256: str | None = None, size: int | None = None) -> None:
    """Write down, in a transaction of its own, an object about to be published (kept if a
    row for `key` is there already: a retry of the same write)."""
    with session_scope(engine) as session:
        if session.get(PendingObject, key) is None and session.get(StoredObject, key) is None:
            session.add(PendingObject(
                key=key, object_id=str(object_id), kind=kind, kek_id=wrapped.kek_id,
                wrapped_key=wrapped.b64, segment_size=segment_size, sha256=sha256, size=size,
                context=context))


def begin_pending_ciphertext(*, engine: Engine, ciphertext: Path, wrapped: WrappedKey,
                             sha256: str, key: str, kind: str,
                             context: dict[str, Any]) -> None:
    """`begin_pending` for a staged, already-encrypted object (its hash is known)."""
    with open(ciphertext, "rb") as fh:
        header = Header.parse(fh.read(HEADER_SIZE))
    size = plaintext_size(ciphertext.stat().st_size, header.segment_size)
    begin_pending(engine=engine, key=key, object_id=header.object_id, kind=kind,
                  wrapped=wrapped, segment_size=header.segment_size, context=context,
                  sha256=sha256, size=size)


def _note_pending_hash(engine: Engine, key: str, sha256: str, size: int) -> None:
    with session_scope(engine) as session:
        row = session.get(PendingObject, key)
        if row is not None:
            row.sha256, row.size = sha256, size
            session.add(row)


def published_orphans(*, session: Session, store: ObjectStore,
                      sha256: str) -> list[PendingObject]:
    """Written-down objects of this content that were published but never recorded (the
    writer died in between), oldest first. Asked under the content's lock, so no live
    transaction is between publishing and recording any of them."""
    rows = session.exec(select(PendingObject).where(PendingObject.sha256 == sha256)
                        .order_by(col(PendingObject.created_at), col(PendingObject.key)))
    return [row for row in rows
            if session.get(StoredObject, row.key) is None and store.exists(row.key)]


def adopt(*, session: Session, store: ObjectStore, keyring: Keyring, pending: PendingObject,
          kind: str | None = None) -> StoredObject:
    """Record a published orphan, once it decrypts with its data key and hashes to what was
    written down (so nothing but our own bytes is ever adopted)."""
    assert pending.sha256 is not None
    assert pending.size is not None
    version = current_version(store=store, key=pending.key)
    candidate = StoredObject(
        key=pending.key, object_id=pending.object_id, kind=kind or pending.kind,
        sha256=pending.sha256, size=pending.size,
        ciphertext_size=store.size(pending.key, version=version),
        segment_size=pending.segment_size, kek_id=pending.kek_id,
        wrapped_key=pending.wrapped_key, store=store.name, version=version)
    problem = check_fixity(store=store, keyring=keyring, obj=candidate)
    if problem is not None:
        raise IntegrityError(f"object {pending.key} was written down but its stored bytes are "
                             f"not what was: {problem}", key=pending.key)
    return _record(session=session, store=store, key=pending.key,
                   object_id=uuid.UUID(pending.object_id), kind=candidate.kind,
                   sha256=pending.sha256, size=pending.size,
                   ct_size=candidate.ciphertext_size, segment_size=pending.segment_size,
                   wrapped=wrapped_key_of(candidate), version=version)


def current_version(*, store: ObjectStore, key: str) -> str | None:
    """The version a plain read of `key` gets now (None when nothing is there)."""
    latest = [v for v in store.versions(key) if v.key == key and v.latest]
    return latest[0].version if latest else None


def is_present(*, store: ObjectStore, obj: StoredObject) -> bool:
    """Whether the object's recorded version is still in the store (found by version, so a
    delete marker over it does not make it look gone)."""
    try:
        store.size(obj.key, version=obj.version)
    except ObjectMissing:
        return False
    return True


def store_plaintext(
    *,
    session: Session,
    store: ObjectStore,
    keyring: Keyring,
    source: BinaryIO,
    key: str,
    object_id: uuid.UUID,
    kind: str,
    lock: ObjectLock | None = None,
    expected_sha256: str | None = None,
    segment_size: int | None = None,
    before_publish: Callable[[EncryptResult], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    pending: dict[str, Any] | None = None,
) -> StoredObject:
    """Hash and encrypt `source` in one pass into `key`; publish only if the hash holds.

    `before_publish(result)` may raise to abort (empty, duplicate); nothing is left in the
    store then. With `pending` (the context to finish with), the object is written down
    first (`begin_pending`), so one published by a process that then dies can be adopted.
    """
    data_key = new_data_key()
    cipher = SegmentCipher.new(data_key, object_id, segment_size or get_settings().segment_size)
    wrapped = keyring.wrap(data_key, object_id)
    if pending is not None:
        begin_pending(engine=engine_of(session), key=key, object_id=object_id, kind=kind,
                      wrapped=wrapped, segment_size=cipher.header.segment_size,
                      context=pending)
    with store.writer(key, lock=lock) as writer:
        result = encrypt_file(source, cipher, writer.write, on_progress=on_progress)
        if expected_sha256 and result.sha256 != expected_sha256.lower():
            raise HashMismatch(
                "the content's SHA-256 does not match the expected hash; nothing was stored",
                expected=expected_sha256.lower(),
                actual=result.sha256,
            )
        if pending is not None:  # before the caller's lock, which SQLite takes database-wide
            _note_pending_hash(engine_of(session), key, result.sha256, result.size)
        if before_publish:
            before_publish(result)
        writer.commit()
    return _record(
        session=session, store=store, key=key, object_id=object_id, kind=kind,
        sha256=result.sha256, size=result.size, ct_size=result.ciphertext_size,
        segment_size=cipher.header.segment_size, wrapped=wrapped, version=writer.version,
    )


def store_ciphertext(
    *,
    session: Session,
    store: ObjectStore,
    ciphertext: Path,
    wrapped: WrappedKey,
    sha256: str,
    key: str,
    kind: str,
    lock: ObjectLock | None = None,
) -> StoredObject:
    """Publish an already-encrypted staged object (a finished resumable upload); it was
    written down (`begin_pending`) by the caller before its lock."""
    with open(ciphertext, "rb") as fh:
        header = Header.parse(fh.read(HEADER_SIZE))
    ct_size = ciphertext.stat().st_size
    size = plaintext_size(ct_size, header.segment_size)
    published = store.publish_file(key, ciphertext, lock=lock)
    return _record(
        session=session, store=store, key=key, object_id=header.object_id, kind=kind,
        sha256=sha256, size=size, ct_size=ct_size, segment_size=header.segment_size,
        wrapped=wrapped, version=published.version,
    )


def wrapped_key_of(obj: StoredObject) -> WrappedKey:
    """The object's wrapped data key."""
    return WrappedKey(obj.kek_id, base64.b64decode(obj.wrapped_key))


def open_reader(*, store: ObjectStore, keyring: Keyring, obj: StoredObject,
                on_read: Callable[[int, bytes], None] | None = None) -> RangeReader:
    """A range reader over the plaintext of the object's recorded version (not whatever was
    written over it since); checks the header's object id. `on_read(offset, data)` sees
    every ciphertext read."""
    if obj.disposed_at is not None:
        raise ObjectDisposed(f"object {obj.key} was destroyed with its recording",
                             key=obj.key, disposed_at=obj.disposed_at.isoformat())
    object_id = uuid.UUID(obj.object_id)
    key = keyring.unwrap(wrapped_key_of(obj), object_id)

    def read_at(offset: int, length: int) -> bytes:
        data = store.read_at(obj.key, offset, length, version=obj.version)
        if on_read is not None:
            on_read(offset, data)
        return data

    reader = RangeReader(key, read_at, store.size(obj.key, version=obj.version))
    if reader.object_id != object_id:
        raise IntegrityError(
            f"object {obj.key} carries another object's header (spliced)", key=obj.key
        )
    return reader


def iter_plaintext(*, store: ObjectStore, keyring: Keyring, obj: StoredObject) -> Iterator[bytes]:
    """The whole plaintext, segment by segment, each authenticated."""
    return open_reader(store=store, keyring=keyring, obj=obj).iter_plaintext()


def check_fixity(
    *,
    store: ObjectStore,
    keyring: Keyring,
    obj: StoredObject,
    on_progress: Callable[[int], None] | None = None,
    expected_sha256: str | None = None,
    expected_size: int | None = None,
) -> str | None:
    """None when the object decrypts and re-hashes to its recorded SHA-256 (or to
    `expected_sha256` and `expected_size`, from a signed statement rather than a row), else
    why not."""
    want_sha = expected_sha256 or obj.sha256
    want_size = obj.size if expected_size is None else expected_size
    # A local store's version is the hash of the stored bytes: hashed as they are read
    # (the whole file is read in order), so a replaced file is named as such.
    stored = _ContentHash() if is_content_version(obj.version) else None
    try:
        reader = open_reader(store=store, keyring=keyring, obj=obj,
                             on_read=stored.update if stored else None)
        if reader.size != want_size:
            return f"size {reader.size} differs from recorded {want_size}"
        hasher = hashlib.sha256()
        for chunk in reader.iter_plaintext():
            hasher.update(chunk)
            if on_progress:
                on_progress(len(chunk))
    except Exception as exc:  # every failure is a finding, reported by name
        replaced = _replaced(store, obj)
        return f"{replaced}{exc.__class__.__name__}: {exc}"
    if stored is not None and (version := stored.version()) not in (None, obj.version):
        return (f"the file was replaced: it holds version {version}, not the recorded "
                f"{obj.version}")
    if hasher.hexdigest() != want_sha:
        return f"SHA-256 {hasher.hexdigest()} differs from recorded {want_sha}"
    return None


class _ContentHash:
    """SHA-256 of an object's ciphertext from its reads, while they run in order from 0."""

    def __init__(self) -> None:
        self.hasher = hashlib.sha256()
        self.offset = 0
        self.contiguous = True

    def update(self, offset: int, data: bytes) -> None:
        if offset != self.offset:
            self.contiguous = False
        self.hasher.update(data)
        self.offset += len(data)

    def version(self) -> str | None:
        """The content version of what was read, or None when it was not read in order."""
        return content_version(self.hasher.hexdigest()) if self.contiguous else None


def _replaced(store: ObjectStore, obj: StoredObject) -> str:
    """'the recorded version is hidden/gone: ' when the store says so, else ''."""
    if obj.version is None:
        return ""
    try:
        problem = store.version_problem(obj.key, obj.version)
    except Exception:  # the read's own error is the finding then
        return ""
    return f"{problem}: " if problem else ""


def rotate_keys(*, session: Session, keyring: Keyring, new_kek_id: str | None = None) -> int:
    """Re-wrap every data key under a new active KEK (content is never rewritten)."""
    kek_id = new_kek_id or keyring.add_kek()
    count = 0
    for obj in session.exec(select(StoredObject).where(StoredObject.kek_id != kek_id)):
        rewrapped = keyring.rewrap(wrapped_key_of(obj), uuid.UUID(obj.object_id), kek_id)
        obj.kek_id = rewrapped.kek_id
        obj.wrapped_key = rewrapped.b64
        session.add(obj)
        count += 1
    session.flush()
    return count
