"""Fixtures for provenance tests: a real MP4 made by ffmpeg, an agency CA in a temporary
directory, and a real RFC 3161 TSA (`openssl ts -reply` over HTTP on 127.0.0.1)."""

from __future__ import annotations

import datetime as dt
import shutil
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from provenance.assertion import ReleaseAssertion
from provenance.c2pa_sign import SignedRelease, sign_release
from provenance.ca import AgencyCA

AGENCY = "Test County Sheriff"


@pytest.fixture(autouse=True)
def fixed_clock() -> None:
    """The real clock, not the suite's fixed one (tests/support/clock.py): c2pa's native code
    checks certificates, and the `openssl ts` TSA stamps times, by the machine's clock, so a
    certificate or a timestamp made at the fixed instant would be months from theirs. These
    tests compare times only with each other or within minutes of now, never with a date."""


EDITED_AT = dt.datetime(2027, 1, 4, 15, 30, tzinfo=dt.UTC)


def make_mp4(path: Path, *, seconds: float = 2, size: str = "320x240", pattern: str = "testsrc2",
             rate: int = 15) -> Path:
    """An H.264/AAC MP4 made by ffmpeg (a different `pattern` gives different bytes)."""
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi",
         "-i", f"{pattern}=size={size}:rate={rate}:duration={seconds}",
         "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
         "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest", str(path)],
        check=True)
    return path


def top_boxes(data: bytes) -> list[tuple[int, int, str]]:
    """(offset, size, type) of each top-level ISO BMFF box."""
    out, off = [], 0
    while off < len(data):
        size, kind = struct.unpack(">I4s", data[off:off + 8])
        if size == 1:
            size = struct.unpack(">Q", data[off + 8:off + 16])[0]
        elif size == 0:
            size = len(data) - off
        out.append((off, size, kind.decode("latin-1")))
        off += size
    return out


def box(data: bytes, kind: str) -> tuple[int, int]:
    """(offset, size) of the first top-level box of this type."""
    for off, size, k in top_boxes(data):
        if k == kind:
            return off, size
    raise AssertionError(f"no {kind} box")


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2 s 320x240 H.264/AAC MP4 (the redacted copy to be released)."""
    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is required (apt-get install ffmpeg)")
    return make_mp4(tmp_path_factory.mktemp("clip") / "redacted.mp4")


@pytest.fixture(scope="session")
def other_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another MP4 with different pictures."""
    return make_mp4(tmp_path_factory.mktemp("other") / "other.mp4", pattern="testsrc")


@pytest.fixture
def agency_ca(tmp_path: Path) -> AgencyCA:
    """A fresh agency CA (root and signing leaf)."""
    return AgencyCA.create(tmp_path / "ca", agency=AGENCY)


@pytest.fixture
def release() -> ReleaseAssertion:
    """A release assertion as the release service would fill it."""
    return ReleaseAssertion(
        original_sha256="5" * 64, request_id="req-0001", agency=AGENCY,
        redaction="Faces of 3 people blurred; audio muted 00:00:01-00:00:02",
        checkpoint={"index": 7, "tree_size": 120, "root_hash": "a" * 64,
                    "created_at": "2027-01-04T15:00:00+00:00", "key_id": "0123456789abcdef",
                    "signature": "c2lnbmF0dXJl"},
        fields={"evidence_id": "ev-1", "derivative_id": "der-1"})


@pytest.fixture
def signed(tmp_path: Path, clip: Path, agency_ca: AgencyCA,
           release: ReleaseAssertion) -> SignedRelease:
    """`clip` signed by the agency CA with `release`."""
    return sign_release(source=clip, dest=tmp_path / "release.mp4",
                        credentials=agency_ca.signing_credentials(), release=release,
                        edited_at=EDITED_AT)


@pytest.fixture
def sign_with(tmp_path: Path, clip: Path, release: ReleaseAssertion
              ) -> Callable[..., SignedRelease]:
    """Factory: sign `clip` (or `source`) with a given CA into a new file."""
    counter = iter(range(1000))

    def _sign(ca: AgencyCA, source: Path | None = None, **kw: object) -> SignedRelease:
        dest = tmp_path / f"signed-{next(counter)}.mp4"
        return sign_release(source=source or clip, dest=dest,
                            credentials=ca.signing_credentials(), release=release,
                            edited_at=EDITED_AT, **kw)  # type: ignore[arg-type]

    return _sign
