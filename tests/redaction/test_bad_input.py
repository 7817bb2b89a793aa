"""Bad input: each gives a correct derivative or a RedactionError with a stable code."""

from __future__ import annotations

from pathlib import Path

import pytest

from redaction.errors import RedactionError
from redaction.manifest import read_manifest
from redaction.pipeline import RedactOptions, redact_file
from tests.redaction.util import ffmpeg, streams

SRC = ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=2",
       "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=2"]


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2 s 320x240 25 fps H.264 + AAC clip (moov at the end, as cameras write)."""
    p = tmp_path_factory.mktemp("bad") / "plain.mp4"
    ffmpeg(*SRC, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
           "-c:a", "aac", "-shortest", str(p))
    return p


def _refused(src: Path, tmp: Path, code: str, **opts: object) -> RedactionError:
    out = tmp / "out.mp4"
    with pytest.raises(RedactionError) as ei:
        redact_file(src, out, options=RedactOptions(**opts),  # type: ignore[arg-type]
                    manifest_path=tmp / "m.json")
    assert ei.value.code == code, ei.value.to_dict()
    assert not out.exists()
    assert not (tmp / "m.json").exists()
    assert [p.name for p in tmp.iterdir() if "partial" in p.name] == []
    return ei.value


def _redacted(src: Path, tmp: Path, **opts: object) -> tuple[Path, dict]:  # type: ignore[type-arg]
    out, man = tmp / "out.mp4", tmp / "m.json"
    redact_file(src, out, options=RedactOptions(**opts),  # type: ignore[arg-type]
                manifest_path=man)
    return out, read_manifest(man)


def test_garbage_bytes(tmp_path: Path) -> None:
    bad = tmp_path / "garbage.mp4"
    bad.write_bytes(bytes(range(256)) * 400)
    _refused(bad, tmp_path, "corrupt_video")


def test_empty_file(tmp_path: Path) -> None:
    bad = tmp_path / "empty.mp4"
    bad.write_bytes(b"")
    _refused(bad, tmp_path, "corrupt_video")


def test_missing_file(tmp_path: Path) -> None:
    _refused(tmp_path / "nope.mp4", tmp_path, "source_missing")


def test_audio_only(tmp_path: Path) -> None:
    a = tmp_path / "audio.m4a"
    ffmpeg("-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", str(a))
    err = _refused(a, tmp_path, "no_video_stream")
    assert err.details["streams"] == ["audio"]


def test_truncated_moov_at_end(plain: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(plain.read_bytes()[: plain.stat().st_size * 6 // 10])
    _refused(cut, tmp_path, "corrupt_video")


def test_truncated_faststart_refused_then_partial(plain: Path, tmp_path: Path) -> None:
    fs = tmp_path / "fs.mp4"
    ffmpeg("-i", str(plain), "-c", "copy", "-movflags", "+faststart", str(fs))
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(fs.read_bytes()[: fs.stat().st_size * 6 // 10])
    err = _refused(cut, tmp_path, "corrupt_video")
    assert err.details["decoded_frames"] < err.details["expected_frames"]
    out, m = _redacted(cut, tmp_path, allow_partial=True)
    assert m["warnings"]
    assert m["warnings"][0].startswith("partial")
    assert 0 < int(streams(out)["video"]["nb_read_frames"]) < 50


def test_odd_size_is_padded_to_even(tmp_path: Path) -> None:
    src = tmp_path / "odd.mkv"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=642x360:rate=30:duration=1",
           "-vf", "format=yuv444p,crop=641:359:0:0", "-c:v", "ffv1", str(src))
    assert (streams(src)["video"]["width"], streams(src)["video"]["height"]) == (641, 359)
    out, m = _redacted(src, tmp_path)
    v = streams(out)["video"]
    assert (v["width"], v["height"]) == (642, 360)
    assert m["output"]["padded_from"] == [641, 359]
    assert v["nb_read_frames"] == "30"


def test_ten_bit(tmp_path: Path) -> None:
    src = tmp_path / "10bit.mp4"
    ffmpeg(*SRC, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p10le",
           "-c:a", "aac", "-shortest", str(src))
    assert streams(src)["video"]["pix_fmt"] == "yuv420p10le"
    out, m = _redacted(src, tmp_path)
    v = streams(out)["video"]
    assert v["pix_fmt"] == "yuv420p"
    assert v["profile"] == "High"
    assert v["nb_read_frames"] == "50"


def test_rotated_phone_video_is_made_upright(plain: Path, tmp_path: Path) -> None:
    src = tmp_path / "rot.mp4"
    ffmpeg("-i", str(plain), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(src))
    out, m = _redacted(src, tmp_path)
    v = streams(out)["video"]
    assert (v["width"], v["height"]) == (240, 320)
    assert m["output"]["rotation_applied"] in (90, 270)
    assert not any("rotation" in sd for sd in v.get("side_data_list", []))
