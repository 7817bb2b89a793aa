"""Read video metadata with ffprobe (duration, codecs, resolution, creation time)."""

from __future__ import annotations

import json
import subprocess
from fractions import Fraction
from typing import Any

from bwc_custody.db import storable_text
from redaction.media import display_rotation

PROBE_TIMEOUT_S = 120


def _rate(value: str | None) -> float | None:
    try:
        return round(float(Fraction(value)), 3) if value and value != "0/0" else None
    except (ValueError, ZeroDivisionError):
        return None


def probe(url: str) -> tuple[str, dict[str, Any], str | None]:
    """(media_status, summary, error) for the media at `url` or path.

    media_status is "video" when ffprobe finds a video stream, "undecodable" otherwise;
    the file is kept either way (evidence is evidence), only flagged.
    """
    cmd = [
        "ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
        url,
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=PROBE_TIMEOUT_S, check=False)
    except FileNotFoundError:
        return "unknown", {}, "ffprobe is not installed"
    except subprocess.TimeoutExpired:
        return "undecodable", {}, f"ffprobe did not finish in {PROBE_TIMEOUT_S} s"
    err = storable_text(proc.stderr.decode(errors="replace").strip()[-500:]) or None
    try:
        info = json.loads(proc.stdout or b"{}")
    except json.JSONDecodeError:
        info = {}
    streams = info.get("streams") or []
    fmt = info.get("format") or {}
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    summary: dict[str, Any] = {
        "format": fmt.get("format_name"),
        "duration_s": float(fmt["duration"]) if fmt.get("duration") else None,
        "creation_time": (fmt.get("tags") or {}).get("creation_time"),
        "video": None,
        "audio": None,
    }
    if audio:
        summary["audio"] = {
            "codec": audio.get("codec_name"),
            "sample_rate": int(audio["sample_rate"]) if audio.get("sample_rate") else None,
            "channels": audio.get("channels"),
        }
    if proc.returncode != 0 or video is None or not video.get("width"):
        return "undecodable", summary, err or "no video stream found"
    summary["video"] = {
        "codec": video.get("codec_name"),
        "width": video.get("width"),
        "height": video.get("height"),
        "pix_fmt": video.get("pix_fmt"),
        "fps": _rate(video.get("avg_frame_rate")) or _rate(video.get("r_frame_rate")),
        "frames": int(video["nb_frames"]) if str(video.get("nb_frames", "")).isdigit() else None,
        # a player turns the picture by this much: the displayed frame (what regions and
        # people's boxes are drawn on) is `height` x `width` at 90 and 270
        "rotation": display_rotation(video),
    }
    return "video", summary, None
