"""File to file redaction: ffmpeg decode -> detect/track -> blur -> ffmpeg encode, streamed.

Frames flow through a short look-ahead queue: detection of keyframe k runs on a second
thread (OpenCV releases the GIL, so both cores work) while earlier frames are blurred and
encoded. The original is only read; the derivative is written to a hidden temporary name
and renamed into place once complete, so no half-written file ever has the final name.
"""

from __future__ import annotations

import itertools
import os
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from bwc_custody.errors import InvalidInput
from bwc_custody.timeutil import utcnow
from redaction import blur
from redaction.detect import Box, CenterFaceDetector, Detector, make_detector
from redaction.errors import CorruptVideo, EncodeFailed, OutputIsInput, RedactionError
from redaction.ffio import Decoder, Encoder, even, start_decoder, start_encoder
from redaction.heads import HeadDetector
from redaction.keepface import KeepFaceMatcher, Reference, load_reference
from redaction.manifest import ManifestWriter
from redaction.media import MediaInfo, MediaSource, probe
from redaction.regions import Regions
from redaction.track import Tracker
from redaction.versions import tool_versions
from storage.crypto import sha256_file

ProgressFn = Callable[[int, int | None], None]


@dataclass(frozen=True)
class RedactOptions:
    """Every setting that changes a derivative (all recorded in its manifest)."""

    detector: str = "centerface"
    # Low on purpose: a false positive costs a blurred patch, a miss exposes a child.
    threshold: float = 0.1
    detect_area: int = 640 * 360
    # Measured: detecting every 3rd frame at ~640x360 keeps 720p30 near real time on 2 cores.
    detect_every: int = 3
    detect_threads: int = 2
    persist_seconds: float = 0.3
    # a face seen only weakly (below `threshold`) on this many keyframes, missing at most
    # one in a row, is blurred too, over its whole track (0 or 1: weak detections only
    # extend tracks)
    confirm_hits: int = 3
    # generous: CenterFace boxes are tighter than hairline-to-chin labels, and turned faces
    # sit off-centre in their boxes; blurring some background costs little
    pad: float = 0.4
    # boxes scored below `low_confidence` are placed less exactly (a half-seen face): wider
    weak_pad: float = 0.6
    cells: int = 6
    # heads mode: also blur every person's whole head (hair, ears, the back of the head),
    # found by MoveNet MultiPose (up to six people a frame; redaction/heads.py)
    heads: bool = False
    heads_input: int = 512
    head_threshold: float = 0.15
    # head boxes already reach the hair and ears: less padding than a face box
    head_pad: float = 0.25
    low_confidence: float = 0.4
    keep_tolerance: float = 0.5
    keep_min_face: int = 48
    crf: int = 18
    # x264 "superfast" with veryfast's macroblock-tree rate control: measured on the 720p
    # dev clip against "veryfast": 35% less encoding CPU (the largest single cost), files
    # 11% larger, PSNR to the source 41.4 vs 41.8 dB; plain "superfast" made files 47% larger
    preset: str = "superfast"
    x264_params: str = "mbtree=1:rc-lookahead=10"
    allow_partial: bool = False
    overwrite: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.detect_every <= 30:
            raise InvalidInput("detect_every must be 1..30", detect_every=self.detect_every)
        if not 0 < self.threshold < 1:
            raise InvalidInput("threshold must be in (0, 1)", threshold=self.threshold)
        if not 0 <= self.confirm_hits <= 10:
            raise InvalidInput("confirm_hits must be 0..10", confirm_hits=self.confirm_hits)
        if not 0 <= self.persist_seconds <= 5:
            raise InvalidInput("persist_seconds must be 0..5", persist=self.persist_seconds)
        if not 0 < self.head_threshold < 1 or self.heads_input % 32 or not (
                128 <= self.heads_input <= 1280):
            raise InvalidInput("head_threshold must be in (0, 1) and heads_input a multiple "
                               "of 32 in 128..1280", head_threshold=self.head_threshold,
                               heads_input=self.heads_input)
        if self.pad < 0 or self.weak_pad < 0 or self.cells < 2:
            raise InvalidInput("pad and weak_pad must be >= 0 and cells >= 2", pad=self.pad,
                               weak_pad=self.weak_pad, cells=self.cells)


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


class _Run:
    """State of one redaction while frames flow (kept out of redact_file for clarity)."""

    # A face already tracked may drop to this share of `threshold` and still extend its
    # track (turning away, half hidden); new tracks need the full threshold. Measured on
    # the bench's seed-1 clip: recall 0.981 -> 0.985 for 1.6% more blurred area, where
    # lowering the threshold itself to 0.05 gave 0.989 for 19% more blurred area.
    EXTEND_SHARE = 0.5

    def __init__(self, info: MediaInfo, opts: RedactOptions, detector: Detector,
                 matcher: KeepFaceMatcher | None, regions: Regions,
                 manifest: ManifestWriter) -> None:
        self.info, self.opts, self.detector, self.matcher = info, opts, detector, matcher
        self.regions, self.manifest = regions, manifest
        self.w, self.h = even(info.width), even(info.height)
        self.fps = float(info.fps)
        persist = max(opts.detect_every, round(opts.persist_seconds * self.fps))
        # detections down to the extension threshold; the tracker starts tracks only at
        # `threshold` (a detector without a score threshold is used as given)
        self._find: Detector = (detector.with_threshold(opts.threshold * self.EXTEND_SHARE)
                                if isinstance(detector, CenterFaceDetector) else detector)
        ids = itertools.count(1)
        self.tracker = Tracker(detect_every=opts.detect_every, persist=persist,
                               new_track_score=(opts.threshold
                                                if self._find is not detector else 0.0),
                               confirm_hits=opts.confirm_hits, ids=ids)
        # heads mode: a second detector and tracker (weak heads, like weak faces, only
        # extend or, seen often enough, confirm a track)
        self.heads: HeadDetector | None = None
        self.head_tracker: Tracker | None = None
        if opts.heads:
            self.heads = HeadDetector(input_long=opts.heads_input,
                                      threshold=opts.head_threshold * self.EXTEND_SHARE,
                                      threads=opts.detect_threads)
            self.head_tracker = Tracker(detect_every=opts.detect_every, persist=persist,
                                        new_track_score=opts.head_threshold,
                                        confirm_hits=opts.confirm_hits, ids=ids)
        # per head track: its frames and the face tracks seen inside it
        self.head_people: dict[int, dict[str, Any]] = {}
        self.crowd_keyframes = 0
        self.keep_stats: dict[int, dict[str, Any]] = {}
        self.enc: Encoder | None = None  # started with the first frame (it needs its time)
        self.audio_mode: str | None = None
        self.timestamps_moved = 0
        self.detections = 0
        self.keyframes = 0
        # seconds the main thread spent per stage (profiling aid, kept in the manifest)
        self.timings = {"read": 0.0, "wait_detect": 0.0, "redact": 0.0, "write": 0.0,
                        "detect_thread": 0.0}

    def detect(self, buf: np.ndarray) -> Found:
        """Faces in one frame, with keep-face each face's distance to the references, and in
        heads mode the heads (and whether the head model's six-person limit was reached)."""
        t0 = time.perf_counter()
        rgb = blur.to_rgb(buf, self.w, self.h)
        boxes = self._find(rgb)
        dists: list[float | None] = ([None] * len(boxes) if self.matcher is None
                                     else self.matcher.distances(rgb, boxes))
        heads, crowd = self.heads.find(rgb) if self.heads is not None else ([], False)
        self.timings["detect_thread"] += time.perf_counter() - t0
        return Found(boxes, dists, heads, crowd)

    def seconds(self, pts: int) -> float:
        """A source timestamp as seconds on the output's clock (from the file's start, as a
        player shows it; regions and mute ranges use the same clock)."""
        return float(pts * self.info.time_base) - self.info.format_start

    def micros(self, pts: int) -> int:
        """A source timestamp in microseconds on the source's own clock (for the encoder)."""
        return round(pts * self.info.time_base * 1_000_000)

    def add_keyframe(self, k: int, t: float, found: Found) -> None:
        """Feed one keyframe's detections to the trackers and flag weak ones for review."""
        boxes, dists = found.faces, found.dists
        if self.head_tracker is not None:
            self.head_tracker.add(k, found.heads)
            if found.crowd:
                self.crowd_keyframes += 1
                self.manifest.flag(k, t, "crowd_limit", 0.0, merge_gap=self.opts.detect_every)
        keeps = [self.matcher.keep(d) if self.matcher else False for d in dists]
        taken = self.tracker.add(k, boxes, keeps)
        boxes = [boxes[i] for i in taken]
        dists = [dists[i] for i in taken]
        self.keyframes += 1
        self.detections += len(boxes)
        weak = [b.score for b in boxes if b.score < self.opts.low_confidence]
        gap = self.opts.detect_every
        if weak:
            self.manifest.flag(k, t, "weak_detection", min(weak), merge_gap=gap)
        if self.matcher:
            tol = self.opts.keep_tolerance
            for d in dists:
                if d is not None and tol < d <= tol + 0.1:
                    self.manifest.flag(k, t, "keep_face_near_miss", d, merge_gap=gap)

    def apply(self, j: int, t: float, buf: np.ndarray) -> None:
        """Redact frame `j` (shown at `t` seconds) in place and record what was done."""
        if self.regions.blacked_out(t):
            blur.blackout(buf, self.w, self.h)
            return
        rows: list[list[Any]] = []
        to_blur: list[blur.IntBox] = []
        for tb in self.tracker.boxes_at(j):
            pad = self.opts.pad if tb.box.score >= self.opts.low_confidence else max(
                self.opts.pad, self.opts.weak_pad)
            ib = blur.pad_box(tb.box, pad, self.w, self.h)
            if ib is None:
                continue
            if not tb.keep:
                to_blur.append(ib)
            rows.append([tb.track, *ib, round(tb.box.score, 3), tb.source, tb.keep, "face"])
            if tb.keep:
                self.keep_stats.setdefault(tb.track, {"kept_frames": 0})["kept_frames"] += 1
        if self.head_tracker is not None:
            self._add_heads(j, rows, to_blur)
        blur.blur_boxes(buf, self.w, self.h, to_blur, cells=self.opts.cells)
        for mb in self.regions.boxes_at(t):
            x, y, bw, bh = mb.box
            cb = blur.clip_box(x, y, x + bw, y + bh, self.w, self.h)
            if cb is None:
                continue
            if mb.mode == "black":
                blur.fill_box(buf, self.w, self.h, cb)
            else:
                blur.blur_box(buf, self.w, self.h, cb, cells=self.opts.cells)
        self.manifest.add_frame(j, t, rows, to_blur)


    def _add_heads(self, j: int, rows: list[list[Any]], to_blur: list[blur.IntBox]) -> None:
        """Add frame `j`'s head boxes to `rows` and `to_blur` (after the face rows). A head
        holding a kept face's centre is kept too; each head track notes the face tracks
        seen inside it (none: a person blurred by head alone, e.g. seen from behind)."""
        assert self.head_tracker is not None
        faces = [(r[0], (r[1] + r[3]) / 2, (r[2] + r[4]) / 2, r[7]) for r in rows]
        for tb in self.head_tracker.boxes_at(j):
            ib = blur.pad_box(tb.box, self.opts.head_pad, self.w, self.h)
            if ib is None:
                continue
            inside = [f for f in faces if ib[0] <= f[1] < ib[2] and ib[1] <= f[2] < ib[3]]
            keep = any(f[3] for f in inside)
            person = self.head_people.setdefault(
                tb.track, {"first_frame": j, "last_frame": j, "face_tracks": set()})
            person["last_frame"] = j
            person["face_tracks"].update(f[0] for f in inside)
            if not keep:
                to_blur.append(ib)
            rows.append([tb.track, *ib, round(tb.box.score, 3), tb.source, keep, "head"])

    def heads_summary(self) -> dict[str, Any] | None:
        """The manifest's account of heads mode: which people were blurred by head, and
        which of them never by a face."""
        if self.heads is None:
            return None
        people = {str(k): {**v, "face_tracks": sorted(v["face_tracks"])}
                  for k, v in sorted(self.head_people.items())}
        return {"detector": self.heads.info(), "people": len(people),
                "blurred_by_head_only": [int(k) for k, v in people.items()
                                         if not v["face_tracks"]],
                "keyframes_at_six_people": self.crowd_keyframes,
                "tracks": people}


class Found(NamedTuple):
    """What detection found in one keyframe."""

    faces: list[Box]
    dists: list[float | None]
    heads: list[Box]
    crowd: bool  # the head model returned its maximum of six people


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
                manifest_path: Path | None = None,
                progress: ProgressFn | None = None) -> RedactionResult:
    """Write a redacted derivative of `src` (a file, or a URL source such as a vault
    original) to `dst` (and its manifest); `src` is only read."""
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
    references = load_references(keep_faces)
    matcher = (KeepFaceMatcher(references, tolerance=opts.keep_tolerance,
                               min_face=opts.keep_min_face) if references else None)
    detector = make_detector(opts.detector, threshold=opts.threshold,
                             detect_area=opts.detect_area, threads=opts.detect_threads)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{uuid.uuid4().hex[:8]}.partial")
    manifest = ManifestWriter(spool_dir=dst.parent)
    # one detection thread: a DNN net must never run two frames at once
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="redact-detect")
    hasher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="redact-hash")
    source_hash = hasher.submit(_source_sha256, source)
    run = _Run(info, opts, detector, matcher, regions, manifest)
    dec: Decoder | None = None
    try:
        dec = start_decoder(source.location, info)

        def open_encoder(first_us: int) -> Encoder:
            run.enc, run.audio_mode = start_encoder(
                source.location, tmp, info, first_us=first_us, mute=regions.mute,
                crf=opts.crf, preset=opts.preset, x264_params=opts.x264_params)
            return run.enc

        frames = _stream(run, dec, open_encoder, pool, progress)
        warnings = _finish(run, dec, frames, tmp)
        out_hash = sha256_file(tmp)
        header = _header(source, dst, info, opts, run, references, regions, frames,
                         source_hash.result(), out_hash, tmp.stat().st_size, run.audio_mode,
                         warnings, time.perf_counter() - started)
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
        hasher.shutdown(wait=True, cancel_futures=True)
        manifest.close()
        tmp.unlink(missing_ok=True)


def _stream(run: _Run, dec: Decoder, open_encoder: Callable[[int], Encoder],
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


def _finish(run: _Run, dec: Decoder, frames: int, tmp: Path) -> list[str]:
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


def _header(src: MediaSource, dst: Path, info: MediaInfo, opts: RedactOptions, run: _Run,
            references: list[Reference], regions: Regions, frames: int, src_hash: str,
            out_hash: str, out_bytes: int, audio_mode: str | None, warnings: list[str],
            seconds: float) -> dict[str, Any]:
    """The manifest fields besides the per-frame rows."""
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
        "regions": regions.model_dump(),
        "mute": [r.model_dump() for r in regions.mute],
        "summary": {"frames": frames, "keyframes": run.keyframes,
                    "detections": run.detections, "tracks": run.tracker.confirmed,
                    "frames_with_boxes": run.manifest.frames_with_boxes,
                    "boxes": run.manifest.boxes, "seconds": round(seconds, 2),
                    "stage_seconds": {k: round(v, 2) for k, v in run.timings.items()}},
        "warnings": warnings,
    }
