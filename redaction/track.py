"""Tracks faces across keyframes: association, interpolation between detections, persistence.

Detection runs on every `detect_every`-th frame. A face seen at keyframes k1 and k2 is
interpolated in between; a track is blurred from `pre` frames before its first detection
(it may have been there, unseen, since the previous keyframe) to `persist` frames after its
last. Frame i is final once every keyframe up to i + `horizon` has been added.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from redaction.detect import Box

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
    # started by a weak detection: blurs nothing until enough keyframes confirm it
    tentative: bool = False

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
        """Where this face should be at `frame`, extrapolating its motion at the nearer end
        (after the last detection: its last motion; before the first: its first)."""
        if len(self.obs) < 2:
            return self.obs[0].box
        a, b = (self.obs[-2], self.obs[-1]) if frame >= self.first else (self.obs[0],
                                                                          self.obs[1])
        dt = b.frame - a.frame
        if dt <= 0:
            return b.box
        return lerp_free(a.box, b.box, (frame - a.frame) / dt, score=b.box.score)


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


def lerp_free(a: Box, b: Box, t: float, *, score: float) -> Box:
    """The box at `t` on the line through `a` (t=0) and `b` (t=1), any t (extrapolation)."""
    return Box(a.x0 + (b.x0 - a.x0) * t, a.y0 + (b.y0 - a.y0) * t,
               a.x1 + (b.x1 - a.x1) * t, a.y1 + (b.y1 - a.y1) * t, score)


def union(a: Box, b: Box) -> Box:
    """The bounding box of `a` and `b` (score: `a`'s)."""
    return Box(min(a.x0, b.x0), min(a.y0, b.y0), max(a.x1, b.x1), max(a.y1, b.y1), a.score)


def grow(b: Box, frac: float) -> Box:
    """`b` widened by `frac` of its size on every side (a held box covers drift)."""
    dx, dy = b.w * frac, b.h * frac
    return Box(b.x0 - dx, b.y0 - dy, b.x1 + dx, b.y1 + dy, b.score)


class Tracker:
    """Associates keyframe detections into tracks and answers which boxes cover a frame."""

    def __init__(self, *, detect_every: int, persist: int, pre: int | None = None,
                 min_iou: float = 0.15, max_center_dist: float = 0.8,
                 hold_growth: float = 0.03, motion_slack: float = 1.0,
                 new_track_score: float = 0.0, confirm_hits: int = 0,
                 tentative_misses: int = 1, ids: Iterator[int] | None = None) -> None:
        self.detect_every = max(1, detect_every)
        self.persist = max(persist, self.detect_every)
        self.pre = self.detect_every if pre is None else pre
        self.min_iou = min_iou
        self.max_center_dist = max_center_dist
        self.hold_growth = hold_growth
        self.motion_slack = motion_slack
        self.new_track_score = new_track_score
        self.confirm_hits = max(0, confirm_hits)
        # frames a tentative track may go unseen and live on (its keyframes it may miss)
        self.tentative_gap = (max(0, tentative_misses) + 1) * self.detect_every
        self.tracks: list[Track] = []
        self.confirmed: int = 0  # tracks that blur (the manifest's track count)
        # track numbers: a counter shared with another tracker keeps them apart (faces and
        # heads in one manifest)
        self._ids = ids if ids is not None else itertools.count(1)
        self.last_keyframe = -1

    @property
    def horizon(self) -> int:
        """Frames of look-ahead needed before a frame's boxes are final: a tentative track
        confirmed up to `(confirm_hits - 1) * (tentative_misses + 1)` keyframes after its
        start blurs from its start on."""
        confirm = max(0, self.confirm_hits - 1) * self.tentative_gap
        return max(self.pre + confirm, self.persist)

    def add(self, frame: int, boxes: Iterable[Box],
            keep: Iterable[bool] | None = None) -> list[int]:
        """Add the detections of keyframe `frame` (keyframes must come in order); return the
        indices of those taken into tracks.

        Detections scoring below `new_track_score` only extend a live track (matched after
        the confident ones), never start one: a face seen clearly that turns away or is
        half hidden keeps its track, while a weak blip on its own is ignored (the two-stage
        association of ByteTrack). With `confirm_hits`, an unmatched weak detection starts a
        tentative track instead, which blurs (over its whole span) only once weak
        detections have followed it on `confirm_hits` keyframes, missing at most
        `tentative_misses` in a row: a face the detector never scores highly but sees
        steadily is covered, a blip is not."""
        if frame <= self.last_keyframe:
            raise ValueError(f"keyframe {frame} after {self.last_keyframe}")
        self.last_keyframe = frame
        dets = list(boxes)
        keeps = list(keep) if keep is not None else [False] * len(dets)
        # a tentative track may miss only `tentative_misses` keyframes in a row
        live = [t for t in self.tracks if frame - t.last <= (
            self.tentative_gap if t.tentative else self.persist)]
        strong = [i for i, d in enumerate(dets) if d.score >= self.new_track_score]
        weak = [i for i, d in enumerate(dets) if d.score < self.new_track_score]
        used_t: set[int] = set()
        used_d: set[int] = set()
        for stage in (strong, weak):
            for ti, di in self._match(frame, live, dets, stage, used_t):
                used_t.add(ti)
                used_d.add(di)
                self._observe(live[ti], Observation(frame, dets[di], keeps[di]))
        for di in strong + (weak if self.confirm_hits > 1 else []):
            if di not in used_d:
                self._observe(Track(next(self._ids), tentative=True),
                              Observation(frame, dets[di], keeps[di]), new=True)
                used_d.add(di)
        return sorted(used_d)

    def _observe(self, track: Track, ob: Observation, new: bool = False) -> None:
        """Add `ob` to `track` (a new track is tentative until this confirms it): a confident
        detection confirms at once, weak ones after `confirm_hits` sightings."""
        track.add(ob)
        if new:
            self.tracks.append(track)
        if track.tentative and (ob.box.score >= self.new_track_score
                                or len(track.obs) >= self.confirm_hits):
            track.tentative = False
            self.confirmed += 1

    def _match(self, frame: int, live: list[Track], dets: list[Box], cand: list[int],
               used_t: set[int]) -> list[tuple[int, int]]:
        """Greedy best-first pairs (track index, detection index) among `cand`. A pair may
        match when the boxes overlap (IoU >= `min_iou`) or their centres are close for
        their size; the best (IoU minus centre distance) pairs are taken first. Computed
        as arrays: measured, the pair loop in Python was ~16 ms a keyframe on group scenes."""
        tis = [ti for ti in range(len(live)) if ti not in used_t]
        if not tis or not cand:
            return []
        preds = [live[ti].predict(frame) for ti in tis]
        p = np.array([[b.x0, b.y0, b.x1, b.y1] for b in preds])[:, None, :]
        d = np.array([[dets[di].x0, dets[di].y0, dets[di].x1, dets[di].y1]
                      for di in cand])[None, :, :]
        pw, ph = p[..., 2] - p[..., 0], p[..., 3] - p[..., 1]
        dw, dh = d[..., 2] - d[..., 0], d[..., 3] - d[..., 1]
        iw = np.maximum(0.0, np.minimum(p[..., 2], d[..., 2]) - np.maximum(p[..., 0], d[..., 0]))
        ih = np.maximum(0.0, np.minimum(p[..., 3], d[..., 3]) - np.maximum(p[..., 1], d[..., 1]))
        inter = iw * ih
        union = pw * ph + dw * dh - inter
        o = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
        size = np.maximum(np.maximum(pw, ph), 1.0)
        dist = np.hypot((p[..., 0] + p[..., 2] - d[..., 0] - d[..., 2]) / 2,
                        (p[..., 1] + p[..., 3] - d[..., 1] - d[..., 3]) / 2) / size
        ratio = np.maximum(dw, 1.0) / np.maximum(pw, 1.0)
        ok = (o >= self.min_iou) | ((dist <= self.max_center_dist) & (ratio > 0.5)
                                    & (ratio < 2.0))
        score = o - dist
        pairs = sorted(((float(score[i, j]), tis[i], cand[j]) for i, j in zip(*np.nonzero(ok),
                                                                               strict=True)),
                       reverse=True)
        out: list[tuple[int, int]] = []
        seen_t: set[int] = set()
        seen_d: set[int] = set()
        for _, ti, di in pairs:
            if ti in seen_t or di in seen_d:
                continue
            seen_t.add(ti)
            seen_d.add(di)
            out.append((ti, di))
        return out

    def boxes_at(self, frame: int) -> list[TrackedBox]:
        """Boxes covering `frame`: detected, interpolated between detections, or held."""
        out: list[TrackedBox] = []
        for t in self.tracks:
            if t.tentative or frame < t.first - self.pre or frame > t.last + self.persist:
                continue
            k = bisect.bisect_left(t.frames, frame)
            if k < len(t.frames) and t.frames[k] == frame:
                ob = t.obs[k]
                out.append(TrackedBox(t.id, ob.box, "detected", ob.keep))
            elif k == 0 or k == len(t.frames):
                ob = t.obs[0] if k == 0 else t.obs[-1]
                out.append(TrackedBox(t.id, self._held(t, ob.box, frame, abs(frame - ob.frame)),
                                      "held", ob.keep))
            else:
                a, b = t.obs[k - 1], t.obs[k]
                out.append(TrackedBox(t.id, self._between(a.box, b.box, a.frame, b.frame,
                                                          frame),
                                      "interpolated", a.keep and b.keep))
        return out

    def _held(self, t: Track, seen: Box, frame: int, gap: int) -> Box:
        """A box for `frame` beyond a track's ends: the face carried on at its measured
        motion, grown by `hold_growth` per frame for drift. Measured: fast faces held in
        place were left partly sharp at the ends of their tracks; also covering the face
        standing still cost 10% more blurred area for no recall."""
        if len(t.obs) < 2:
            return grow(seen, self.hold_growth * gap)
        return grow(t.predict(frame), self.hold_growth * gap)

    def _between(self, a: Box, b: Box, fa: int, fb: int, frame: int) -> Box:
        """A box for `frame` between detections at `fa` and `fb`: the straight path, swept
        over +-`motion_slack` frames, so a face that speeds up or slows down between
        keyframes (a walking camera bobs) stays covered in its direction of motion."""
        u = (frame - fa) / (fb - fa)
        if self.motion_slack <= 0:
            return lerp(a, b, u)
        du = self.motion_slack / (fb - fa)
        return union(lerp(a, b, max(0.0, u - du)), lerp(a, b, min(1.0, u + du)))

    def prune(self, frame: int) -> list[Track]:
        """Forget tracks that can no longer touch `frame` or later; return them."""
        def over(t: Track) -> bool:
            if t.tentative:  # never confirmed and no longer confirmable
                return self.last_keyframe - t.last > self.tentative_gap
            return t.last + self.persist < frame and self.last_keyframe - t.last > self.persist

        done = [t for t in self.tracks if over(t)]
        if done:
            self.tracks = [t for t in self.tracks if not over(t)]
        return [t for t in done if not t.tentative]
