"""The segmented AES-256-GCM format: round trips, pinned vectors, and every tamper caught."""

from __future__ import annotations

import hashlib
import io
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.crypto import (
    HEADER_SIZE,
    TAG_SIZE,
    Header,
    RangeReader,
    SegmentCipher,
    StreamEncryptor,
    ciphertext_size,
    encrypt_file,
    new_data_key,
    plaintext_size,
)
from storage.errors import IntegrityError

SEG = 1024


def _encrypt(data: bytes, seg: int = SEG) -> tuple[bytes, bytes]:
    key = new_data_key()
    out = bytearray()
    encrypt_file(io.BytesIO(data), SegmentCipher.new(key, uuid.uuid4(), seg), out.extend)
    return key, bytes(out)


def _reader(key: bytes, blob: bytes) -> RangeReader:
    return RangeReader(key, lambda off, n: blob[off : off + n], len(blob))


# Pinned vector: any change to the format (nonce layout, AAD, header) changes these bytes.
VECTOR_KEY = bytes(range(32))
VECTOR_OBJECT = uuid.UUID("00112233-4455-6677-8899-aabbccddeeff")
VECTOR_PREFIX = bytes.fromhex("a1a2a3a4a5a6a7")
VECTOR_PLAINTEXT = b"bwc-custody test vector " * 100  # 2400 bytes: 3 segments of 1024


def _vector_ciphertext() -> bytes:
    cipher = SegmentCipher(VECTOR_KEY, Header(SEG, VECTOR_OBJECT, VECTOR_PREFIX))
    out = bytearray()
    encrypt_file(io.BytesIO(VECTOR_PLAINTEXT), cipher, out.extend)
    return bytes(out)


def test_pinned_vector_header_and_digest() -> None:
    blob = _vector_ciphertext()
    assert blob[:HEADER_SIZE].hex() == (
        "42574345" "01" "01" "00000400" "00112233445566778899aabbccddeeff" "a1a2a3a4a5a6a7"
    )
    assert len(blob) == HEADER_SIZE + 2400 + 3 * TAG_SIZE
    assert hashlib.sha256(blob).hexdigest() == (
        "cc8fd4e6564594a7796d6a03e2f95d5392fb635f2052dcd55aa64c91765c94da"
    ), "the on-disk format changed: update storage/FORMAT.md and bump VERSION"


def test_pinned_vector_first_segment_tag() -> None:
    blob = _vector_ciphertext()
    first_tag = blob[HEADER_SIZE + SEG : HEADER_SIZE + SEG + TAG_SIZE]
    assert first_tag.hex() == "1cef05edcf237869b093393211c49bc6"


def test_vector_matches_the_documented_construction() -> None:
    """Rebuild every segment with plain AES-GCM as FORMAT.md describes it."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    blob = _vector_ciphertext()
    header = blob[:HEADER_SIZE]
    aead = AESGCM(VECTOR_KEY)
    expected = bytearray(header)
    for index, start in enumerate(range(0, 2400, SEG)):
        last = start + SEG >= 2400
        nonce = VECTOR_PREFIX + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")
        expected += aead.encrypt(nonce, VECTOR_PLAINTEXT[start : start + SEG], header)
    assert blob == bytes(expected)


@pytest.mark.parametrize("size", [0, 1, SEG - 1, SEG, SEG + 1, 3 * SEG, 3 * SEG + 7])
def test_roundtrip_and_sizes(size: int) -> None:
    data = bytes(i % 251 for i in range(size))
    key, blob = _encrypt(data)
    assert len(blob) == ciphertext_size(size, SEG)
    assert plaintext_size(len(blob), SEG) == size
    reader = _reader(key, blob)
    assert reader.read(0, size + 10) == data
    assert b"".join(reader.iter_plaintext()) == data


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=5 * SEG), chunks=st.lists(st.integers(1, 3 * SEG), max_size=20),
       start=st.integers(0, 6 * SEG), length=st.integers(0, 3 * SEG), declared=st.booleans())
def test_stream_encryptor_any_chunking_and_range(
    data: bytes, chunks: list[int], start: int, length: int, declared: bool
) -> None:
    key = new_data_key()
    out = bytearray()
    enc = StreamEncryptor(SegmentCipher.new(key, uuid.uuid4(), SEG), out.extend,
                          total_size=len(data) if declared else None)
    pos = 0
    for n in chunks:
        enc.update(data[pos : pos + n])
        pos += n
    enc.update(data[pos:])
    result = enc.finish()
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert len(out) == ciphertext_size(len(data), SEG)
    assert _reader(key, bytes(out)).read(start, length) == data[start : start + length]


def test_range_read_decrypts_only_touched_segments() -> None:
    data = bytes(10 * SEG)
    key, blob = _encrypt(data)
    touched: list[int] = []

    def read_at(off: int, n: int) -> bytes:
        touched.append(off)
        return blob[off : off + n]

    reader = RangeReader(key, read_at, len(blob))
    touched.clear()
    reader.read(5 * SEG + 10, 100)
    assert touched == [HEADER_SIZE + 5 * (SEG + TAG_SIZE)]


def test_flipped_byte_is_named() -> None:
    key, blob = _encrypt(bytes(3 * SEG))
    bad = bytearray(blob)
    bad[HEADER_SIZE + (SEG + TAG_SIZE) + 5] ^= 1  # inside segment 1
    with pytest.raises(IntegrityError) as err:
        b"".join(_reader(key, bytes(bad)).iter_plaintext())
    assert err.value.details["segment"] == 1


def test_truncation_at_segment_boundary_is_detected() -> None:
    key, blob = _encrypt(bytes(3 * SEG))
    cut = blob[: HEADER_SIZE + 2 * (SEG + TAG_SIZE)]  # drop the last segment whole
    with pytest.raises(IntegrityError):
        b"".join(_reader(key, cut).iter_plaintext())  # segment 1 was not flagged last


def test_reordered_segments_are_detected() -> None:
    key, blob = _encrypt(bytes(range(256)) * 12)  # 3072 bytes: 3 full segments
    s = SEG + TAG_SIZE
    body = blob[HEADER_SIZE:]
    swapped = blob[:HEADER_SIZE] + body[s : 2 * s] + body[:s] + body[2 * s :]
    with pytest.raises(IntegrityError):
        _reader(key, swapped).read(0, 10)


def test_splicing_between_objects_is_detected() -> None:
    key = new_data_key()
    blobs = []
    for _ in range(2):  # same key on purpose: only the bound header tells them apart
        out = bytearray()
        encrypt_file(io.BytesIO(bytes(2 * SEG)), SegmentCipher.new(key, uuid.uuid4(), SEG),
                     out.extend)
        blobs.append(bytes(out))
    spliced = blobs[0][:HEADER_SIZE] + blobs[1][HEADER_SIZE:]
    with pytest.raises(IntegrityError):
        _reader(key, spliced).read(0, 10)


def test_truncation_inside_last_segment_fails_authentication() -> None:
    key, blob = _encrypt(bytes(2 * SEG))
    reader = _reader(key, blob[:-3])  # still a possible size: a shorter last segment
    with pytest.raises(IntegrityError) as err:
        reader.read(0, 2 * SEG)
    assert err.value.details["segment"] == 1


def test_impossible_size_is_refused() -> None:
    key, blob = _encrypt(bytes(2 * SEG))
    with pytest.raises(IntegrityError):
        _reader(key, blob[: HEADER_SIZE + SEG + TAG_SIZE + 5])  # 5 bytes: shorter than a tag


def test_bad_header_is_refused() -> None:
    key, blob = _encrypt(b"x" * 10)
    with pytest.raises(IntegrityError):
        _reader(key, b"XXXX" + blob[4:])
