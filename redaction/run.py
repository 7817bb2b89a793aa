"""The state of one redaction while frames flow: detection of a keyframe (faces, turned
copies, heads), the trackers, and the boxes blurred in each frame with their manifest rows.
The frame loop that drives it is `pipeline.py`."""

from __future__ import annotations

import itertools
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import numpy as np

from redaction import blur
from redaction.detect import (
    Box,
    CenterFaceDetector,
    Detector,
    exposure,
    merge,
    rotated_pass,
)
from redaction.ffio import Encoder, even
from redaction.heads import HeadDetector, HeadFinds
from redaction.keepface import KeepFaceMatcher
from redaction.keepperson import NEAR_MISS_IOU, KeepPeople
from redaction.manifest import ManifestWriter
from redaction.media import MediaInfo
from redaction.options import RedactOptions
from redaction.regions import Regions
from redaction.track import Tracker


class FrameRun:
    """State of one redaction while frames flow (kept out of redact_file for clarity)."""

    # A face already tracked may drop to this share of `threshold` and still extend its
    # track (turning away, half hidden); new tracks need the full threshold. Measured on
    # the bench's seed-1 clip: recall 0.981 -> 0.985 for 1.6% more blurred area, where
    # lowering the threshold itself to 0.05 gave 0.989 for 19% more blurred area.
    EXTEND_SHARE = 0.5

    def __init__(self, info: MediaInfo, opts: RedactOptions, detector: Detector,
                 matcher: KeepFaceMatcher | None, regions: Regions,
                 manifest: ManifestWriter, people: KeepPeople | None = None) -> None:
        self.info, self.opts, self.detector, self.matcher = info, opts, detector, matcher
        self.people = people
        self.regions, self.manifest = regions, manifest
        self.w, self.h = even(info.width), even(info.height)
        self.fps = float(info.fps)
        persist = max(opts.detect_every, round(opts.persist_seconds * self.fps))
        # detections down to the extension threshold; the tracker starts tracks only at
        # `threshold` (a detector without a score threshold is used as given)
        self._find: Detector = (detector.with_threshold(opts.threshold * self.EXTEND_SHARE)
                                if isinstance(detector, CenterFaceDetector) else detector)
        self._angles = itertools.cycle((45.0, -45.0)) if opts.rotated_pass else None
        # dark keyframes lifted for the face passes: measured for CenterFace only (dlib's HOG,
        # kept for comparison, sees the frame as it is)
        self._lift_dark = opts.dark_lift and isinstance(self._find, CenterFaceDetector)
        if not side_by_side(opts, detector) and isinstance(self._find, CenterFaceDetector):
            self._find.threads = opts.detect_threads  # one pass at a time: all the threads
        # the turned pass runs beside the upright one, each on one thread of its runtime
        # (onnxruntime or OpenVINO): the same wall time as one pass on two threads for less
        # CPU (one thread does not wait on the other inside each layer). OpenCV DNN (the
        # fallback) runs one at a time.
        self._turn_pool = (ThreadPoolExecutor(max_workers=1, thread_name_prefix="redact-turn")
                           if side_by_side(opts, detector) else None)
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
                                      threads=opts.detect_threads,
                                      crowd_parts=opts.head_crowd_parts,
                                      backend=opts.detect_backend)
            self.head_tracker = Tracker(detect_every=opts.detect_every, persist=persist,
                                        new_track_score=opts.head_threshold,
                                        confirm_hits=opts.confirm_hits, ids=ids)
        # per head track: its frames and the face tracks seen inside it
        self.head_people: dict[int, dict[str, Any]] = {}
        self.crowd_keyframes = 0  # the whole frame gave the head model's six people
        # ... and a part still did, or the whole frame with head_crowd_parts 0 (flagged)
        self.crowd_limit_keyframes = 0
        self.keep_stats: dict[int, dict[str, Any]] = {}
        self.enc: Encoder | None = None  # started with the first frame (it needs its time)
        self.audio_mode: str | None = None
        self.timestamps_moved = 0
        self.detections = 0
        self.keyframes = 0
        self.keyframes_lifted = 0  # dark keyframes the face passes saw brightened
        self.keyframes_shadows = 0  # dark keyframes with a light in view, searched lifted too
        # seconds the main thread spent per stage (profiling aid, kept in the manifest)
        self.timings = {"read": 0.0, "wait_detect": 0.0, "redact": 0.0, "write": 0.0,
                        "detect_thread": 0.0}

    def detect(self, buf: np.ndarray) -> Found:
        """Faces in one frame, with keep-face each face's distance to the references, and in
        heads mode the heads (and whether the head model's six-person limit was reached)."""
        t0 = time.perf_counter()
        rgb = blur.to_rgb(buf, self.w, self.h)
        light = exposure(rgb, lift=self._lift_dark)
        # under-exposed: every pass sees the lifted copy. Dark with a light in view: the frame
        # as it is is searched upright, and its lifted copy upright and turned (the faces are
        # in its shadows; measured on the bench's "lamp" clips, redaction/README.md).
        views = light.upright(rgb)
        turn_on = rgb if light.copy is None else light.copy

        def upright() -> list[Box]:
            return [b for frame in views for b in self._find(frame)]

        if self._angles is not None and isinstance(self._find, CenterFaceDetector):
            angle = next(self._angles)
            if self._turn_pool is not None:
                turned = self._turn_pool.submit(rotated_pass, self._find, turn_on, angle)
                boxes = merge(upright() + turned.result())
            else:
                boxes = merge(upright() + rotated_pass(self._find, turn_on, angle))
        else:
            boxes = merge(upright()) if len(views) > 1 else upright()
        dists: list[float | None] = ([None] * len(boxes) if self.matcher is None
                                     else self.matcher.distances(rgb, boxes))
        heads = (self.heads.find(rgb) if self.heads is not None
                 else HeadFinds([], crowded=False, at_limit=False))
        self.timings["detect_thread"] += time.perf_counter() - t0
        lifted = light.copy is not None
        return Found(boxes, dists, heads, lifted and light.alone,
                     lifted and not light.alone, light.level)

    def close(self) -> None:
        """Stop the turned pass's thread (after the last keyframe)."""
        if self._turn_pool is not None:
            self._turn_pool.shutdown(wait=True, cancel_futures=True)

    def seconds(self, pts: int) -> float:
        """A source timestamp as seconds on the output's clock (from the file's start, as a
        player shows it; regions and mute ranges use the same clock)."""
        return float(pts * self.info.time_base) - self.info.format_start

    def micros(self, pts: int) -> int:
        """A source timestamp in microseconds on the source's own clock (for the encoder)."""
        return round(pts * self.info.time_base * 1_000_000)

    def flag(self, k: int, t: float, reason: str, score: float) -> None:
        """Flag keyframe `k` (at `t` seconds) for the reviewer (`ManifestWriter.flag`),
        unless the whole picture is blacked out there: nothing in it can be left sharp, and
        counsel must watch every flagged range at normal speed."""
        if not self.regions.blacked_out(t):
            self.manifest.flag(k, t, reason, score, merge_gap=self.opts.detect_every)

    def add_keyframe(self, k: int, t: float, found: Found) -> None:
        """Feed one keyframe's detections to the trackers and flag for review what may have
        been missed or was a close choice (weak faces, a crowd past the head model's six,
        near misses of a kept person or face, a dark picture)."""
        boxes, dists = found.faces, found.dists
        if self.head_tracker is not None:
            self.head_tracker.add(k, found.heads.boxes)
            self.crowd_keyframes += found.heads.crowded
            if found.heads.at_limit:
                self.crowd_limit_keyframes += 1
                self.flag(k, t, "crowd_limit", 0.0)
        keeps = [self.matcher.keep(d) if self.matcher else False for d in dists]
        if self.people is not None:
            who, near = self.people.decide(k, boxes)
            keeps = [a or w is not None for a, w in zip(keeps, who, strict=True)]
            unsure = [n for n, w in zip(near, who, strict=True)
                      if w is None and n >= NEAR_MISS_IOU]
            if unsure:
                self.flag(k, t, "keep_person_near_miss", max(unsure))
        taken = self.tracker.add(k, boxes, keeps)
        boxes = [boxes[i] for i in taken]
        dists = [dists[i] for i in taken]
        self.keyframes += 1
        self.keyframes_lifted += found.lifted
        self.keyframes_shadows += found.shadows
        self.detections += len(boxes)
        weak = [b.score for b in boxes if b.score < self.opts.low_confidence]
        if weak:
            self.flag(k, t, "weak_detection", min(weak))
        if found.dark_level is not None:
            self.flag(k, t, "dark_footage", found.dark_level)
        if self.matcher:
            tol = self.opts.keep_tolerance
            for d in dists:
                if d is not None and tol < d <= tol + 0.1:
                    self.flag(k, t, "keep_face_near_miss", d)

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
            x, y, bw, bh = mb.box_at(t)
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
                "keyframes_at_six_in_a_part": self.crowd_limit_keyframes,
                "tracks": people}


def side_by_side(opts: RedactOptions, detector: Detector) -> bool:
    """Whether the turned pass runs on its own thread beside the upright one (onnxruntime
    runs one session from two threads, OpenVINO one request per thread; OpenCV DNN may not)."""
    return (opts.rotated_pass and opts.detect_threads >= 2
            and isinstance(detector, CenterFaceDetector) and detector.backend != "opencv")


def detect_threads(opts: RedactOptions) -> int:
    """Runtime threads per face pass: `detect_threads` split between the upright and turned
    passes when they run side by side."""
    return max(1, opts.detect_threads // 2) if opts.rotated_pass else opts.detect_threads


class Found(NamedTuple):
    """What detection found in one keyframe."""

    faces: list[Box]
    dists: list[float | None]
    heads: HeadFinds
    lifted: bool  # under-exposed: every face pass saw the keyframe brightened (exposure)
    shadows: bool  # dark with a light in view: searched both as it is and lifted (exposure)
    dark_level: float | None  # a dark keyframe's mean level (lifted or not), flagged
