"""Segmented AES-256-GCM envelope format (see storage/FORMAT.md).

An object is a 33-byte header followed by segments, each `segment_size` plaintext bytes
(the last one 0..segment_size) encrypted with AES-256-GCM and followed by its 16-byte tag.
The nonce binds the segment index and a last-segment flag; the header (magic, version,
segment size, object id, nonce prefix) is every segment's associated data. So truncation,
reordering and splicing across objects fail authentication, and any plaintext byte range
can be read by decrypting only the segments it touches.
"""

from __future__ import annotations

import hashlib
import os
import struct
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from storage.errors import IntegrityError


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, streamed in 8 MiB reads (the one helper every domain uses)."""
    hasher = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(8 << 20):
            hasher.update(chunk)
    return hasher.hexdigest()

MAGIC = b"BWCE"
VERSION = 1
ALG_AES256GCM = 1
HEADER_STRUCT = struct.Struct(">4sBBI16s7s")
HEADER_SIZE = HEADER_STRUCT.size  # 33
TAG_SIZE = 16
KEY_SIZE = 32
DEFAULT_SEGMENT_SIZE = 1024 * 1024
MAX_SEGMENTS = 2**32


@dataclass(frozen=True)
class Header:
    """The fixed header of an encrypted object."""

    segment_size: int
    object_id: uuid.UUID
    nonce_prefix: bytes

    def to_bytes(self) -> bytes:
        """The header's 33 bytes."""
        return HEADER_STRUCT.pack(
            MAGIC, VERSION, ALG_AES256GCM, self.segment_size, self.object_id.bytes,
            self.nonce_prefix,
        )

    @classmethod
    def parse(cls, data: bytes) -> Header:
        """Parse and check a header."""
        if len(data) < HEADER_SIZE:
            raise IntegrityError("object shorter than its header")
        magic, version, alg, seg, oid, prefix = HEADER_STRUCT.unpack(data[:HEADER_SIZE])
        if magic != MAGIC or version != VERSION or alg != ALG_AES256GCM or seg <= 0:
            raise IntegrityError("not a bwc-custody encrypted object (bad header)")
        return cls(segment_size=seg, object_id=uuid.UUID(bytes=oid), nonce_prefix=prefix)


def new_data_key() -> bytes:
    """A fresh random 256-bit data key."""
    return AESGCM.generate_key(bit_length=256)


def segment_nonce(prefix: bytes, index: int, last: bool) -> bytes:
    """prefix(7) || index (u32 big-endian) || last flag (1 byte)."""
    if not 0 <= index < MAX_SEGMENTS:
        raise ValueError("segment index out of range")
    return prefix + struct.pack(">IB", index, 1 if last else 0)


def segment_count(plaintext_size: int, segment_size: int) -> int:
    """Number of segments for a plaintext size (an empty object still has one)."""
    return max(1, -(-plaintext_size // segment_size))


def ciphertext_size(plaintext_size: int, segment_size: int) -> int:
    """Size of the encrypted object for a plaintext size."""
    return HEADER_SIZE + plaintext_size + TAG_SIZE * segment_count(plaintext_size, segment_size)


def plaintext_size(ct_size: int, segment_size: int) -> int:
    """Inverse of ciphertext_size; raises IntegrityError for an impossible size."""
    body = ct_size - HEADER_SIZE
    n = max(1, -(-body // (segment_size + TAG_SIZE)))
    size = body - TAG_SIZE * n
    if size < 0 or ciphertext_size(size, segment_size) != ct_size:
        raise IntegrityError("ciphertext size is impossible for this format (truncated?)")
    return size


class SegmentCipher:
    """Encrypts/decrypts the segments of one object under its data key."""

    def __init__(self, key: bytes, header: Header) -> None:
        self._aead = AESGCM(key)
        self.header = header
        self.header_bytes = header.to_bytes()

    @classmethod
    def new(
        cls, key: bytes, object_id: uuid.UUID, segment_size: int = DEFAULT_SEGMENT_SIZE
    ) -> SegmentCipher:
        """A cipher for a new object, with a random nonce prefix."""
        return cls(key, Header(segment_size, object_id, os.urandom(7)))

    def encrypt(self, index: int, plaintext: bytes | bytearray | memoryview, last: bool) -> bytes:
        """Ciphertext || tag of one segment."""
        nonce = segment_nonce(self.header.nonce_prefix, index, last)
        return self._aead.encrypt(nonce, plaintext, self.header_bytes)

    def decrypt(self, index: int, ciphertext: bytes, last: bool) -> bytes:
        """Plaintext of one segment, or IntegrityError naming it."""
        nonce = segment_nonce(self.header.nonce_prefix, index, last)
        try:
            return self._aead.decrypt(nonce, ciphertext, self.header_bytes)
        except InvalidTag:
            raise IntegrityError(
                f"segment {index} failed authentication", segment=index
            ) from None


@dataclass
class EncryptResult:
    """What one pass over the plaintext produced."""

    sha256: str
    size: int
    ciphertext_size: int


class StreamEncryptor:
    """Incremental encryptor: feed plaintext of any chunking, get ciphertext out in order.

    SHA-256 of the plaintext is computed in the same pass. A full segment is emitted as
    soon as it is known not to be the last one (the byte after it arrived, or the total
    size was declared).
    """

    def __init__(
        self,
        cipher: SegmentCipher,
        sink: Callable[[bytes], None],
        *,
        total_size: int | None = None,
    ) -> None:
        self.cipher = cipher
        self.sink = sink
        self.total_size = total_size
        self.hasher = hashlib.sha256()
        self.size = 0
        self.ct_size = 0
        self._seg = cipher.header.segment_size
        self._buf = bytearray()
        self._index = 0
        self._emit(cipher.header_bytes)

    def _emit(self, data: bytes) -> None:
        self.sink(data)
        self.ct_size += len(data)

    def _is_last(self, end: int) -> bool:
        return self.total_size is not None and end >= self.total_size

    def update(self, data: bytes | memoryview) -> None:
        """Take more plaintext."""
        if not data:
            return
        self.hasher.update(data)
        self.size += len(data)
        if self.total_size is not None and self.size > self.total_size:
            raise ValueError("more data than the declared size")
        view = memoryview(data)
        seg = self._seg
        if self._buf:
            # Complete the buffered segment first, then fall through to the fast path.
            take = min(seg - len(self._buf), len(view))
            self._buf += view[:take]
            view = view[take:]
            if len(self._buf) == seg and (view or self.total_size is not None):
                self._emit_segment(self._buf)
                self._buf = bytearray()
        # Whole segments straight from the caller's buffer (no copies), always keeping
        # the final segment back unless the declared size says it is the last.
        while len(view) > seg or (len(view) == seg and self.total_size is not None):
            self._emit_segment(view[:seg])
            view = view[seg:]
        if view:
            self._buf += view

    def _emit_segment(self, plaintext: bytes | bytearray | memoryview) -> None:
        last = self._is_last((self._index + 1) * self._seg)
        self._emit(self.cipher.encrypt(self._index, plaintext, last))
        self._index += 1

    def finish(self) -> EncryptResult:
        """Emit the last segment and return the hash and sizes."""
        if self.total_size is not None and self.size != self.total_size:
            raise ValueError("less data than the declared size")
        # The buffer holds the last segment unless a declared size already flushed it.
        if self._buf or self._index == 0:
            self._emit(self.cipher.encrypt(self._index, bytes(self._buf), True))
            self._index += 1
        self._buf.clear()
        return EncryptResult(self.hasher.hexdigest(), self.size, self.ct_size)


def _read_full(source: BinaryIO, n: int) -> bytes:
    """Read exactly n bytes unless the source ends first (pipes return short reads)."""
    data = source.read(n)
    if not data or len(data) == n:
        return data
    parts = [data]
    got = len(data)
    while got < n:
        more = source.read(n - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def encrypt_file(
    source: BinaryIO,
    cipher: SegmentCipher,
    sink: Callable[[bytes], None],
    *,
    on_progress: Callable[[int], None] | None = None,
) -> EncryptResult:
    """Encrypt everything `source` yields into `sink`, hashing in the same pass.

    Reads one segment ahead so each segment is encrypted straight from the read
    buffer, knowing whether it is the last (measured: 2x faster than re-buffering).
    """
    seg = cipher.header.segment_size
    hasher = hashlib.sha256()
    sink(cipher.header_bytes)
    ct_size = HEADER_SIZE
    size = 0
    index = 0
    current = _read_full(source, seg)
    while True:
        following = _read_full(source, seg) if len(current) == seg else b""
        last = not following
        hasher.update(current)
        out = cipher.encrypt(index, current, last)
        sink(out)
        ct_size += len(out)
        size += len(current)
        if on_progress:
            on_progress(len(current))
        if last:
            return EncryptResult(hasher.hexdigest(), size, ct_size)
        current = following
        index += 1


class RangeReader:
    """Decrypts arbitrary plaintext ranges of one object through a positional reader."""

    def __init__(self, key: bytes, read_at: Callable[[int, int], bytes], ct_size: int) -> None:
        header = Header.parse(read_at(0, HEADER_SIZE))
        self.cipher = SegmentCipher(key, header)
        self.read_at = read_at
        self.segment_size = header.segment_size
        self.size = plaintext_size(ct_size, self.segment_size)
        self.segments = segment_count(self.size, self.segment_size)

    @property
    def object_id(self) -> uuid.UUID:
        """The object id bound into every segment."""
        return self.cipher.header.object_id

    def segment(self, index: int) -> bytes:
        """Plaintext of segment `index`."""
        seg = self.segment_size
        start = HEADER_SIZE + index * (seg + TAG_SIZE)
        length = min(seg, self.size - index * seg) + TAG_SIZE
        data = self.read_at(start, length)
        if len(data) != length:
            raise IntegrityError(f"segment {index} is truncated", segment=index)
        return self.cipher.decrypt(index, data, index == self.segments - 1)

    def read(self, offset: int, length: int) -> bytes:
        """Plaintext bytes [offset, offset+length), clipped to the object's end."""
        if offset < 0 or length < 0:
            raise ValueError("negative range")
        end = min(offset + length, self.size)
        if offset >= end:
            return b""
        seg = self.segment_size
        out = bytearray()
        for i in range(offset // seg, (end - 1) // seg + 1):
            plain = self.segment(i)
            base = i * seg
            out += plain[max(offset - base, 0) : end - base]
        return bytes(out)

    def iter_plaintext(self) -> Iterator[bytes]:
        """Every segment's plaintext, in order, each authenticated."""
        for i in range(self.segments):
            yield self.segment(i)
