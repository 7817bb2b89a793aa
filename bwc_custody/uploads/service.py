"""Resumable uploads: create, append, finalise into custody, terminate (the upload rows and
their custody entries). The encrypted bytes being staged are `uploads.staging`'s.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col

from bwc_custody.auth.service import Principal
from bwc_custody.config import get_settings
from bwc_custody.custody import service as custody
from bwc_custody.evidence import service as evidence_service
from bwc_custody.evidence.errors import EmptyFile
from bwc_custody.evidence.models import Receipt, parse_metadata
from bwc_custody.evidence.service import Admission
from bwc_custody.uploads.errors import (
    ChecksumMismatch,
    ChecksumUnsupported,
    InvalidUploadHeader,
    OffsetMismatch,
    UploadClosed,
    UploadIncomplete,
    UploadNotFound,
    UploadTooLarge,
)
from bwc_custody.uploads.models import Upload
from bwc_custody.uploads.staging import (
    Staging,
    UploadLock,
    discard_staging,
    staged_ciphertext,
    start_staging,
)
from bwc_custody.vault.errors import HashMismatch
from storage.crypto import new_data_key
from storage.keys import Keyring, Signer, WrappedKey
from storage.objectstore import ObjectStore


def parse_upload_metadata(header: str | None) -> dict[str, str]:
    """Decode tus `Upload-Metadata` ("key b64,key b64")."""
    result: dict[str, str] = {}
    for pair in (header or "").split(","):
        pair = pair.strip()
        if not pair:
            continue
        key, _, value = pair.partition(" ")
        try:
            result[key] = base64.b64decode(value.strip(), validate=True).decode() if value else ""
        except (ValueError, UnicodeDecodeError):
            raise InvalidUploadHeader(
                f"Upload-Metadata value for {key!r} is not valid base64 text", key=key
            ) from None
    return result


def get_owned_or_raise(*, session: Session, upload_id: str, actor: Principal) -> Upload:
    """The upload, if `actor` created it (others get not-found, not a hint it exists)."""
    upload = session.get(Upload, upload_id)
    if upload is None or upload.created_by != actor.username:
        raise UploadNotFound(f"no upload {upload_id!r}", upload_id=upload_id)
    return upload


def create(
    *, session: Session, keyring: Keyring, actor: Principal, length: int,
    metadata: dict[str, str], client_addr: str = "",
) -> Upload:
    """Open a new upload of `length` bytes and write its ciphertext header."""
    settings = get_settings()
    if length == 0:
        raise EmptyFile("the file is empty (0 bytes); nothing to upload")
    if length < 0:
        raise InvalidUploadHeader("Upload-Length must be a non-negative integer")
    if length > settings.max_upload_bytes:
        raise UploadTooLarge(
            f"Upload-Length {length} exceeds the maximum {settings.max_upload_bytes}",
            max=settings.max_upload_bytes,
        )
    upload_id = str(uuid.uuid4())
    data_key = new_data_key()
    wrapped = keyring.wrap(data_key, uuid.UUID(upload_id))
    upload = Upload(
        id=upload_id, length=length, created_by=actor.username, upload_metadata=metadata,
        kek_id=wrapped.kek_id, wrapped_key=wrapped.b64, segment_size=settings.segment_size,
    )
    start_staging(upload_id, settings.segment_size)
    session.add(upload)
    session.flush()
    custody.append(
        session=session, actor=actor, action="upload.create", target_type="upload",
        target_id=upload_id, client_addr=client_addr,
        details={"length": length, "filename": metadata.get("filename")},
    )
    return upload


def parse_checksum(header: str | None) -> bytes | None:
    """The expected SHA-256 digest from tus `Upload-Checksum: sha256 <base64>`."""
    if not header:
        return None
    algo, _, value = header.strip().partition(" ")
    if algo.lower() != "sha256":
        raise ChecksumUnsupported(f"checksum algorithm {algo!r} is not supported; use sha256")
    try:
        digest = base64.b64decode(value.strip(), validate=True)
    except ValueError:
        raise InvalidUploadHeader("Upload-Checksum value is not base64") from None
    if len(digest) != 32:
        raise InvalidUploadHeader("Upload-Checksum sha256 digest must be 32 bytes")
    return digest


def check_appendable(upload: Upload, client_offset: int) -> None:
    """Refuse appends to closed uploads or at the wrong offset."""
    if upload.status != "open":
        raise UploadClosed(f"upload is {upload.status}; no more bytes are accepted",
                           status=upload.status)
    if client_offset != upload.offset:
        raise OffsetMismatch(
            f"Upload-Offset {client_offset} does not match the server's offset {upload.offset}; "
            "HEAD the upload and resume from there",
            server_offset=upload.offset,
        )


@dataclass
class Append:
    """One PATCH under way: the upload, its locked staging, where to roll back to."""

    upload: Upload
    staging: Staging
    lock: UploadLock
    mark: tuple[int, int, bytes, Any]
    offset: int  # the offset the request started at, as committed

    def close(self) -> None:
        """Close the staging and release the lock (after the commit, or on failure)."""
        try:
            self.staging.close()
        finally:
            self.lock.release()


def begin_append(*, session: Session, keyring: Keyring, upload_id: str, actor: Principal,
                 offset: int) -> Append:
    """Lock the upload, read its committed offset under the lock and check `offset` against
    it, open its staging; then end the read transaction, so no database connection is held
    while the bytes arrive (held, 20 slow uploads emptied the pool, #22 finding 7). The
    caller feeds the staging, calls `finish_append`, and always `Append.close()`."""
    upload = get_owned_or_raise(session=session, upload_id=upload_id, actor=actor)
    check_appendable(upload, offset)  # a plain mismatch is 409 even while another writes
    lock = UploadLock(upload.id)
    try:
        session.refresh(upload)  # what the previous holder of the lock committed
        check_appendable(upload, offset)
        staging = Staging(upload, keyring)
    except BaseException:
        lock.release()
        raise
    session.commit()
    return Append(upload=upload, staging=staging, lock=lock, mark=staging.mark(),
                  offset=upload.offset)


def finish_append(*, session: Session, append: Append, expected: bytes | None,
                  received: bytes, disconnected: bool) -> Upload:
    """Make the bytes fed durable and commit the new offset, still under the lock; bytes
    whose SHA-256 (`received`) is not `expected` are dropped (ChecksumMismatch), as are
    those of a client gone before the end when it sent a checksum."""
    staging = append.staging
    if expected is not None and (disconnected or received != expected):
        staging.rollback(append.mark)
        if not disconnected:
            raise ChecksumMismatch("the chunk's SHA-256 does not match Upload-Checksum; "
                                   "it was discarded, send it again",
                                   server_offset=append.offset)
    staging.persist()
    upload = record_progress(session=session, upload=append.upload, staging=staging,
                             previous=append.offset)
    session.commit()
    return upload


def record_progress(*, session: Session, upload: Upload, staging: Staging,
                    previous: int) -> Upload:
    """Store the new offset (and, when all bytes are in, the content hash), only if the
    stored offset is still `previous`: else OffsetMismatch, nothing stored."""
    values: dict[str, Any] = {"offset": staging.offset}
    if staging.offset == upload.length:
        values |= {"status": "complete", "sha256": staging.sha256}
    moved = session.execute(
        update(Upload).where(col(Upload.id) == upload.id, col(Upload.offset) == previous,
                             col(Upload.status) == "open")
        .values(**values).returning(col(Upload.id))).first()
    if moved is None:  # another writer got there first (the lock makes this a backstop)
        raise OffsetMismatch("the upload moved on while these bytes arrived; HEAD the upload "
                             "and resume from there", server_offset=previous)
    for name, value in values.items():
        set_committed_value(upload, name, value)  # what the row now holds; nothing to flush
    return upload


def terminate(*, session: Session, upload: Upload, actor: Principal, client_addr: str = "") -> None:
    """tus termination: the upload and its staged bytes are discarded."""
    if upload.status == "finalized":
        raise UploadClosed("a finalised upload is in custody and cannot be terminated")
    upload.status = "terminated"
    session.add(upload)
    discard_staging(upload.id)
    custody.append(session=session, actor=actor, action="upload.terminate",
                   target_type="upload", target_id=upload.id, client_addr=client_addr,
                   details={"offset": upload.offset, "length": upload.length})


def finalize(
    *,
    session: Session,
    store: ObjectStore,
    keyring: Keyring,
    signer: Signer,
    upload: Upload,
    body: dict[str, Any],
    actor: Principal,
    client_addr: str = "",
) -> Admission:
    """Attach metadata, check the expected hash, and take the upload into custody."""
    if upload.status == "finalized" and upload.receipt:
        # idempotent: the dock may retry
        return Admission(Receipt.model_validate(upload.receipt))
    if upload.status in ("rejected", "terminated"):
        raise UploadClosed(f"upload is {upload.status}; upload the file again",
                           status=upload.status)
    if upload.status != "complete":
        raise UploadIncomplete(
            f"upload has {upload.offset} of {upload.length} bytes; finish it first",
            offset=upload.offset, length=upload.length, status=upload.status,
        )
    body = dict(body)
    expected = body.pop("sha256", None) or upload.upload_metadata.get("sha256")
    metadata = parse_metadata({"filename": upload.upload_metadata.get("filename"), **body})
    assert upload.sha256
    if expected is not None and str(expected).lower() != upload.sha256:
        upload.status = "rejected"
        session.add(upload)
        custody.append(session=session, actor=actor, action="upload.reject_hash_mismatch",
                       target_type="upload", target_id=upload.id, client_addr=client_addr,
                       details={"expected": str(expected).lower(), "actual": upload.sha256})
        session.commit()  # the rejection is recorded even though the request fails
        discard_staging(upload.id)
        raise HashMismatch(
            "the uploaded content's SHA-256 does not match the expected hash; nothing was "
            "ingested, upload it again",
            expected=str(expected).lower(), actual=upload.sha256,
        )
    admission = evidence_service.ingest_staged(
        session=session, store=store, keyring=keyring, signer=signer, evidence_id=upload.id,
        ciphertext=staged_ciphertext(upload.id),
        wrapped=WrappedKey(upload.kek_id, base64.b64decode(upload.wrapped_key)),
        sha256=upload.sha256, metadata=metadata, actor=actor, client_addr=client_addr,
    )
    upload.status = "finalized"
    upload.evidence_id = admission.receipt.evidence_id
    upload.receipt = admission.receipt.model_dump(mode="json")
    session.add(upload)
    session.flush()
    return admission


def rewrap_open_uploads(*, session: Session, keyring: Keyring, kek_id: str) -> int:
    """Re-wrap the data keys of uploads still staging, as key rotation requires."""
    from sqlmodel import col, select

    count = 0
    stmt = select(Upload).where(
        col(Upload.status).in_(["open", "complete"]), Upload.kek_id != kek_id
    )
    for upload in session.exec(stmt):
        rewrapped = keyring.rewrap(
            WrappedKey(upload.kek_id, base64.b64decode(upload.wrapped_key)),
            uuid.UUID(upload.id), kek_id,
        )
        upload.kek_id, upload.wrapped_key = rewrapped.kek_id, rewrapped.b64
        session.add(upload)
        count += 1
    session.flush()
    return count
