"""File to file redaction: ffmpeg decode -> detect/track -> blur -> ffmpeg encode, streamed.

Frames flow through a short look-ahead queue: detection of keyframe k runs on a second
thread (OpenCV releases the GIL, so both cores work) while earlier frames are blurred and
encoded. The original is only read; the derivative is written to a hidden temporary name
and renamed into place once complete, so no half-written file ever has the final name.
"""

from __future__ import annotations

import os
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bwc_custody.timeutil import utcnow
from redaction.detect import make_detector
from redaction.errors import CorruptVideo, EncodeFailed, OutputIsInput, RedactionError
from redaction.ffio import (
    Decoder,
    Encoder,
    start_decoder,
    start_encoder,
    video_encoding,
    x264_build,
)
from redaction.follow import fill_paths
from redaction.keepface import KeepFaceMatcher, Reference, load_reference
from redaction.keepperson import KeepPeople
from redaction.manifest import ManifestWriter
from redaction.media import MediaInfo, MediaSource, probe
from redaction.options import RedactOptions
from redaction.regions import ManualBox, Regions
from redaction.run import Found, FrameRun, detect_threads
from redaction.versions import tool_versions
from storage.crypto import sha256_file

# RedactOptions lives in options.py (run.py needs it too) and is part of this module's API
__all__ = ["OutputExists", "ProgressFn", "RedactOptions", "RedactionResult", "load_references",
           "redact_file"]

ProgressFn = Callable[[int, int | None], None]


@dataclass
class RedactionResult:
    """What a redaction produced."""

    output: Path
    manifest: Path | None
    source_sha256: str
    output_sha256: str
    frames: int
    tracks: int
    boxes: int
    seconds: float
    warnings: list[str] = field(default_factory=list)
    # frame ranges flagged for a reviewer (weak detections, keep-face near misses)
    low_confidence: list[dict[str, Any]] = field(default_factory=list)


def _check_paths(src: Path, dst: Path, overwrite: bool) -> None:
    if dst.resolve() == src.resolve() or (dst.exists() and dst.samefile(src)):
        raise OutputIsInput(f"output {dst} is the original; originals are never overwritten",
                            path=str(dst))
    if dst.exists() and not overwrite:
        raise OutputExists(f"output {dst} already exists", path=str(dst))


class OutputExists(RedactionError):
    """The output path exists and overwriting was not asked for."""

    code = "output_exists"
    status = 409


def load_references(refs: Sequence[Path | Reference]) -> list[Reference]:
    """Encode every keep-face reference photo (refusing unclear ones) before any video work;
    references already encoded (enrolled people) pass through."""
    return [r if isinstance(r, Reference) else load_reference(Path(r)) for r in refs]


def _source_sha256(source: MediaSource) -> str:
    """The source's SHA-256: known already for a vault original, else read from the file."""
    return source.sha256 or sha256_file(Path(source.location))


def redact_file(src: Path | MediaSource, dst: Path, *, options: RedactOptions | None = None,
                regions: Regions | None = None,
                keep_faces: Sequence[Path | Reference] = (),
                keep_people: KeepPeople | None = None,
                manifest_path: Path | None = None,
                progress: ProgressFn | None = None) -> RedactionResult:
    """Write a redacted derivative of `src` (a file, or a URL source such as a vault
    original) to `dst` (and its manifest); `src` is only read. `keep_faces` (reference
    photos) and `keep_people` (people chosen from a person count) say who stays visible."""
    opts = options or RedactOptions()
    dst = Path(dst)
    started = time.perf_counter()
    source = MediaSource.of(src if isinstance(src, MediaSource) else Path(src))
    info = probe(source)
    if not isinstance(src, MediaSource):
        _check_paths(Path(src), dst, opts.overwrite)
    elif dst.exists() and not opts.overwrite:
        raise OutputExists(f"output {dst} already exists", path=str(dst))
    regions = regions or Regions()
    regions.check_fits(info.width, info.height, info.duration)
    regions, follow_warnings = fill_paths(regions, source.location)
    references = load_references(keep_faces)
    matcher = (KeepFaceMatcher(references, tolerance=opts.keep_tolerance,
                               min_face=opts.keep_min_face) if references else None)
    detector = make_detector(opts.detector, threshold=opts.threshold,
                             detect_area=opts.detect_area, threads=detect_threads(opts),
                             backend=opts.detect_backend)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{uuid.uuid4().hex[:8]}.partial")
    manifest = ManifestWriter(spool_dir=dst.parent)
    # one detection thread: a DNN net must never run two frames at once
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="redact-detect")
    hasher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="redact-hash")
    source_hash = hasher.submit(_source_sha256, source)
    run = FrameRun(info, opts, detector, matcher, regions, manifest, keep_people)
    dec: Decoder | None = None
    try:
        dec = start_decoder(source.location, info)

        def open_encoder(first_us: int) -> Encoder:
            run.enc, run.audio_mode = start_encoder(
                source.location, tmp, info, first_us=first_us, mute=regions.mute,
                crf=opts.crf, preset=opts.preset, x264_params=opts.x264_params,
                bleep=opts.mute_sound == "bleep")
            return run.enc

        frames = _stream(run, dec, open_encoder, pool, progress)
        warnings = follow_warnings + _finish(run, dec, frames, tmp)
        out_hash = sha256_file(tmp)
        header = _header(source, dst, info, opts, run, references, regions, frames,
                         source_hash.result(), out_hash, tmp.stat().st_size, run.audio_mode,
                         warnings, time.perf_counter() - started, x264_build(tmp))
        if manifest_path is not None:
            manifest.write(manifest_path, header)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, dst)
        return RedactionResult(dst, manifest_path, header["source"]["sha256"], out_hash,
                               frames, run.tracker.confirmed, manifest.boxes,
                               time.perf_counter() - started, warnings,
                               list(manifest.low_confidence))
    finally:
        for p in (dec, run.enc):
            if p is not None:
                p.kill()
        pool.shutdown(wait=True, cancel_futures=True)
        run.close()
        hasher.shutdown(wait=True, cancel_futures=True)
        manifest.close()
        tmp.unlink(missing_ok=True)


def _stream(run: FrameRun, dec: Decoder, open_encoder: Callable[[int], Encoder],
            pool: ThreadPoolExecutor, progress: ProgressFn | None) -> int:
    """Move every frame from decoder to encoder through detection and blur, each with its
    source timestamp (the encoder starts with the first frame, whose time it needs);
    return the count."""
    size = run.w * run.h * 3 // 2
    horizon = max(run.tracker.horizon,
                  run.head_tracker.horizon if run.head_tracker is not None else 0)
    every = run.opts.detect_every
    frames: deque[tuple[int, int, np.ndarray]] = deque()  # (index, pts, frame)
    pending: deque[tuple[int, float, Future[Found]]] = deque()
    expected = run.info.expected_frames
    n = 0
    done = 0
    last_pts: int | None = None
    enc: Encoder | None = None

    def emit(j: int, pts: int, buf: np.ndarray) -> None:
        nonlocal done
        assert enc is not None
        t0 = time.perf_counter()
        while pending and pending[0][0] <= j + horizon:
            k, tk, fut = pending.popleft()
            run.add_keyframe(k, tk, fut.result())
        t1 = time.perf_counter()
        run.apply(j, run.seconds(pts), buf)
        run.tracker.prune(j)
        if run.head_tracker is not None:
            run.head_tracker.prune(j)
        t2 = time.perf_counter()
        try:
            enc.write(run.micros(pts), buf)
        except BrokenPipeError:
            enc.wait()
            raise EncodeFailed("ffmpeg stopped taking frames", stderr=enc.tail()) from None
        tm = run.timings
        tm["wait_detect"] += t1 - t0
        tm["redact"] += t2 - t1
        tm["write"] += time.perf_counter() - t2
        done += 1
        if progress:
            progress(done, expected)

    while True:
        t0 = time.perf_counter()
        got = dec.read(size)
        run.timings["read"] += time.perf_counter() - t0
        if got is None:
            break
        pts, buf = got
        if last_pts is not None and pts <= last_pts:
            # a damaged file can repeat a timestamp; the MP4 needs them increasing
            run.timestamps_moved += 1
            pts = last_pts + 1
        last_pts = pts
        if enc is None:
            try:
                enc = open_encoder(run.micros(pts))
            except BrokenPipeError:
                raise EncodeFailed("ffmpeg could not start encoding",
                                   stderr=run.enc.tail() if run.enc else []) from None
        if n % every == 0:
            pending.append((n, run.seconds(pts), pool.submit(run.detect, buf)))
        frames.append((n, pts, buf))
        n += 1
        if len(frames) > horizon + every:
            emit(*frames.popleft())
    # the last frame is always a keyframe, so tracks reach the very end of the video
    if frames and (n - 1) % every != 0:
        last = frames[-1]
        pending.append((last[0], run.seconds(last[1]), pool.submit(run.detect, last[2])))
    while frames:
        emit(*frames.popleft())
    return n


def _finish(run: FrameRun, dec: Decoder, frames: int, tmp: Path) -> list[str]:
    """Close the encoder, check both processes and the frame count; return warnings."""
    enc = run.enc
    if enc is not None:
        assert enc.proc.stdin is not None
        try:
            enc.proc.stdin.close()
        except BrokenPipeError:
            pass
    dec_rc = dec.wait()
    enc_rc = enc.wait() if enc is not None else 0
    warnings: list[str] = []
    expected = run.info.expected_frames
    short = expected is not None and frames < expected * 0.98 - 2
    if dec_rc != 0 or frames == 0 or (short and not run.opts.allow_partial):
        raise CorruptVideo(
            "the video could not be decoded completely" if frames else
            "no frame of the video could be decoded",
            decoded_frames=frames, expected_frames=expected, decoder_status=dec_rc,
            stderr=dec.tail(), hint="--allow-partial redacts the decodable part")
    if short:
        warnings.append(f"partial: decoded {frames} of about {expected} frames")
    if dec.error_count:
        warnings.append(f"decoder reported {dec.error_count} error lines: {dec.tail(3)}")
    if enc is None or enc_rc != 0 or not tmp.is_file():
        raise EncodeFailed("ffmpeg could not write the derivative", status_code=enc_rc,
                           stderr=enc.tail() if enc else [])
    if run.timestamps_moved:
        warnings.append(f"{run.timestamps_moved} frames repeated an earlier timestamp and "
                        "were moved one tick later")
    if run.info.audio[1:]:
        warnings.append(f"only the first of {len(run.info.audio)} audio streams was kept")
    return warnings


def exemption_log(regions: Regions, people: KeepPeople | None) -> list[dict[str, Any]]:
    """Every choice a person made for this copy beyond blurring every face: each person kept
    visible and each manual box, blackout and mute range, with who chose it, when, and the
    reason given (the exemption log reviewers and courts ask for)."""
    log: list[dict[str, Any]] = [
        {"what": "kept_person", "person": p.get("id"), "reason": p.get("reason", ""),
         "chosen_by": p.get("chosen_by"), "chosen_at": p.get("chosen_at")}
        for p in (people.persons if people is not None else [])]
    for name, ranges in (("box", regions.boxes), ("blackout", regions.blackout),
                         ("mute", regions.mute)):
        for i, r in enumerate(ranges):
            entry: dict[str, Any] = {"what": name, "index": i, "start": r.start, "end": r.end,
                                     "label": r.label, "reason": r.reason,
                                     "chosen_by": r.chosen_by, "chosen_at": r.chosen_at}
            if isinstance(r, ManualBox):
                entry |= {"kind": r.kind, "mode": r.mode, "follow": r.follow}
            log.append(entry)
    return log


def _header(src: MediaSource, dst: Path, info: MediaInfo, opts: RedactOptions, run: FrameRun,
            references: list[Reference], regions: Regions, frames: int, src_hash: str,
            out_hash: str, out_bytes: int, audio_mode: str | None, warnings: list[str],
            seconds: float, x264: str | None) -> dict[str, Any]:
    """The manifest fields besides the per-frame rows (`x264`: the libx264 build that
    encoded the copy)."""
    det_info: dict[str, Any] = {"name": run.detector.name}
    sha = getattr(run.detector, "model_sha256", None)
    if sha:
        det_info["model_sha256"] = sha
    return {
        "created_at": utcnow().isoformat(),
        "source": {"name": src.name, "sha256": src_hash, "bytes": src.size,
                   "media": info.to_dict()},
        "output": {"name": dst.name, "sha256": out_hash, "bytes": out_bytes,
                   "width": run.w, "height": run.h, "fps": f"{info.fps.numerator}/"
                   f"{info.fps.denominator}", "frames": frames, "video_codec": "h264",
                   "video_encoder": {**video_encoding(info, crf=opts.crf, preset=opts.preset,
                                                      x264_params=opts.x264_params),
                                     "x264_build": x264},
                   "audio": audio_mode,
                   "padded_from": ([info.width, info.height]
                                   if (run.w, run.h) != (info.width, info.height) else None),
                   "rotation_applied": info.rotation,
                   # every frame keeps its source timestamp, less the file's start time
                   # (0 for most files): variable rate stays variable, a late video start
                   # stays late, and frame N is the source's frame N
                   "time_base": f"1/{info.time_base.denominator}",
                   "time_shift": -info.format_start,
                   "variable_frame_rate": info.variable_frame_rate},
        "tools": {**tool_versions(), "detector": det_info},
        "heads": run.heads_summary(),
        "settings": asdict(opts),
        "keep_face": {
            "references": [{"name": r.name, "sha256": r.sha256} for r in references],
            "tolerance": opts.keep_tolerance if references else None,
            "kept_tracks": {str(k): v for k, v in sorted(run.keep_stats.items())},
        },
        "keep_person": ({"persons": run.people.persons, **run.people.summary()}
                        if run.people is not None else None),
        "regions": regions.model_dump(),
        "mute": [r.model_dump() for r in regions.mute],
        "exemption_log": exemption_log(regions, run.people),
        "summary": {"frames": frames, "keyframes": run.keyframes,
                    "keyframes_lifted": run.keyframes_lifted,
                    "keyframes_shadows_lifted": run.keyframes_shadows,
                    "detections": run.detections, "tracks": run.tracker.confirmed,
                    "frames_with_boxes": run.manifest.frames_with_boxes,
                    "boxes": run.manifest.boxes, "seconds": round(seconds, 2),
                    "stage_seconds": {k: round(v, 2) for k, v in run.timings.items()}},
        "warnings": warnings,
    }
