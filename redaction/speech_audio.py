"""The sound of a recording for speech recognition: which audio stream, and its samples as
16 kHz mono float32, read from ffmpeg in pieces cut at quiet moments.

A four-hour recording is ~900 MB of float samples, so it is never held whole: pieces of
about `piece_seconds` are cut at the quietest 30 ms near their end, so no word is split
between two pieces and no overlap has to be reconciled afterwards.
"""

from __future__ import annotations

import subprocess
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePath

import ffmpeg
import numpy as np

from redaction.errors import CorruptVideo, NoAudioStream
from redaction.media import MediaSource, require_tools

RATE = 16000  # what speech models take


@dataclass(frozen=True)
class AudioInfo:
    """The audio stream speech is read from (the first, as the redactor keeps only it)."""

    index: int
    codec: str
    channels: int | None
    duration: float | None
    # seconds from the start of the file's timeline (where ffmpeg's filters count t=0) to
    # the stream's first sample: transcript times are given on that timeline, so a mute
    # range lands on the same sound in the derivative
    offset: float


def _float(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def probe_audio(src: Path | MediaSource) -> AudioInfo:
    """The first audio stream of `src`, or NoAudioStream / CorruptVideo / SourceMissing."""
    require_tools()
    source = MediaSource.of(src)
    name = PurePath(source.name).name
    try:
        info = ffmpeg.probe(source.location)
    except ffmpeg.Error as exc:
        reason = (exc.stderr or b"").decode(errors="replace").strip().splitlines()
        raise CorruptVideo(f"not a readable media file: {name}",
                           reason=reason[-1] if reason else "ffprobe failed") from None
    streams = info.get("streams", [])
    audio = [s for s in streams if s.get("codec_type") == "audio"]
    if not audio:
        kinds = sorted({str(s.get("codec_type")) for s in streams})
        raise NoAudioStream(f"{name} has no audio stream: there is no speech to find",
                            streams=kinds)
    a = audio[0]
    fmt = info.get("format", {})
    start = _float(a.get("start_time")) or 0.0
    file_start = _float(fmt.get("start_time")) or 0.0
    duration = _float(a.get("duration")) or _float(fmt.get("duration"))
    return AudioInfo(index=int(a["index"]), codec=str(a.get("codec_name", "unknown")),
                     channels=a.get("channels"), duration=duration,
                     offset=max(0.0, start - file_start))


def _quietest_cut(samples: np.ndarray, search: int, window: int) -> int:
    """Index of the quietest `window` of samples within the last `search` samples."""
    tail = samples[-search:]
    usable = len(tail) // window * window
    if usable < window:
        return len(samples)
    energy = np.square(tail[len(tail) - usable:]).reshape(-1, window).sum(axis=1)
    k = int(np.argmin(energy))
    return len(samples) - usable + k * window + window // 2


def audio_pieces(src: Path | MediaSource, info: AudioInfo, *, piece_seconds: float = 120.0,
                 search_seconds: float = 4.0) -> Iterator[tuple[float, np.ndarray]]:
    """Yield (start seconds on the file's timeline, 16 kHz mono float32 samples) pieces
    covering the whole first audio stream; CorruptVideo if ffmpeg cannot decode it."""
    source = MediaSource.of(src)
    node = (ffmpeg.input(source.location)[str(info.index)]
            .output("pipe:", format="s16le", acodec="pcm_s16le", ac=1, ar=RATE))
    args = ["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", *node.compile()[1:]]
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    errors: deque[str] = deque(maxlen=8)

    def drain() -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            errors.append(raw.decode(errors="replace").rstrip())

    drainer = threading.Thread(target=drain, daemon=True)
    drainer.start()
    piece = int(piece_seconds * RATE)
    search, window = int(search_seconds * RATE), int(0.03 * RATE)
    block = 1 << 16
    held = np.zeros(0, np.float32)
    done = 0  # samples already yielded
    try:
        assert proc.stdout is not None
        while True:
            raw = proc.stdout.read(block * 2)
            if raw:
                pcm = np.frombuffer(raw[: len(raw) // 2 * 2], np.int16)
                held = np.concatenate([held, pcm.astype(np.float32) / 32768.0])
            while len(held) >= piece + search:
                cut = _quietest_cut(held[:piece + search], 2 * search, window)
                yield info.offset + done / RATE, held[:cut]
                done += cut
                held = held[cut:]
            if not raw:
                break
        rc = proc.wait()
        drainer.join(timeout=10)
        if rc != 0:
            raise CorruptVideo("the audio could not be decoded completely",
                               decoder_status=rc, stderr=list(errors))
        if len(held):
            yield info.offset + done / RATE, held
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
