"""Helpers for redaction tests: real ffmpeg/ffprobe calls and frame measurements."""

from __future__ import annotations

import json
import subprocess
import wave
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from redaction.blur import sharpness

ROOT = Path(__file__).resolve().parents[2]
SHARED = (ROOT / ".." / "shared").resolve()
FACES = SHARED / "data" / "faces-dev"
IDENTITIES = SHARED / "data" / "identities"
MAKE_CLIP = SHARED / "tools" / "make_clip.py"


def ffmpeg(*args: str) -> None:
    """Run ffmpeg quietly; fail the test on error."""
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


def spoken_clip(text: str, where: Path, *, lead_s: float = 0.5, tail_s: float = 0.5) -> Path:
    """A 320x240 clip over which espeak-ng (bench/voice.py) says `text`, starting `lead_s`
    seconds in: what the speech tests search."""
    from bench.voice import RATE, speak

    pcm = np.concatenate([np.zeros(int(lead_s * RATE), np.float32), speak(text).samples,
                          np.zeros(int(tail_s * RATE), np.float32)])
    with wave.open(str(where / "speech.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((pcm * 32767).astype(np.int16).tobytes())
    out = where / "clip.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=15", "-i", str(where / "speech.wav"),
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
           "-shortest", str(out))
    return out


def streams(path: Path) -> dict[str, dict[str, Any]]:
    """First video and audio stream (ffprobe) keyed by codec_type, plus "format"."""
    out = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-show_streams",
                          "-show_format", "-of", "json", str(path)],
                         check=True, capture_output=True, text=True).stdout
    data = json.loads(out)
    res: dict[str, dict[str, Any]] = {"format": data["format"]}
    for s in data["streams"]:
        res.setdefault(s["codec_type"], s)
    return res


def gray_frames(path: Path) -> list[np.ndarray]:
    """Every frame of a (short) video as grayscale."""
    cap = cv2.VideoCapture(str(path))
    frames: list[np.ndarray] = []
    while True:
        ok, f = cap.read()
        if not ok:
            return frames
        frames.append(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY))


def box_ratio(orig: np.ndarray, red: np.ndarray, box: Sequence[float]) -> float:
    """Sharpness of `box` in the redacted frame over the original's (0: flat, 1: unchanged)."""
    x, y, w, h = box
    x0, y0, x1, y1 = int(x), int(y), int(np.ceil(x + w)), int(np.ceil(y + h))
    s0 = sharpness(orig[y0:y1, x0:x1])
    return sharpness(red[y0:y1, x0:x1]) / s0 if s0 > 0 else 0.0


def audio_rms(path: Path, start: float, end: float) -> float:
    """RMS of the first audio stream between two times (mono float PCM via ffmpeg)."""
    raw = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-ss", str(start), "-to",
                          str(end), "-i", str(path), "-map", "0:a:0", "-ac", "1", "-f", "f32le",
                          "-ar", "16000", "pipe:"], check=True, capture_output=True).stdout
    pcm = np.frombuffer(raw, dtype=np.float32)
    return float(np.sqrt(np.mean(pcm**2))) if pcm.size else 0.0
