"""Timing survives redaction: every output frame is the source frame with the same timestamp
(a video that starts after its audio, an edit list that trims the start, a variable frame
rate), audio and video offsets are kept, and the manifest counts the source's frames.

Frames are compared by timestamp, read independently of the redactor (ffprobe for the
times, a plain ffmpeg decode for the pixels), outside the regions the manifest blurred."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from redaction.manifest import read_manifest
from redaction.pipeline import redact_file
from tests.redaction.conftest import Clip, make_clip
from tests.redaction.util import ffmpeg


@pytest.fixture(scope="module")
def moving(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    """1.6 s, 640x360, 30 fps: two photos of faces under a moving camera (every frame
    differs from its neighbours), with an AAC track."""
    from tests.redaction.conftest import _need_shared

    _need_shared()
    d = tmp_path_factory.mktemp("timing")
    return make_clip(d / "moving.mp4", per_image=0.8,
                     match=["29_*_148.jpg", "12_Group_Group_12_*_478.jpg"])


def _probe(path: Path) -> dict[str, dict[str, str]]:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)],
                         check=True, capture_output=True, text=True).stdout
    return {s["codec_type"]: s for s in json.loads(out)["streams"]}


def _frames_by_time(path: Path) -> tuple[list[float], list[np.ndarray]]:
    """(timestamps in seconds, grey frames) of every frame a player shows, in order."""
    times = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "frame=best_effort_timestamp_time", "-of", "csv=p=0", str(path)],
        check=True, capture_output=True, text=True).stdout.split()
    v = _probe(path)["video"]
    w, h = int(v["width"]), int(v["height"])
    raw = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:v:0",
                          "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "gray",
                          "pipe:"], check=True, capture_output=True).stdout
    frames = list(np.frombuffer(raw, np.uint8).reshape(-1, h, w))
    ts = [float(t.strip(",")) for t in times if t.strip(",")]
    assert len(ts) == len(frames), (len(ts), len(frames))
    return ts, frames


def _check_same_frames(src: Path, out: Path, manifest: dict) -> None:  # type: ignore[type-arg]
    s_times, s_frames = _frames_by_time(src)
    o_times, o_frames = _frames_by_time(out)
    assert len(o_frames) == len(s_frames) == manifest["output"]["frames"]
    # the same timestamps, to a tick of the source's time base
    tick = 1 / int(_probe(src)["video"]["time_base"].split("/")[1])
    assert np.allclose(o_times, s_times, atol=tick), (s_times[:5], o_times[:5])
    blurred = {row[0]: row[2] for row in manifest["frames"]}
    times = {row[0]: row[3] for row in manifest["frames"]}
    for i, (st, ot) in enumerate(zip(s_times, o_times, strict=True)):
        if i in times:  # manifest frame numbers and times are the source's
            assert abs(times[i] - st) < 1e-4, (i, times[i], st)
        mask = np.ones(s_frames[i].shape, bool)
        for x0, y0, x1, y1 in blurred.get(i, []):
            mask[y0:y1, x0:x1] = False
        assert mask.mean() > 0.1
        here = np.abs(o_frames[i].astype(int) - s_frames[i].astype(int))[mask].mean()
        # re-encoding noise only, and far less than the change to a neighbouring frame:
        # this is the source's frame i, not one near it
        assert here < 3.0, (i, ot, here)
        for j in (i - 1, i + 1):
            if 0 <= j < len(s_frames):
                there = np.abs(o_frames[i].astype(int) - s_frames[j].astype(int))[mask].mean()
                assert there > 2 * here, (i, j, here, there)


def _redact(src: Path, tmp: Path) -> tuple[Path, dict]:  # type: ignore[type-arg]
    out, man = tmp / f"{src.stem}.out.mp4", tmp / f"{src.stem}.json"
    redact_file(src, out, manifest_path=man)
    return out, read_manifest(man)


def test_video_starting_after_audio_keeps_its_offset(moving: Clip, tmp_path: Path) -> None:
    src = tmp_path / "late_video.mp4"
    ffmpeg("-itsoffset", "0.85", "-i", str(moving.path), "-i", str(moving.path),
           "-map", "0:v", "-map", "1:a", "-c", "copy", str(src))
    s = _probe(src)
    assert float(s["video"]["start_time"]) - float(s["audio"]["start_time"]) == pytest.approx(
        0.85, abs=0.002)
    out, m = _redact(src, tmp_path)
    o = _probe(out)
    assert float(o["video"]["start_time"]) == pytest.approx(float(s["video"]["start_time"]),
                                                            abs=1e-4)
    assert float(o["audio"]["start_time"]) == pytest.approx(float(s["audio"]["start_time"]),
                                                            abs=1e-4)
    assert m["output"]["time_shift"] == 0
    _check_same_frames(src, out, m)


def test_edit_list_that_trims_the_start(moving: Clip, tmp_path: Path) -> None:
    src = tmp_path / "edit_list.mp4"
    # copied from the keyframe before 0.5 s; the edit list hides the frames before 0.5 s
    ffmpeg("-ss", "0.5", "-i", str(moving.path), "-c", "copy", str(src))
    packets = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0",
                              "-show_entries", "packet=flags", "-of", "csv=p=0", str(src)],
                             check=True, capture_output=True, text=True).stdout.split()
    assert sum("D" in f for f in packets) >= 5  # packets stored but not shown
    out, m = _redact(src, tmp_path)
    _check_same_frames(src, out, m)


def test_variable_frame_rate_keeps_every_timestamp(moving: Clip, tmp_path: Path) -> None:
    src = tmp_path / "vfr.mp4"
    # irregular gaps, as phones write when the light changes
    ffmpeg("-i", str(moving.path), "-vf",
           "select='not(eq(mod(n,5),1))*not(between(n,20,27))'", "-fps_mode", "vfr",
           "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "copy", str(src))
    v = _probe(src)["video"]
    assert v["avg_frame_rate"] != v["r_frame_rate"]
    out, m = _redact(src, tmp_path)
    assert m["output"]["variable_frame_rate"] is True
    _check_same_frames(src, out, m)
    o = _probe(out)
    assert abs(float(o["video"]["duration"]) - float(v["duration"])) < 0.04
