"""An upload's staged bytes on this server's disk, encrypted as they arrive.

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

from bwc_custody.config import get_settings
from bwc_custody.uploads.errors import InvalidUploadHeader, UploadBusy, UploadNotFound
from bwc_custody.uploads.models import Upload
from storage.crypto import HEADER_SIZE, TAG_SIZE, Header, SegmentCipher
from storage.keys import Keyring, WrappedKey
from storage.local import fsync_dir

# Running hashes of uploads this process is receiving: (offset, sha256 state). After a
# restart (or on another process) the hash is rebuilt from the staged ciphertext.
_HASHERS: dict[str, tuple[int, Any]] = {}
_HASHERS_LOCK = threading.Lock()



def staging_dir() -> Path:
    """Where this server stages uploads."""
    path = get_settings().uploads_dir
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def start_staging(upload_id: str, segment_size: int) -> None:
    """Create an upload's staging: `<id>.ct` with the object header, durably."""
    header = Header(segment_size, uuid.UUID(upload_id), os.urandom(7)).to_bytes()
    with open(staging_dir() / f"{upload_id}.ct", "xb") as fh:
        fh.write(header)
        fh.flush()
        os.fsync(fh.fileno())


def staged_ciphertext(upload_id: str) -> Path:
    """`<id>.ct`: the header and segments in the final object format, published as is."""
    return staging_dir() / f"{upload_id}.ct"


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


class UploadLock:
    """An exclusive lock on one upload's staging, held by one request from before it reads
    the upload's offset until after it commits the new one (released between the two, a
    second PATCH at the same offset also got 204, #22 finding 14). A second request meanwhile
    gets UploadBusy (423)."""

    def __init__(self, upload_id: str) -> None:
        self._fh = open(staging_dir() / f"{upload_id}.lock", "a+b")  # noqa: SIM115 (release())
        try:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._fh.close()
            raise UploadBusy("another request is writing this upload; retry after it ends",
                             upload_id=upload_id) from None

    def release(self) -> None:
        """Let the next request in (closing the file ends the lock)."""
        self._fh.close()


@contextmanager
def locked_staging(upload: Upload, keyring: Keyring) -> Iterator[Staging]:
    """The upload's staging, exclusively locked for the block."""
    lock = UploadLock(upload.id)
    try:
        staging = Staging(upload, keyring)
        try:
            yield staging
        finally:
            staging.close()
    finally:
        lock.release()


def discard_staging(upload_id: str) -> None:
    """Delete every staged file of an upload."""
    for path in staging_dir().glob(f"{upload_id}.*"):
        path.unlink(missing_ok=True)
    with _HASHERS_LOCK:
        _HASHERS.pop(upload_id, None)
