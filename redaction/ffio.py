"""ffmpeg processes for the pipeline: a decoder streaming raw I420 frames out, an encoder
taking them in, both built with ffmpeg-python and drained so neither can deadlock."""

from __future__ import annotations

import os
import queue
import subprocess
import threading
from collections import deque
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import IO, Any

import ffmpeg
import numpy as np

from redaction import rawmkv
from redaction.media import MediaInfo
from redaction.regions import TimeRange

GLOBAL_ARGS = ["-nostdin", "-hide_banner", "-v", "error"]
# Decoder and x264 threads. ffmpeg's default on two cores (x264: three frame threads and a
# lookahead thread) spends more CPU a frame on handing frames between threads, with the
# detection thread and the other ffmpeg already busy. Measured on the bench's clips,
# 2 threads against the default: x264 -3% CPU at 720p, -9% at 1080p; decoding -14% at 720p.
# Up to 720p at 30 fps one thread each is faster still (the pipeline +4% fps, wall, in 17 of
# 17 pairs, redaction/README.md "Codec threads"): one x264 thread encodes a 720p frame in
# ~11 ms on the current machine (12-18 on older ones), inside the 16.7 ms that 2x real time
# leaves at 30 fps. Above that pixel rate two let each use both cores: a 1080p frame costs
# one x264 thread ~25-35 ms, at or past real time on its own (measured: 1080p lost real
# time with one), as a 60 fps 720p video would.
CODEC_THREADS_SMALL = 1
CODEC_THREADS = 2
SMALL_PIXEL_RATE = 1280 * 720 * 30


def codec_threads(info: MediaInfo) -> int:
    """Threads for the decoder and for x264 on a video of this size and frame rate."""
    rate = info.width * info.height * float(info.fps)
    return CODEC_THREADS_SMALL if rate <= SMALL_PIXEL_RATE else CODEC_THREADS


def even(n: int) -> int:
    """`n` rounded up to even (H.264 4:2:0 needs even sizes)."""
    return n + (n & 1)


class FFmpegProcess:
    """A running ffmpeg whose stderr is drained by a thread (last lines kept for errors)."""

    def __init__(self, node: Any, *, stdin: bool, stdout: bool,
                 pass_fds: tuple[int, ...] = ()) -> None:
        self.args: list[str] = ["ffmpeg", *GLOBAL_ARGS, *node.compile()[1:]]
        self.proc = subprocess.Popen(
            self.args, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE if stdout else subprocess.DEVNULL,
            stderr=subprocess.PIPE, bufsize=0, pass_fds=pass_fds)
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


class Decoder(FFmpegProcess):
    """ffmpeg decoding the first video stream to upright, even-sized I420 frames on stdout,
    each frame's timestamp (in the source stream's time base) on a second pipe.

    Every decoded frame comes out once, in presentation order, with the timestamp the
    source gives it (`-copyts`, passthrough): nothing is duplicated to fill a late start
    or made constant-rate, so frame N here is the source's frame N."""

    def __init__(self, node: Any, times_w: int, times_r: int, time_base: Fraction) -> None:
        super().__init__(node, stdin=False, stdout=True, pass_fds=(times_w,))
        os.close(times_w)
        self.expected_time_base = time_base
        self.time_base: Fraction | None = None
        self._times: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self._times_reader = threading.Thread(target=self._read_times, args=(times_r,),
                                              daemon=True)
        self._times_reader.start()

    def _read_times(self, fd: int) -> None:
        """Parse framecrc lines (`stream, dts, pts, duration, size, crc`) into timestamps."""
        with os.fdopen(fd, "r", encoding="ascii", errors="replace") as lines:
            for line in lines:
                if line.startswith("#tb 0:"):
                    self.time_base = Fraction(line.split(":", 1)[1].strip())
                elif line and not line.startswith("#"):
                    self._times.put(int(line.split(",")[2]))
        self._times.put(None)

    def read(self, size: int) -> tuple[int, np.ndarray] | None:
        """The next frame's (timestamp, I420 buffer of `size` bytes); None at the end."""
        assert self.proc.stdout is not None
        buf = read_frame(self.proc.stdout, size)
        if buf is None:
            return None
        pts = self._times.get()
        if pts is None:
            return None
        if self.time_base != self.expected_time_base:  # set before the first timestamp
            raise RuntimeError(f"ffmpeg printed timestamps in {self.time_base}, "
                               f"not {self.expected_time_base}")
        return pts, buf


def start_decoder(src: str, info: MediaInfo) -> Decoder:
    """Decode the first video stream (see `Decoder`). ffmpeg applies the display matrix
    (autorotate) and pads odd sizes to even; timestamps come in `info.time_base`."""
    v = ffmpeg.input(src, threads=codec_threads(info))[str(info.video_index)].split()
    picture = v[0]
    if info.width % 2 or info.height % 2:
        picture = picture.filter("pad", "ceil(iw/2)*2", "ceil(ih/2)*2")
    times_r, times_w = os.pipe()
    frames = picture.output("pipe:1", format="rawvideo", pix_fmt="yuv420p",
                            fps_mode="passthrough")
    # the same frames, wrapped (not copied), only to have ffmpeg print their timestamps
    times = v[1].output(f"pipe:{times_w}", format="framecrc", vcodec="wrapped_avframe",
                        fps_mode="passthrough", enc_time_base=tb_arg(info.time_base))
    node = ffmpeg.merge_outputs(frames, times).global_args("-copyts")
    try:
        return Decoder(node, times_w, times_r, info.time_base)
    except BaseException:
        os.close(times_r)
        raise


def tb_arg(tb: Fraction) -> str:
    """A time base as ffmpeg's options want it ("1/15360")."""
    return f"{tb.numerator}/{tb.denominator}"


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


class Encoder(FFmpegProcess):
    """ffmpeg taking timestamped I420 frames (a Matroska stream, `rawmkv`) on stdin."""

    def write(self, timestamp_us: int, buf: np.ndarray) -> None:
        """Send one frame, shown at `timestamp_us` on the source's clock."""
        assert self.proc.stdin is not None
        rawmkv.write_frame(self.proc.stdin, timestamp_us, buf.data)


def video_encoding(info: MediaInfo, *, crf: int, preset: str,
                   x264_params: str = "") -> dict[str, Any]:
    """The video encoder's arguments for a copy of `info`'s video, as the manifest records
    them: with the same ffmpeg they make the same bits (x264's output also depends on its
    thread count, which follows the video's size)."""
    args: dict[str, Any] = {"vcodec": "libx264", "preset": preset, "crf": crf,
                            "pix_fmt": "yuv420p", "profile:v": "high",
                            "threads": codec_threads(info)}
    if x264_params:
        args["x264-params"] = x264_params
    return args


_X264_MARK = b"x264 - core "
_X264_END = b" - H.264/MPEG-4 AVC codec"


def x264_build(path: Path, *, limit: int = 64 << 20) -> str | None:
    """The libx264 build that encoded `path`, as x264 writes it into its first picture's SEI
    ("core 164 r3095 baf5d45"): the same arguments make other bits on another build, and
    ffmpeg's version does not say which it links. Searched in the file's first `limit` bytes
    (past a moov put first, the first picture); None where it is not found there."""
    tail = b""
    with open(path, "rb") as fh:
        while fh.tell() < limit and (chunk := fh.read(min(1 << 20, limit - fh.tell()))):
            data = tail + chunk
            at = data.find(_X264_MARK)
            if at >= 0:
                end = data.find(_X264_END, at, at + 200)
                if end < 0 and len(data) - at < 200:  # cut by the read: take more
                    tail = data[at:]
                    continue
                if end < 0:
                    return None
                return data[at + len(_X264_MARK) - len(b"core "):end].decode("ascii", "replace")
            tail = data[-(len(_X264_MARK) - 1):]
    return None


def start_encoder(src: str, dst_tmp: Path, info: MediaInfo, *, first_us: int,
                  mute: Sequence[TimeRange], crf: int, preset: str,
                  x264_params: str = "", bleep: bool = False) -> tuple[Encoder, str | None]:
    """Encode timestamped I420 frames from stdin to H.264 + the source's first audio stream
    in MP4, every frame at its source timestamp (`first_us`: the first frame's, in
    microseconds on the source's clock).

    ffmpeg moves each input's timestamps so that its first starts at 0; the source's
    streams (the audio) all move by the source's start time, so the video is put back at
    its own offset from that start: a video that starts 0.85 s after its audio still
    does, and a source that starts at 0 keeps every timestamp exactly (the output's time
    base is the source's).

    Audio is copied bit for bit when it is already AAC and nothing is muted; otherwise it is
    encoded to AAC, silent in the mute ranges (a 1 kHz tone there with `bleep`). Container
    metadata, subtitles and data tracks are not carried over.
    Returns the process and what happened to the audio ("copy", "aac" or None)."""
    w, h = even(info.width), even(info.height)
    shift_us = first_us - round(info.format_start * 1_000_000)
    vin_args: dict[str, Any] = {"format": "matroska", "itsoffset": f"{shift_us / 1e6:.6f}"}
    streams: list[Any] = [ffmpeg.input("pipe:", **vin_args)]
    out_args: dict[str, Any] = {
        "format": "mp4", **video_encoding(info, crf=crf, preset=preset, x264_params=x264_params),
        "movflags": "+faststart", "map_metadata": -1, "map_chapters": -1,
        # one output frame per frame we write, at its own timestamp, in the source's time
        # base (no rounding to a frame rate: variable rate stays as the source has it)
        "fps_mode": "passthrough", "enc_time_base": f"1/{info.time_base.denominator}",
        "video_track_timescale": info.time_base.denominator,
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
    proc = Encoder(node, stdin=True, stdout=False)
    assert proc.proc.stdin is not None
    proc.proc.stdin.write(rawmkv.header(w, h))
    return proc, audio_mode


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
