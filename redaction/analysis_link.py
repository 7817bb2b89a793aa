"""Face tracks: detections linked across sampled frames by where the camera's motion puts
them, and track fragments joined again over gaps in the same shot.

A body camera moves everything in view at once: between two samples (1/5 s) faces shift
by about their own size (measured on make_clip clips), so a box predicted from its own
velocity misses the next detection. The frame-to-frame motion of the whole picture
(`analysis_video.estimate_motion`) moves each track's last box to where it should be now;
a detection continues the track when it lies within a fraction of a face size of that.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from redaction.analysis_faces import Thumb
from redaction.analysis_settings import AnalysisSettings
from redaction.detect import Box, iou


@dataclass
class Obs:
    """One detection in a track; `enc` is filled only for the observations chosen to encode."""

    frame: int
    box: Box
    enc: np.ndarray | None = None


def seen_from_front(box: Box, min_eye_span: float) -> bool:
    """Whether a face was seen from the front (or by a detector without landmarks)."""
    return box.eye_span is None or box.eye_span >= min_eye_span


@dataclass
class Candidate:
    """A detection kept for encoding: its quality, observation index, crop and location,
    and whether it was seen from the front (those are kept first: they say who it is)."""

    quality: float
    index: int
    crop: np.ndarray
    location: tuple[int, int, int, int]
    frontal: bool = True


@dataclass
class Track:
    """A followed face: observations, where its last box is now, and crops to encode."""

    id: int
    obs: list[Obs] = field(default_factory=list)
    sample_last: int = 0
    closed: bool = False
    pred: Box | None = None
    candidates: list[Candidate] = field(default_factory=list)
    encoded: bool = False
    # a few small face crops to show a person by (`analysis_faces`), JPEGs once it ends
    thumbs: list[Thumb] = field(default_factory=list)

    def encodings(self) -> list[np.ndarray]:
        return [o.enc for o in self.obs if o.enc is not None]

    def frontal_encodings(self, min_eye_span: float) -> list[np.ndarray]:
        """Encodings of the observations seen from the front (or by a detector without
        landmarks): the ones that say who a face is."""
        return [o.enc for o in self.obs
                if o.enc is not None and seen_from_front(o.box, min_eye_span)]

    def offer(self, cand: Candidate, keep: int) -> None:
        """Keep `cand` if it is among the `keep` best crops of this track (frontal first)."""
        self.candidates.append(cand)
        self.candidates.sort(key=lambda c: (not c.frontal, -c.quality))
        del self.candidates[keep:]


def warp_box(box: Box, m: np.ndarray) -> Box:
    """The axis-aligned box around `box` moved by the 2x3 similarity `m`."""
    xs = np.array([box.x0, box.x1, box.x0, box.x1])
    ys = np.array([box.y0, box.y0, box.y1, box.y1])
    px = m[0, 0] * xs + m[0, 1] * ys + m[0, 2]
    py = m[1, 0] * xs + m[1, 1] * ys + m[1, 2]
    # A rotation grows the enclosing box; keep the size the similarity's scale gives.
    scale = math.hypot(m[0, 0], m[1, 0])
    cx, cy = float(px.mean()), float(py.mean())
    hw, hh = box.w * scale / 2, box.h * scale / 2
    return Box(cx - hw, cy - hh, cx + hw, cy + hh, box.score)


def advance(tracks: Sequence[Track], m: np.ndarray | None) -> None:
    """Move every open track's predicted box by this sample's camera motion (kept in place
    when the motion is unknown)."""
    if m is None:
        return
    for t in tracks:
        if not t.closed and t.pred is not None:
            t.pred = warp_box(t.pred, m)


def nearness(a: Box, b: Box) -> float:
    """Distance between the centres of `a` and `b` in face sizes (the larger short side)."""
    size = max(1.0, min(a.w, a.h), min(b.w, b.h))
    return math.hypot(a.cx - b.cx, a.cy - b.cy) / size


def similar_size(a: Box, b: Box, ratio: float = 0.6) -> bool:
    """Whether two boxes are of one face size (within `ratio` on the short side)."""
    sa, sb = max(1.0, min(a.w, a.h)), max(1.0, min(b.w, b.h))
    return ratio <= sb / sa <= 1.0 / ratio


def _link_score(t: Track, box: Box, gap: int, s: AnalysisSettings) -> float | None:
    """How well `box` continues track `t` after `gap` samples (None: it does not)."""
    assert t.pred is not None
    if not similar_size(t.pred, box):
        return None
    near = nearness(t.pred, box)
    if near > s.link_radius * (1 + 0.5 * (gap - 1)) and iou(t.pred, box) < s.link_iou:
        return None
    return -near


def link(tracks: list[Track], dets: Sequence[Box], frame: int, sample: int,
         s: AnalysisSettings, next_id: Callable[[], int]) -> list[tuple[Track, int]]:
    """Attach this sampled frame's detections to open tracks (nearest first) or start new
    ones (appended to `tracks`); returns (track, observation index) for every detection."""
    live = [t for t in tracks if not t.closed and sample - t.sample_last <= s.max_gap + 1]
    pairs = []
    for ti, t in enumerate(live):
        for di, box in enumerate(dets):
            score = _link_score(t, box, sample - t.sample_last, s)
            if score is not None:
                pairs.append((score, ti, di))
    used_t: set[int] = set()
    placed: dict[int, Track] = {}
    for _, ti, di in sorted(pairs, reverse=True):
        if ti in used_t or di in placed:
            continue
        used_t.add(ti)
        placed[di] = live[ti]
    out = []
    for di, box in enumerate(dets):
        found = placed.get(di)
        if found is None:
            t = Track(next_id(), sample_last=sample)
            tracks.append(t)
        else:
            t = found
        t.obs.append(Obs(frame, box))
        t.sample_last = sample
        t.pred = box
        out.append((t, len(t.obs) - 1))
    return out


def project(box: Box, frm: int, to: int, motion: dict[int, np.ndarray | None],
            frames: Sequence[int]) -> Box | None:
    """`box` seen at sampled frame `frm` moved by the camera to sampled frame `to` (None when
    the motion of a sample in between is unknown: a cut or a failed estimate)."""
    for f in frames:
        if frm < f <= to:
            m = motion.get(f)
            if m is None:
                return None
            box = warp_box(box, m)
    return box


def join_fragments(tracks: list[Track], motion: dict[int, np.ndarray | None],
                   frames: Sequence[int], s: AnalysisSettings) -> list[Track]:
    """Join a track that ends to one that starts later in the same shot where the camera's
    motion carries the first face onto the second and their faces do not disagree: one face
    lost for a while (turned, blurred, hidden) and found again."""
    order = sorted(tracks, key=lambda t: t.obs[0].frame)
    starts = [t.obs[0].frame for t in order]
    index = {f: k for k, f in enumerate(frames)}
    pairs = []
    for a in order:
        end = a.obs[-1]
        for b in order[bisect.bisect_right(starts, end.frame):]:
            start = b.obs[0]
            if index[start.frame] - index[end.frame] > s.join_samples:
                break
            moved = project(end.box, end.frame, start.frame, motion, frames)
            if moved is None or not similar_size(moved, start.box):
                continue
            near = nearness(moved, start.box)
            if near > s.join_radius:
                continue
            ea, eb = a.encodings(), b.encodings()
            dist = min((float(np.linalg.norm(x - y)) for x in ea for y in eb), default=0.0)
            if dist > s.join_distance:
                continue
            pairs.append((near + dist, a.id, b.id))
    by_id = {t.id: Track(t.id, list(t.obs), t.sample_last, t.closed) for t in tracks}
    head = {t.id: t.id for t in tracks}  # track id -> id of the chain it was joined into
    has_next: set[int] = set()
    has_prev: set[int] = set()
    for _, ia, ib in sorted(pairs):
        if ia in has_next or ib in has_prev:
            continue
        ha, hb = head[ia], head[ib]
        chain_a = by_id[ha]
        if chain_a.obs[-1].frame >= by_id[hb].obs[0].frame:
            continue  # the chain already runs past where b starts
        has_next.add(ia)
        has_prev.add(ib)
        chain_a.obs = chain_a.obs + by_id[hb].obs
        for k, h in head.items():
            if h == hb:
                head[k] = ha
        del by_id[hb]
    return list(by_id.values())


def _box_at(t: Track, frame: int) -> Box | None:
    """Track `t`'s box at `frame`, interpolated between its observations (None outside)."""
    before = [o for o in t.obs if o.frame <= frame]
    after = [o for o in t.obs if o.frame >= frame]
    if not before or not after:
        return None
    a, b = before[-1], after[0]
    if a.frame == b.frame:
        return a.box
    u = (frame - a.frame) / (b.frame - a.frame)
    return Box(a.box.x0 + (b.box.x0 - a.box.x0) * u, a.box.y0 + (b.box.y0 - a.box.y0) * u,
               a.box.x1 + (b.box.x1 - a.box.x1) * u, a.box.y1 + (b.box.y1 - a.box.y1) * u)


def absorb_fragments(tracks: list[Track], *, max_len: int = 2,
                     min_iou: float = 0.5) -> list[Track]:
    """Fold a short track into a longer one that passes through the same place in a frame
    the longer one has no detection of: one face detected twice, or found once beside."""
    tracks = sorted((Track(t.id, list(t.obs), t.sample_last, t.closed) for t in tracks),
                    key=lambda t: -len(t.obs))
    out: list[Track] = []
    for t in tracks:
        host = None
        if len(t.obs) <= max_len:
            for h in out:
                seen = {o.frame for o in h.obs}
                if all(o.frame not in seen and (b := _box_at(h, o.frame)) is not None
                       and iou(b, o.box) >= min_iou for o in t.obs):
                    host = h
                    break
        if host is None:
            out.append(t)
        else:
            host.obs = sorted(host.obs + t.obs, key=lambda o: o.frame)
    return out
