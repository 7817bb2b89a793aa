"""What a media file holds, read with ffprobe, and the checks made before redacting it."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from functools import lru_cache
from pathlib import Path, PurePath
from typing import Any

import ffmpeg

from redaction.errors import (
    CorruptVideo,
    NoVideoStream,
    SourceMissing,
    ToolMissing,
    UnsupportedVideo,
)

MAX_PIXELS = 8192 * 8192


@dataclass(frozen=True)
class AudioStream:
    """One audio stream of the source."""

    index: int
    codec: str
    sample_rate: int | None
    channels: int | None
    start_time: float


@dataclass(frozen=True)
class MediaInfo:
    """The facts about a source the redactor needs (stored size and displayed size differ
    when a display matrix rotates the picture)."""

    format_name: str
    duration: float | None
    video_index: int
    codec: str
    pix_fmt: str
    stored_width: int
    stored_height: int
    rotation: int
    fps: Fraction
    variable_frame_rate: bool
    nb_frames: int | None
    video_start: float
    # the video stream's time base (its timestamps' unit) and the file's start (the
    # earliest stream's first timestamp, where a player's clock reads 0)
    time_base: Fraction = Fraction(1, 90000)
    format_start: float = 0.0
    audio: list[AudioStream] = field(default_factory=list)

    @property
    def width(self) -> int:
        """Displayed width (after rotation)."""
        return self.stored_height if self.rotation in (90, 270) else self.stored_width

    @property
    def height(self) -> int:
        """Displayed height (after rotation)."""
        return self.stored_width if self.rotation in (90, 270) else self.stored_height

    @property
    def expected_frames(self) -> int | None:
        """Frames the decoder should deliver at `fps`, from the container's own figures."""
        if self.duration:
            return round(self.duration * self.fps)
        return self.nb_frames

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready facts for the manifest."""
        d = asdict(self)
        d["fps"] = f"{self.fps.numerator}/{self.fps.denominator}"
        d["time_base"] = f"{self.time_base.numerator}/{self.time_base.denominator}"
        d["width"], d["height"] = self.width, self.height
        return d


def require_tools() -> None:
    """Raise ToolMissing unless ffmpeg and ffprobe are on PATH."""
    for tool in ("ffmpeg", "ffprobe"):
        if shutil.which(tool) is None:
            raise ToolMissing(f"{tool} is not installed or not on PATH", tool=tool)


@lru_cache(maxsize=1)
def ffmpeg_version() -> str:
    """The first line of `ffmpeg -version` (recorded in manifests)."""
    out = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, check=False)
    return out.stdout.splitlines()[0] if out.stdout else "unknown"


def _rate(value: str | None) -> Fraction | None:
    if not value or value in ("0/0", "0"):
        return None
    try:
        r = Fraction(value)
    except (ValueError, ZeroDivisionError):
        return None
    return r if r > 0 else None


def display_rotation(stream: dict[str, Any]) -> int:
    """The clockwise turn (0, 90, 180, 270) a player applies to an ffprobe video stream."""
    rot: float = 0
    for sd in stream.get("side_data_list", []) or []:
        if "rotation" in sd:
            rot = float(sd["rotation"])
    if not rot and "rotate" in (stream.get("tags") or {}):
        rot = -float(stream["tags"]["rotate"])
    return int(round(-rot / 90.0)) * 90 % 360


def _float(value: Any, default: float | None = None) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


@dataclass(frozen=True)
class MediaSource:
    """What ffmpeg reads: a file path or a URL (the vault's loopback URL of a decrypted
    original), its display name, and its size and SHA-256 when already known (an evidence
    item's were computed at ingest, and AES-GCM authenticates every byte served)."""

    location: str
    name: str
    size: int | None = None
    sha256: str | None = None

    @classmethod
    def of(cls, src: Path | MediaSource) -> MediaSource:
        """A local file as a source (size read now, hash left to the caller)."""
        if isinstance(src, MediaSource):
            return src
        if not src.is_file():
            raise SourceMissing(f"no such file: {src}", path=str(src))
        return cls(str(src), src.name, src.stat().st_size)


def probe(src: Path | MediaSource) -> MediaInfo:
    """Read `src` with ffprobe; raise a stable-coded error when it cannot be redacted."""
    require_tools()
    source = MediaSource.of(src)
    path = PurePath(source.name)
    try:
        info = ffmpeg.probe(source.location)
    except ffmpeg.Error as exc:
        reason = (exc.stderr or b"").decode(errors="replace").strip().splitlines()
        raise CorruptVideo(f"not a readable media file: {path.name}",
                           reason=reason[-1] if reason else "ffprobe failed") from None
    streams = info.get("streams", [])
    videos = [s for s in streams if s.get("codec_type") == "video"
              and not (s.get("disposition") or {}).get("attached_pic")]
    if not videos:
        kinds = sorted({str(s.get("codec_type")) for s in streams})
        raise NoVideoStream(f"{path.name} has no video stream", streams=kinds)
    v = videos[0]
    w, h = int(v.get("width") or 0), int(v.get("height") or 0)
    if w <= 0 or h <= 0:
        raise CorruptVideo(f"{path.name}: video stream has no picture size", stream=v.get("index"))
    if w * h > MAX_PIXELS:
        raise UnsupportedVideo(f"{path.name}: {w}x{h} is larger than supported",
                               width=w, height=h)
    avg, real = _rate(v.get("avg_frame_rate")), _rate(v.get("r_frame_rate"))
    fps = avg or real
    if fps is None or fps > 1000:
        raise CorruptVideo(f"{path.name}: video stream has no usable frame rate",
                           avg_frame_rate=v.get("avg_frame_rate"))
    fps = fps.limit_denominator(1001)
    vfr = bool(avg and real and abs(float(avg) - float(real)) > 0.01 * float(real))
    fmt = info.get("format", {})
    duration = _float(v.get("duration")) or _float(fmt.get("duration"))
    nb = v.get("nb_frames")
    audio = [AudioStream(int(s["index"]), str(s.get("codec_name", "unknown")),
                         int(s["sample_rate"]) if s.get("sample_rate") else None,
                         s.get("channels"), _float(s.get("start_time"), 0.0) or 0.0)
             for s in streams if s.get("codec_type") == "audio"]
    return MediaInfo(
        format_name=str(fmt.get("format_name", "")), duration=duration,
        video_index=int(v["index"]), codec=str(v.get("codec_name", "unknown")),
        pix_fmt=str(v.get("pix_fmt", "")), stored_width=w, stored_height=h,
        rotation=display_rotation(v), fps=fps, variable_frame_rate=vfr,
        nb_frames=int(nb) if nb and str(nb).isdigit() else None,
        video_start=_float(v.get("start_time"), 0.0) or 0.0,
        time_base=_rate(v.get("time_base")) or Fraction(1, 90000),
        format_start=_float(fmt.get("start_time"), 0.0) or 0.0, audio=audio)
