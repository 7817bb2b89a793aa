"""Tracks faces across keyframes: association, interpolation between detections, persistence.

Detection runs on every `detect_every`-th frame. A face seen at keyframes k1 and k2 is
interpolated in between; a track is blurred from `pre` frames before its first detection
(it may have been there, unseen, since the previous keyframe) to `persist` frames after its
last. Frame i is final once every keyframe up to i + `horizon` has been added.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from redaction.detect import Box, iou

Source = Literal["detected", "interpolated", "held"]


@dataclass(slots=True)
class Observation:
    """One detection assigned to a track at a keyframe; `keep` is the keep-face verdict."""

    frame: int
    box: Box
    keep: bool = False


@dataclass(slots=True)
class Track:
    """A face followed over time: its observations in frame order."""

    id: int
    obs: list[Observation] = field(default_factory=list)
    frames: list[int] = field(default_factory=list)

    @property
    def first(self) -> int:
        return self.obs[0].frame

    @property
    def last(self) -> int:
        return self.obs[-1].frame

    def add(self, ob: Observation) -> None:
        self.obs.append(ob)
        self.frames.append(ob.frame)

    def predict(self, frame: int) -> Box:
        """Where this face should be at `frame`, extrapolating its last motion."""
        b = self.obs[-1].box
        if len(self.obs) < 2:
            return b
        a = self.obs[-2]
        b_frame = self.obs[-1].frame
        dt = b_frame - a.frame
        if dt <= 0:
            return b
        t = (frame - b_frame) / dt
        ab = a.box
        return Box(b.x0 + (b.x0 - ab.x0) * t, b.y0 + (b.y0 - ab.y0) * t,
                   b.x1 + (b.x1 - ab.x1) * t, b.y1 + (b.y1 - ab.y1) * t, b.score)


@dataclass(frozen=True, slots=True)
class TrackedBox:
    """A box to redact (or keep) in one frame, with where it came from."""

    track: int
    box: Box
    source: Source
    keep: bool


def lerp(a: Box, b: Box, t: float) -> Box:
    """The box a fraction `t` of the way from `a` to `b` (score: the lower of the two)."""
    return Box(a.x0 + (b.x0 - a.x0) * t, a.y0 + (b.y0 - a.y0) * t,
               a.x1 + (b.x1 - a.x1) * t, a.y1 + (b.y1 - a.y1) * t, min(a.score, b.score))


def grow(b: Box, frac: float) -> Box:
    """`b` widened by `frac` of its size on every side (a held box covers drift)."""
    dx, dy = b.w * frac, b.h * frac
    return Box(b.x0 - dx, b.y0 - dy, b.x1 + dx, b.y1 + dy, b.score)


class Tracker:
    """Associates keyframe detections into tracks and answers which boxes cover a frame."""

    def __init__(self, *, detect_every: int, persist: int, pre: int | None = None,
                 min_iou: float = 0.15, max_center_dist: float = 0.8,
                 hold_growth: float = 0.03) -> None:
        self.detect_every = max(1, detect_every)
        self.persist = max(persist, self.detect_every)
        self.pre = self.detect_every if pre is None else pre
        self.min_iou = min_iou
        self.max_center_dist = max_center_dist
        self.hold_growth = hold_growth
        self.tracks: list[Track] = []
        self.finished: int = 0
        self._next_id = 1
        self.last_keyframe = -1

    @property
    def horizon(self) -> int:
        """Frames of look-ahead needed before a frame's boxes are final."""
        return max(self.pre, self.persist)

    def add(self, frame: int, boxes: Iterable[Box], keep: Iterable[bool] | None = None) -> None:
        """Add the detections of keyframe `frame` (keyframes must come in order)."""
        if frame <= self.last_keyframe:
            raise ValueError(f"keyframe {frame} after {self.last_keyframe}")
        self.last_keyframe = frame
        dets = list(boxes)
        keeps = list(keep) if keep is not None else [False] * len(dets)
        live = [t for t in self.tracks if frame - t.last <= self.persist]
        pairs: list[tuple[float, int, int]] = []
        for ti, t in enumerate(live):
            p = t.predict(frame)
            size = max(p.w, p.h, 1.0)
            for di, d in enumerate(dets):
                o = iou(p, d)
                dist = ((p.cx - d.cx) ** 2 + (p.cy - d.cy) ** 2) ** 0.5 / size
                ratio = max(d.w, 1.0) / max(p.w, 1.0)
                if o >= self.min_iou or (dist <= self.max_center_dist and 0.5 < ratio < 2.0):
                    pairs.append((o - dist, ti, di))
        pairs.sort(reverse=True)
        used_t: set[int] = set()
        used_d: set[int] = set()
        for _, ti, di in pairs:
            if ti in used_t or di in used_d:
                continue
            used_t.add(ti)
            used_d.add(di)
            live[ti].add(Observation(frame, dets[di], keeps[di]))
        for di, d in enumerate(dets):
            if di not in used_d:
                t = Track(self._next_id)
                self._next_id += 1
                t.add(Observation(frame, d, keeps[di]))
                self.tracks.append(t)

    def boxes_at(self, frame: int) -> list[TrackedBox]:
        """Boxes covering `frame`: detected, interpolated between detections, or held."""
        out: list[TrackedBox] = []
        for t in self.tracks:
            if frame < t.first - self.pre or frame > t.last + self.persist:
                continue
            k = bisect.bisect_left(t.frames, frame)
            if k < len(t.frames) and t.frames[k] == frame:
                ob = t.obs[k]
                out.append(TrackedBox(t.id, ob.box, "detected", ob.keep))
            elif k == 0:
                ob = t.obs[0]
                gap = ob.frame - frame
                out.append(TrackedBox(t.id, grow(ob.box, self.hold_growth * gap), "held",
                                      ob.keep))
            elif k == len(t.frames):
                ob = t.obs[-1]
                gap = frame - ob.frame
                out.append(TrackedBox(t.id, grow(ob.box, self.hold_growth * gap), "held",
                                      ob.keep))
            else:
                a, b = t.obs[k - 1], t.obs[k]
                u = (frame - a.frame) / (b.frame - a.frame)
                out.append(TrackedBox(t.id, lerp(a.box, b.box, u), "interpolated",
                                      a.keep and b.keep))
        return out

    def prune(self, frame: int) -> list[Track]:
        """Forget tracks that can no longer touch `frame` or later; return them."""
        done = [t for t in self.tracks
                if t.last + self.persist < frame and self.last_keyframe - t.last > self.persist]
        if done:
            ids = {t.id for t in done}
            self.tracks = [t for t in self.tracks if t.id not in ids]
            self.finished += len(done)
        return done
