"""Raw I420 frames with their timestamps as a minimal Matroska stream, for the encoder's stdin.

A raw pipe carries no timestamps, so an encoder reading one must invent them (a constant
rate from zero): a source whose video starts after its audio, whose edit list trims its
start, or whose frame rate varies then comes out with frames at the wrong times. Matroska
carries a timestamp per frame, and ffmpeg reads uncompressed video from it
(`V_UNCOMPRESSED`, FourCC `I420`). Each frame is written as its own cluster, so any
timestamp fits; timestamps are in microseconds, ffmpeg's own internal unit, so no rounding
happens between here and the output's time base.
"""

from __future__ import annotations

from typing import IO

# EBML element ids (Matroska specification, RFC 9559)
_EBML = b"\x1a\x45\xdf\xa3"
_SEGMENT = b"\x18\x53\x80\x67"
_INFO = b"\x15\x49\xa9\x66"
_TIMESTAMP_SCALE = b"\x2a\xd7\xb1"
_MUXING_APP = b"\x4d\x80"
_WRITING_APP = b"\x57\x41"
_TRACKS = b"\x16\x54\xae\x6b"
_TRACK_ENTRY = b"\xae"
_CLUSTER = b"\x1f\x43\xb6\x75"
_CLUSTER_TIMESTAMP = b"\xe7"
_SIMPLE_BLOCK = b"\xa3"
_UNKNOWN_SIZE = b"\x01\xff\xff\xff\xff\xff\xff\xff"
TIMESTAMP_SCALE_NS = 1000  # one tick is a microsecond


def _size(n: int) -> bytes:
    """An EBML element size, always in 8 bytes (simple, and any size fits)."""
    return b"\x01" + n.to_bytes(7, "big")


def _uint(v: int) -> bytes:
    return v.to_bytes(max(1, (v.bit_length() + 7) // 8), "big")


def _el(eid: bytes, payload: bytes) -> bytes:
    return eid + _size(len(payload)) + payload


def header(width: int, height: int) -> bytes:
    """The EBML header, an open-ended Segment, Info and one raw I420 video track."""
    ebml = _el(_EBML, _el(b"\x42\x86", _uint(1)) + _el(b"\x42\xf7", _uint(1))
               + _el(b"\x42\xf2", _uint(4)) + _el(b"\x42\xf3", _uint(8))
               + _el(b"\x42\x82", b"matroska") + _el(b"\x42\x87", _uint(4))
               + _el(b"\x42\x85", _uint(2)))
    info = _el(_INFO, _el(_TIMESTAMP_SCALE, _uint(TIMESTAMP_SCALE_NS))
               + _el(_MUXING_APP, b"bwc-redaction") + _el(_WRITING_APP, b"bwc-redaction"))
    video = _el(b"\xe0", _el(b"\xb0", _uint(width)) + _el(b"\xba", _uint(height))
                + _el(b"\x2e\xb5\x24", b"I420"))
    track = _el(_TRACK_ENTRY, _el(b"\xd7", _uint(1)) + _el(b"\x73\xc5", _uint(1))
                + _el(b"\x83", _uint(1)) + _el(b"\x86", b"V_UNCOMPRESSED") + video)
    return ebml + _SEGMENT + _UNKNOWN_SIZE + info + _el(_TRACKS, track)


def write_frame(out: IO[bytes], timestamp_us: int, frame: memoryview | bytes) -> None:
    """Write one frame shown at `timestamp_us` (>= 0) as a cluster of one SimpleBlock."""
    if timestamp_us < 0:
        raise ValueError(f"negative timestamp {timestamp_us}")
    # track 1, relative timestamp 0, keyframe
    block_head = b"\x81\x00\x00\x80"
    ts = _el(_CLUSTER_TIMESTAMP, _uint(timestamp_us))
    block_len = len(block_head) + len(frame)
    cluster_len = len(ts) + len(_SIMPLE_BLOCK) + 8 + block_len
    out.write(_CLUSTER + _size(cluster_len) + ts + _SIMPLE_BLOCK + _size(block_len)
              + block_head)
    out.write(frame)
