"""Resumable uploads: create, append (encrypting as bytes arrive), finalise into custody.

Staging never holds plaintext. `<id>.ct` holds the header and every finished segment of the
final object format; the partial last segment (< one segment of plaintext) is kept in
`<id>.tail.<offset>`, encrypted under a key derived from the upload's data key. Tails are
named by the offset they end at, so if the server dies after writing a new tail but before
the database records the new offset, the tail for the recorded offset is still there (stale
ones are swept on the next open). So any chunking makes
progress, a restart loses nothing acknowledged, and finalising publishes `<id>.ct` as is.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import ValidationError
from sqlmodel import Session

from bwc_custody.auth.service import Principal
from bwc_custody.config import get_settings
from bwc_custody.custody import service as custody
from bwc_custody.evidence import service as evidence_service
from bwc_custody.evidence.errors import EmptyFile, InvalidMetadata
from bwc_custody.evidence.models import DockMetadata, Receipt
from bwc_custody.uploads.errors import (
    ChecksumUnsupported,
    InvalidUploadHeader,
    OffsetMismatch,
    UploadBusy,
    UploadClosed,
    UploadIncomplete,
    UploadNotFound,
    UploadTooLarge,
)
from bwc_custody.uploads.models import Upload
from bwc_custody.vault.errors import HashMismatch
from storage.crypto import HEADER_SIZE, TAG_SIZE, Header, SegmentCipher, new_data_key
from storage.keys import Keyring, Signer, WrappedKey
from storage.local import fsync_dir
from storage.objectstore import ObjectStore

# Running hashes of uploads this process is receiving: (offset, sha256 state). After a
# restart (or on another process) the hash is rebuilt from the staged ciphertext.
_HASHERS: dict[str, tuple[int, Any]] = {}
_HASHERS_LOCK = threading.Lock()


def staging_dir() -> Path:
    """Where this server stages uploads."""
    path = get_settings().uploads_dir
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


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
    header = Header(settings.segment_size, uuid.UUID(upload_id), os.urandom(7)).to_bytes()
    path = staging_dir() / f"{upload_id}.ct"
    with open(path, "xb") as fh:
        fh.write(header)
        fh.flush()
        os.fsync(fh.fileno())
    session.add(upload)
    session.flush()
    custody.append(
        session=session, actor=actor, action="upload.create", target_type="upload",
        target_id=upload_id, client_addr=client_addr,
        details={"length": length, "filename": metadata.get("filename")},
    )
    return upload


class Staging:
    """The staged, encrypted state of one upload, held under an exclusive file lock."""

    def __init__(self, upload: Upload, keyring: Keyring) -> None:
        self.upload = upload
        self.ct_path = staging_dir() / f"{upload.id}.ct"
        if not self.ct_path.exists():
            raise UploadNotFound(f"upload {upload.id} has no staged data", upload_id=upload.id)
        wrapped = WrappedKey(upload.kek_id, base64.b64decode(upload.wrapped_key))
        data_key = keyring.unwrap(wrapped, uuid.UUID(upload.id))
        with open(self.ct_path, "rb") as fh:
            header = Header.parse(fh.read(HEADER_SIZE))
        self.cipher = SegmentCipher(data_key, header)
        self.seg = header.segment_size
        self._tail_aead = AESGCM(
            HKDF(hashes.SHA256(), 32, salt=None, info=b"bwc-upload-tail").derive(data_key)
        )
        self.offset = upload.offset
        self.index = self.offset // self.seg  # index of the segment being filled
        self.tail = self._load_tail()
        self._sweep_tails(keep=self.offset)
        self.hasher = self._hasher()
        self._fh = open(self.ct_path, "r+b")  # noqa: SIM115 (closed by close())
        self._fh.seek(self._ct_end())
        self._fh.truncate()  # drop bytes of an append that never reached its commit

    def _ct_end(self) -> int:
        return HEADER_SIZE + self.index * (self.seg + TAG_SIZE)

    def _tail_aad(self, offset: int) -> bytes:
        return self.upload.id.encode() + offset.to_bytes(8, "big")

    def _tail_path(self, offset: int) -> Path:
        return staging_dir() / f"{self.upload.id}.tail.{offset}"

    def _sweep_tails(self, keep: int | None) -> None:
        for path in staging_dir().glob(f"{self.upload.id}.tail.*"):
            if keep is None or path.name != self._tail_path(keep).name:
                path.unlink(missing_ok=True)

    def _load_tail(self) -> bytearray:
        expected = self.offset - self.index * self.seg
        if expected == 0:
            return bytearray()
        blob = self._tail_path(self.offset).read_bytes()
        plain = self._tail_aead.decrypt(blob[:12], blob[12:], self._tail_aad(self.offset))
        if len(plain) != expected:
            raise UploadNotFound("staged tail does not match the recorded offset")
        return bytearray(plain)

    def _hasher(self) -> Any:
        with _HASHERS_LOCK:
            cached = _HASHERS.get(self.upload.id)
        if cached and cached[0] == self.offset:
            return cached[1].copy()
        hasher = hashlib.sha256()
        with open(self.ct_path, "rb") as fh:
            fh.seek(HEADER_SIZE)
            for i in range(self.index):
                hasher.update(self.cipher.decrypt(i, fh.read(self.seg + TAG_SIZE), False))
        hasher.update(self.tail)
        return hasher

    def _is_last(self, index: int) -> bool:
        return (index + 1) * self.seg >= self.upload.length

    def feed(self, data: bytes, chunk_hasher: Any | None = None) -> None:
        """Take the next bytes; encrypt every segment that is now whole (no re-buffering)."""
        if self.offset + len(data) > self.upload.length:
            raise InvalidUploadHeader("more bytes than Upload-Length")
        self.hasher.update(data)
        if chunk_hasher is not None:
            chunk_hasher.update(data)
        self.offset += len(data)
        view = memoryview(data)
        seg = self.seg
        if self.tail:
            take = min(seg - len(self.tail), len(view))
            self.tail += view[:take]
            view = view[take:]
            if len(self.tail) == seg and not self._is_last(self.index):
                self._fh.write(self.cipher.encrypt(self.index, self.tail, False))
                self.tail = bytearray()
                self.index += 1
        # The final segment is only encrypted by persist(), with its last flag.
        while len(view) >= seg and not self._is_last(self.index):
            self._fh.write(self.cipher.encrypt(self.index, view[:seg], False))
            view = view[seg:]
            self.index += 1
        if view:
            self.tail += view

    def mark(self) -> tuple[int, int, bytes, Any]:
        """State to roll back to if this request's bytes must be discarded."""
        return (self.offset, self.index, bytes(self.tail), self.hasher.copy())

    def rollback(self, mark: tuple[int, int, bytes, Any]) -> None:
        """Forget everything fed since `mark`."""
        self.offset, self.index, tail, self.hasher = mark
        self.tail = bytearray(tail)
        self._fh.seek(self._ct_end())
        self._fh.truncate()

    def persist(self) -> None:
        """Make the fed bytes durable: segments fsynced, tail rewritten atomically."""
        self._fh.flush()
        os.fsync(self._fh.fileno())
        complete = self.offset == self.upload.length
        if complete:
            self._fh.write(self.cipher.encrypt(self.index, bytes(self.tail), True))
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._sweep_tails(keep=None)
        elif self.tail:
            nonce = os.urandom(12)
            aad = self._tail_aad(self.offset)
            blob = nonce + self._tail_aead.encrypt(nonce, bytes(self.tail), aad)
            final = self._tail_path(self.offset)
            tmp = final.with_name(final.name + ".tmp")
            with open(tmp, "wb") as fh:
                fh.write(blob)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, final)
            fsync_dir(final.parent)
        with _HASHERS_LOCK:
            if complete:
                _HASHERS.pop(self.upload.id, None)
            else:
                _HASHERS[self.upload.id] = (self.offset, self.hasher.copy())

    @property
    def sha256(self) -> str:
        """SHA-256 of all plaintext fed so far."""
        return str(self.hasher.hexdigest())

    def close(self) -> None:
        self._fh.close()


@contextmanager
def locked_staging(upload: Upload, keyring: Keyring) -> Iterator[Staging]:
    """The upload's staging, exclusively locked (a second concurrent PATCH gets 423)."""
    lock_path = staging_dir() / f"{upload.id}.lock"
    with open(lock_path, "a+b") as lock:
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UploadBusy(
                "another request is writing this upload; retry after it ends",
                upload_id=upload.id,
            ) from None
        staging = Staging(upload, keyring)
        try:
            yield staging
        finally:
            staging.close()


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


def record_progress(*, session: Session, upload: Upload, staging: Staging) -> Upload:
    """Store the new offset (and, when all bytes are in, the content hash)."""
    upload.offset = staging.offset
    if upload.offset == upload.length:
        upload.status = "complete"
        upload.sha256 = staging.sha256
    session.add(upload)
    session.flush()
    return upload


def discard_staging(upload_id: str) -> None:
    """Delete every staged file of an upload."""
    for path in staging_dir().glob(f"{upload_id}.*"):
        path.unlink(missing_ok=True)
    with _HASHERS_LOCK:
        _HASHERS.pop(upload_id, None)


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
) -> Receipt:
    """Attach metadata, check the expected hash, and take the upload into custody."""
    if upload.status == "finalized" and upload.receipt:
        return Receipt.model_validate(upload.receipt)  # idempotent: the dock may retry
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
    try:
        metadata = DockMetadata.model_validate(
            {"filename": upload.upload_metadata.get("filename"), **body}
        )
    except ValidationError as exc:
        raise InvalidMetadata(
            "metadata is not valid", errors=exc.errors(include_url=False, include_context=False)
        ) from None
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
    receipt = evidence_service.ingest_staged(
        session=session, store=store, keyring=keyring, signer=signer, evidence_id=upload.id,
        ciphertext=staging_dir() / f"{upload.id}.ct",
        wrapped=WrappedKey(upload.kek_id, base64.b64decode(upload.wrapped_key)),
        sha256=upload.sha256, metadata=metadata, actor=actor, client_addr=client_addr,
    )
    upload.status = "finalized"
    upload.evidence_id = receipt.evidence_id
    upload.receipt = receipt.model_dump(mode="json")
    session.add(upload)
    session.flush()
    return receipt


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
