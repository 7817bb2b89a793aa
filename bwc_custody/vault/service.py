"""Store, read, verify and re-key encrypted objects; the store/keyring/signer factories."""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

from sqlmodel import Session, select

from bwc_custody.config import Settings, get_settings
from bwc_custody.timeutil import utcnow
from bwc_custody.vault.errors import HashMismatch, ObjectDisposed
from bwc_custody.vault.models import StoredObject
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
from storage.errors import IntegrityError
from storage.keys import Keyring, Signer, WrappedKey
from storage.local import LocalObjectStore
from storage.objectstore import ObjectLock, ObjectStore
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
    )
    session.add(row)
    session.flush()
    return row


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
) -> StoredObject:
    """Hash and encrypt `source` in one pass into `key`; publish only if the hash holds.

    `before_publish(result)` may raise to abort (empty, duplicate); nothing is left in the
    store then.
    """
    data_key = new_data_key()
    cipher = SegmentCipher.new(data_key, object_id, segment_size or get_settings().segment_size)
    with store.writer(key, lock=lock) as writer:
        result = encrypt_file(source, cipher, writer.write, on_progress=on_progress)
        if expected_sha256 and result.sha256 != expected_sha256.lower():
            raise HashMismatch(
                "the content's SHA-256 does not match the expected hash; nothing was stored",
                expected=expected_sha256.lower(),
                actual=result.sha256,
            )
        if before_publish:
            before_publish(result)
        writer.commit()
    return _record(
        session=session, store=store, key=key, object_id=object_id, kind=kind,
        sha256=result.sha256, size=result.size, ct_size=result.ciphertext_size,
        segment_size=cipher.header.segment_size, wrapped=keyring.wrap(data_key, object_id),
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
    """Publish an already-encrypted staged object (a finished resumable upload)."""
    with open(ciphertext, "rb") as fh:
        header = Header.parse(fh.read(HEADER_SIZE))
    ct_size = ciphertext.stat().st_size
    size = plaintext_size(ct_size, header.segment_size)
    store.publish_file(key, ciphertext, lock=lock)
    return _record(
        session=session, store=store, key=key, object_id=header.object_id, kind=kind,
        sha256=sha256, size=size, ct_size=ct_size, segment_size=header.segment_size,
        wrapped=wrapped,
    )


def wrapped_key_of(obj: StoredObject) -> WrappedKey:
    """The object's wrapped data key."""
    return WrappedKey(obj.kek_id, base64.b64decode(obj.wrapped_key))


def open_reader(*, store: ObjectStore, keyring: Keyring, obj: StoredObject) -> RangeReader:
    """A range reader over the object's plaintext; checks the header's object id."""
    if obj.disposed_at is not None:
        raise ObjectDisposed(f"object {obj.key} was destroyed with its recording",
                             key=obj.key, disposed_at=obj.disposed_at.isoformat())
    object_id = uuid.UUID(obj.object_id)
    key = keyring.unwrap(wrapped_key_of(obj), object_id)
    reader = RangeReader(
        key, lambda off, n: store.read_at(obj.key, off, n), store.size(obj.key)
    )
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
) -> str | None:
    """None when the object decrypts and re-hashes to its recorded SHA-256, else why not."""
    try:
        reader = open_reader(store=store, keyring=keyring, obj=obj)
        if reader.size != obj.size:
            return f"size {reader.size} differs from recorded {obj.size}"
        hasher = hashlib.sha256()
        for chunk in reader.iter_plaintext():
            hasher.update(chunk)
            if on_progress:
                on_progress(len(chunk))
    except Exception as exc:  # every failure is a finding, reported by name
        return f"{exc.__class__.__name__}: {exc}"
    if hasher.hexdigest() != obj.sha256:
        return f"SHA-256 {hasher.hexdigest()} differs from recorded {obj.sha256}"
    return None


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
