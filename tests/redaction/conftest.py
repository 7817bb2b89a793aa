"""Fixtures for redaction tests: short real-face clips built by shared/tools/make_clip.py."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from redaction.manifest import read_manifest
from redaction.pipeline import RedactionResult, RedactOptions, redact_file
from tests.redaction.util import FACES, IDENTITIES, MAKE_CLIP


def _need_shared() -> None:
    if not (FACES.is_dir() and MAKE_CLIP.is_file()):
        pytest.skip(f"shared test data not found at {FACES.parent.parent} "
                    "(the repository's parent folder must hold shared/)")
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")


@dataclass
class Clip:
    """A clip with exact per-frame truth boxes."""

    path: Path
    truth: dict[str, Any]


def make_clip(out: Path, *, images: Path = FACES, boxes: Path | None = None,
              size: str = "640x360", per_image: float = 1.0, match: list[str] | None = None,
              seed: int = 1, shake: float = 1.0, extra: tuple[str, ...] = ()) -> Clip:
    """Run make_clip.py (with `extra` options, e.g. ("--dark",)) and load its truth."""
    truth = out.with_suffix(".truth.json")
    cmd = [sys.executable, str(MAKE_CLIP), "--images", str(images), "--boxes",
           str(boxes or images / "boxes.json"), "--out", str(out), "--truth", str(truth),
           "--per-image", str(per_image), "--size", size, "--seed", str(seed),
           "--shake", str(shake), *extra]
    for m in match or []:
        cmd += ["--match", m]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return Clip(out, json.loads(truth.read_text()))


@pytest.fixture(scope="session")
def face_clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    """3 s, 640x360, 30 fps: a classroom, a group and a dlib photo (faces 20-100 px)."""
    _need_shared()
    d = tmp_path_factory.mktemp("clip")
    return make_clip(d / "faces.mp4", match=["29_*_148.jpg", "12_Group_Group_12_*_478.jpg",
                                              "2008_002079.jpg"])


@dataclass
class Redacted:
    """A redaction of `face_clip` shared by several tests."""

    clip: Clip
    out: Path
    manifest_path: Path
    manifest: dict[str, Any]
    result: RedactionResult
    source_sha_before: str
    source_mtime_before: float


@pytest.fixture(scope="session")
def redacted(face_clip: Clip, tmp_path_factory: pytest.TempPathFactory) -> Redacted:
    """`face_clip` redacted once with default settings."""
    from storage.crypto import sha256_file

    d = tmp_path_factory.mktemp("redacted")
    sha, mtime = sha256_file(face_clip.path), face_clip.path.stat().st_mtime
    out, man = d / "out.mp4", d / "out.manifest.json"
    result = redact_file(face_clip.path, out, options=RedactOptions(), manifest_path=man)
    return Redacted(face_clip, out, man, read_manifest(man), result, sha, mtime)


@pytest.fixture(scope="session")
def identities() -> Path:
    """shared/data/identities (train/<name>/*.jpg, test/*.jpg)."""
    _need_shared()
    if not IDENTITIES.is_dir():
        pytest.skip(f"identities not found at {IDENTITIES}")
    return IDENTITIES


@pytest.fixture(scope="session")
def faces_dev() -> Path:
    """shared/data/faces-dev (labelled photos, boxes.json)."""
    _need_shared()
    if not FACES.is_dir():
        pytest.skip(f"faces-dev not found at {FACES}")
    return FACES
