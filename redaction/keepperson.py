"""Keep-person: people a custodian chose from a person count stay sharp, by where their face
is, not by what it looks like.

The person count followed every face and kept each track's boxes (`analysis_faces`). A face
the redactor detects at a keyframe stays sharp only when it lies on a chosen person's track
at that frame (IoU >= `KEEP_IOU` with the track's box there, interpolated between the count's
samples, held less than one sample beyond a track's ends, never across a gap of more than two
samples) and no other
track of the count (another person, or a face the count did not count) is as near (IoU >=
`OTHER_IOU`). Two faces so close that the count's boxes cannot tell them apart are both
blurred: keeping one never unblurs another, and a person the count was unsure of is two
people, of whom only the chosen one is kept. Anything the count never followed is blurred.
Detections that fall just short of keeping are flagged for the reviewer.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from redaction.detect import Box, iou

KEEP_IOU = 0.3
OTHER_IOU = 0.3
# A detection overlapping a chosen person's box this much but not kept is flagged.
NEAR_MISS_IOU = 0.1

Obs = Sequence[float]  # (frame, x0, y0, x1, y1[, score]) in the displayed frame's pixels


@dataclass
class TrackPath:
    """One track of the person count: its observations in frame order, and the person chosen
    (None: someone not chosen)."""

    id: int
    person: str | None
    frames: list[int]
    boxes: list[tuple[float, float, float, float]]

    @classmethod
    def of(cls, track_id: int, person: str | None, obs: Sequence[Obs]) -> TrackPath:
        rows = sorted(obs, key=lambda o: o[0])
        return cls(track_id, person, [int(o[0]) for o in rows],
                   [(float(o[1]), float(o[2]), float(o[3]), float(o[4])) for o in rows])

    def box_at(self, frame: int, max_gap: int, hold: int = 0) -> Box | None:
        """The track's box at `frame`: seen there, between two samples at most `max_gap`
        frames apart (a straight line), or up to `hold` frames before its first or after its
        last sample (where it was then); None elsewhere."""
        k = bisect.bisect_left(self.frames, frame)
        if k < len(self.frames) and self.frames[k] == frame:
            return Box(*self.boxes[k], 1.0)
        if k == 0:
            return Box(*self.boxes[0], 1.0) if self.frames[0] - frame <= hold else None
        if k == len(self.frames):
            return Box(*self.boxes[-1], 1.0) if frame - self.frames[-1] <= hold else None
        fa, fb = self.frames[k - 1], self.frames[k]
        if fb - fa > max_gap:
            return None
        u = (frame - fa) / (fb - fa)
        a, b = self.boxes[k - 1], self.boxes[k]
        x0, y0, x1, y1 = (p + (q - p) * u for p, q in zip(a, b, strict=True))
        return Box(x0, y0, x1, y1, 1.0)


@dataclass
class KeepPeople:
    """Decides, per keyframe detection, whether it is one of the chosen people."""

    tracks: list[TrackPath]
    sample_every: int
    # who was chosen, by whom, when and why (kept as given, for the manifest)
    persons: list[dict[str, Any]] = field(default_factory=list)
    kept_keyframes: dict[str, int] = field(default_factory=dict)
    near_misses: int = 0

    @property
    def max_gap(self) -> int:
        """Frames between two samples of a track that may be bridged: one missed sample."""
        return 2 * self.sample_every

    @property
    def hold(self) -> int:
        """Frames before a track's first and after its last sample where it still counts:
        the count samples every `sample_every` frames, so a face it saw last at one sample
        may be there until just before the next. Shorter than a sample, so never across a
        cut to another scene (the count notices cuts at samples)."""
        return max(0, self.sample_every - 1)

    def decide(self, frame: int, boxes: Sequence[Box]) -> tuple[list[str | None], list[float]]:
        """For each detection at `frame`: the chosen person it is (None: blur it), and its
        best overlap with a chosen person's box there (for review flags)."""
        here = [(t.person, b) for t in self.tracks
                if (b := t.box_at(frame, self.max_gap, self.hold)) is not None]
        chosen = [(p, b) for p, b in here if p is not None]
        if not chosen:
            return [None] * len(boxes), [0.0] * len(boxes)
        others = [b for p, b in here if p is None]
        who: list[str | None] = []
        best: list[float] = []
        for d in boxes:
            person, near = max(((p, iou(d, b)) for p, b in chosen), key=lambda x: x[1])
            rival = max((iou(d, b) for b in others), default=0.0)
            keep = near >= KEEP_IOU and rival < OTHER_IOU and rival < near
            who.append(person if keep else None)
            best.append(near)
            if keep:
                self.kept_keyframes[str(person)] = self.kept_keyframes.get(str(person), 0) + 1
            elif near >= NEAR_MISS_IOU:
                self.near_misses += 1
        return who, best

    def summary(self) -> dict[str, Any]:
        """What the manifest says of keep-person."""
        return {"keep_iou": KEEP_IOU, "other_iou": OTHER_IOU, "max_gap_frames": self.max_gap,
                "hold_frames": self.hold,
                "tracks_chosen": sorted(t.id for t in self.tracks if t.person is not None),
                "tracks_not_chosen": sum(1 for t in self.tracks if t.person is None),
                "kept_keyframe_faces": dict(sorted(self.kept_keyframes.items())),
                "near_misses": self.near_misses}
