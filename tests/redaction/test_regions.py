"""Manual boxes, whole-frame blackout and mute ranges are applied, and only where asked."""

from __future__ import annotations

from pathlib import Path

import pytest

from redaction.manifest import read_manifest
from redaction.pipeline import RedactOptions, redact_file
from redaction.regions import parse_regions
from tests.redaction.util import audio_rms, box_ratio, ffmpeg, gray_frames, streams

REGIONS = {
    "boxes": [{"start": 1.0, "end": 2.0, "box": [100, 100, 200, 120], "label": "screen"},
              {"start": 0.0, "end": 4.0, "box": [400, 40, 120, 100], "mode": "black",
               "label": "name tag"}],
    "blackout": [{"start": 3.0, "end": 3.5, "label": "restroom"}],
    "mute": [{"start": 1.5, "end": 2.5, "label": "student name"}],
}


@pytest.fixture(scope="module")
def done(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:  # type: ignore[type-arg]
    d = tmp_path_factory.mktemp("regions")
    src = d / "src.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=4",
           "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=4",
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
           "-shortest", str(src))
    out, man = d / "out.mp4", d / "out.json"
    redact_file(src, out, options=RedactOptions(), regions=parse_regions(REGIONS),
                manifest_path=man)
    return src, out, read_manifest(man)


def test_manual_box_blurred_in_its_time_range_only(done) -> None:  # type: ignore[no-untyped-def]
    src, out, _ = done
    o, r = gray_frames(src), gray_frames(out)
    box = [100, 100, 200, 120]
    assert box_ratio(o[37], r[37], box) < 0.1       # t = 1.48 s
    assert box_ratio(o[12], r[12], box) > 0.8       # t = 0.48 s
    assert box_ratio(o[60], r[60], box) > 0.8       # t = 2.4 s


def test_black_box_and_blackout(done) -> None:  # type: ignore[no-untyped-def]
    src, out, _ = done
    r = gray_frames(out)
    assert r[10][40:140, 400:520].mean() < 20
    assert r[10].mean() > 60
    for i in range(76, 87):                         # 3.04 .. 3.44 s
        assert r[i].max() < 40, i
    assert r[70].mean() > 60
    assert r[90].mean() > 60


def test_mute_range_silent_rest_unchanged(done) -> None:  # type: ignore[no-untyped-def]
    src, out, m = done
    assert audio_rms(out, 1.6, 2.4) < 1e-3
    assert audio_rms(out, 0.3, 1.4) > 0.05
    assert audio_rms(out, 2.6, 3.8) > 0.05
    assert abs(float(streams(out)["audio"]["duration"])
               - float(streams(src)["audio"]["duration"])) < 0.05
    assert m["mute"] == [{"start": 1.5, "end": 2.5, "label": "student name", "reason": "",
                          "chosen_by": None, "chosen_at": None, "origin": "manual",
                          "suggestion": None, "accepted_by": None, "confidence": None,
                          "widened": False}]
    assert m["regions"]["boxes"][1]["mode"] == "black"
    assert m["output"]["audio"] == "aac"
