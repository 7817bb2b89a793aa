"""ffmpeg processes for the pipeline: a decoder streaming raw I420 frames out, an encoder
taking them in, both built with ffmpeg-python and drained so neither can deadlock."""

from __future__ import annotations

import subprocess
import threading
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import ffmpeg
import numpy as np

from redaction.media import MediaInfo
from redaction.regions import TimeRange

GLOBAL_ARGS = ["-nostdin", "-hide_banner", "-v", "error"]


def fps_arg(info: MediaInfo) -> str:
    """The frame rate as ffmpeg wants it ("30000/1001")."""
    return f"{info.fps.numerator}/{info.fps.denominator}"


def even(n: int) -> int:
    """`n` rounded up to even (H.264 4:2:0 needs even sizes)."""
    return n + (n & 1)


class FFmpegProcess:
    """A running ffmpeg whose stderr is drained by a thread (last lines kept for errors)."""

    def __init__(self, node: Any, *, stdin: bool, stdout: bool) -> None:
        self.args: list[str] = ["ffmpeg", *GLOBAL_ARGS, *node.compile()[1:]]
        self.proc = subprocess.Popen(
            self.args, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE if stdout else subprocess.DEVNULL,
            stderr=subprocess.PIPE, bufsize=0)
        self.errors: deque[str] = deque(maxlen=40)
        self.error_count = 0
        self._drain = threading.Thread(target=self._read_stderr, daemon=True)
        self._drain.start()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.decode(errors="replace").rstrip()
            if line:
                self.error_count += 1
                self.errors.append(line)

    def wait(self) -> int:
        """Wait for exit (and for stderr to be read); return the exit status."""
        rc = self.proc.wait()
        self._drain.join(timeout=10)
        return rc

    def kill(self) -> None:
        """Stop the process if it is still running."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._drain.join(timeout=10)

    def tail(self, n: int = 8) -> list[str]:
        """The last `n` stderr lines."""
        return list(self.errors)[-n:]


def start_decoder(src: str, info: MediaInfo) -> FFmpegProcess:
    """Decode the first video stream to upright, even-sized, constant-rate I420 frames.

    ffmpeg applies the display matrix (autorotate); variable frame rate becomes constant at
    the stream's average rate (frames duplicated or dropped by timestamp) so audio stays in
    sync."""
    v = ffmpeg.input(src)[str(info.video_index)]
    if info.width % 2 or info.height % 2:
        v = v.filter("pad", "ceil(iw/2)*2", "ceil(ih/2)*2")
    node = v.output("pipe:", format="rawvideo", pix_fmt="yuv420p", fps_mode="cfr",
                    r=fps_arg(info))
    return FFmpegProcess(node, stdin=False, stdout=True)


def mute_expression(mute: Sequence[TimeRange]) -> str:
    """An ffmpeg timeline expression true inside any mute range."""
    return "+".join(f"between(t,{r.start:.3f},{r.end:.3f})" for r in mute)


# a 1 kHz tone at about -18 dBFS, the broadcaster's bleep
BLEEP_HZ = 1000


def muted_audio(a: Any, mute: Sequence[TimeRange], *, bleep: bool, sample_rate: int) -> Any:
    """`a` silenced inside the mute ranges, or with the 1 kHz tone there instead (`bleep`)."""
    expr = mute_expression(mute)
    a = a.filter("volume", volume=0, enable=expr)
    if not bleep:
        return a
    tone = (ffmpeg.input(f"sine=frequency={BLEEP_HZ}:sample_rate={sample_rate}", f="lavfi")
            .filter("volume", volume=0, enable=f"not({expr})"))
    return ffmpeg.filter([a, tone], "amix", inputs=2, duration="first", normalize=0)


def start_encoder(src: str, dst_tmp: Path, info: MediaInfo, *, mute: Sequence[TimeRange],
                  crf: int, preset: str, bleep: bool = False) -> tuple[FFmpegProcess, str | None]:
    """Encode raw I420 frames from stdin to H.264 + the source's first audio stream in MP4.

    Audio is copied bit for bit when it is already AAC and nothing is muted; otherwise it is
    encoded to AAC, silent in the mute ranges (a 1 kHz tone there with `bleep`). Container
    metadata, subtitles and data tracks are not carried over.
    Returns the process and what happened to the audio ("copy", "aac" or None)."""
    w, h = even(info.width), even(info.height)
    vin_args: dict[str, Any] = {"format": "rawvideo", "pix_fmt": "yuv420p", "s": f"{w}x{h}",
                                "framerate": fps_arg(info)}
    starts = [info.video_start] + [a.start_time for a in info.audio[:1]]
    offset = info.video_start - min(starts)
    if offset > 0.001:
        vin_args["itsoffset"] = f"{offset:.6f}"
    streams: list[Any] = [ffmpeg.input("pipe:", **vin_args)]
    out_args: dict[str, Any] = {
        "format": "mp4", "vcodec": "libx264", "preset": preset, "crf": crf,
        "pix_fmt": "yuv420p", "profile:v": "high", "movflags": "+faststart",
        "map_metadata": -1, "map_chapters": -1,
        # one output frame per frame we write: the decoder already made the rate constant
        "fps_mode": "passthrough",
    }
    audio_mode: str | None = None
    if info.audio:
        a = ffmpeg.input(src)[str(info.audio[0].index)]
        if mute:
            a = muted_audio(a, mute, bleep=bleep,
                            sample_rate=info.audio[0].sample_rate or 48000)
        if info.audio[0].codec == "aac" and not mute:
            out_args["acodec"] = "copy"
            audio_mode = "copy"
        else:
            out_args.update({"acodec": "aac", "b:a": "160k"})
            audio_mode = "aac"
        streams.append(a)
    node = ffmpeg.output(*streams, str(dst_tmp), **out_args)
    return FFmpegProcess(node, stdin=True, stdout=False), audio_mode


def read_frame(stream: IO[bytes], size: int) -> np.ndarray | None:
    """The next `size`-byte frame from `stream` as a flat uint8 array; None at the end
    (a short last frame is treated as the end)."""
    buf = np.empty(size, dtype=np.uint8)
    view = buf.data
    got = 0
    while got < size:
        n = stream.readinto(view[got:])  # type: ignore[attr-defined]
        if not n:
            return None
        got += n
    return buf
