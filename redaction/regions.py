"""Extra redactions a request can add: manual boxes over time, blackout and mute ranges.

Regions file (JSON), times in seconds from the start of the video, boxes in pixels of the
upright (displayed) frame:

    {"boxes":    [{"start": 1.0, "end": 4.5, "box": [x, y, w, h],
                   "mode": "blur" | "black", "kind": "screen", "label": "hall monitor",
                   "reason": "KRS 61.878(1)(a): a student's record on the screen"}],
     "blackout": [{"start": 10.0, "end": 12.0, "label": "restroom"}],
     "mute":     [{"start": 3.0, "end": 3.8, "label": "student name"}]}

`kind` says what a box hides (`screen`, `name_tag`, `plate`, `id`, `other`); `label` is a
free note; `reason` is the exemption the custodian gives (the exemption log reviewers and
courts ask for). A box with `"follow": true` moves with what it covers: the box drawn at `at`
seconds (default `start`), and any `keyframes` (`[{"t": s, "box": [x, y, w, h]}]`: where
the custodian put it at other times), are followed forward and back by optical flow
(`redaction/follow.py`) into its `path` (`[[t, x, y, w, h], ...]`), which the manifest keeps.
`chosen_by` and `chosen_at` are set by the server that takes the request, never by a client.

A mute range accepted from a speech suggestion (`redaction/speech.py`) also says so:
`"origin": "speech", "suggestion": 4, "accepted_by": "custodian1", "confidence": 0.91,
"widened": false`; it names the kind of term, never the words (the manifest travels with
the copy).

Every key is optional; unknown keys are refused so a typo never silently redacts nothing.
"""

from __future__ import annotations

import bisect
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bwc_custody.errors import validated
from redaction.errors import InvalidRegions

# What a manual box hides.
BoxKind = Literal["screen", "name_tag", "plate", "id", "other"]
# A followed box is tracked over at most this long: longer, it should be split where the
# thing it covers leaves and comes back (and a custodian can check the path).
FOLLOW_MAX_S = 600.0


class TimeRange(BaseModel):
    """A closed time range in seconds, with why it is redacted and who chose it when."""

    model_config = ConfigDict(extra="forbid")

    start: float = Field(ge=0)
    end: float = Field(gt=0)
    label: str = Field(default="", max_length=200)
    reason: str = Field(default="", max_length=500)
    chosen_by: str | None = Field(default=None, max_length=120)
    chosen_at: str | None = Field(default=None, max_length=40)

    @model_validator(mode="after")
    def _ordered(self) -> TimeRange:
        if self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        return self

    def covers(self, t: float) -> bool:
        """True when time `t` (seconds) lies in this range."""
        return self.start <= t <= self.end


Rect = tuple[float, float, float, float]


def _check_rect(box: Rect) -> None:
    x, y, w, h = box
    if w <= 0 or h <= 0 or x < 0 or y < 0:
        raise ValueError(f"box {list(box)} needs x, y >= 0 and w, h > 0")


class Keyframe(BaseModel):
    """Where a followed box is at one time (the custodian's correction)."""

    model_config = ConfigDict(extra="forbid")

    t: float = Field(ge=0)
    box: Rect

    @model_validator(mode="after")
    def _positive(self) -> Keyframe:
        _check_rect(self.box)
        return self


class ManualBox(TimeRange):
    """A rectangle to redact over a time range (a screen, a name tag, a student ID), fixed
    or following what it covers."""

    box: Rect
    mode: Literal["blur", "black"] = "blur"
    kind: BoxKind = "other"
    follow: bool = False
    at: float | None = Field(default=None, ge=0)
    keyframes: list[Keyframe] = Field(default_factory=list, max_length=200)
    path: list[tuple[float, float, float, float, float]] | None = None

    @model_validator(mode="after")
    def _positive(self) -> ManualBox:
        _check_rect(self.box)
        if self.path is not None and not self.follow:
            raise ValueError("a path belongs to a followed box (follow: true)")
        return self

    def anchors(self) -> list[Keyframe]:
        """Where the custodian put the box, in time order: as drawn, then the corrections."""
        drawn = Keyframe(t=self.start if self.at is None else self.at, box=self.box)
        return sorted([drawn, *self.keyframes], key=lambda k: k.t)

    def box_at(self, t: float) -> Rect:
        """The box at `t` seconds: fixed, or on its followed path (between two points of it,
        the straight line; before or after it, its nearest point)."""
        if not self.path:
            return self.box
        times = [p[0] for p in self.path]
        k = bisect.bisect_left(times, t)
        if k == 0:
            return self.path[0][1:]
        if k == len(times):
            return self.path[-1][1:]
        a, b = self.path[k - 1], self.path[k]
        u = 0.0 if b[0] == a[0] else (t - a[0]) / (b[0] - a[0])
        return (a[1] + (b[1] - a[1]) * u, a[2] + (b[2] - a[2]) * u,
                a[3] + (b[3] - a[3]) * u, a[4] + (b[4] - a[4]) * u)


class MuteRange(TimeRange):
    """A stretch of sound to silence (or bleep): typed by hand, or a speech suggestion that
    a person accepted (then with the suggestion's id in the transcript and who accepted)."""

    origin: Literal["manual", "speech"] = "manual"
    suggestion: int | None = Field(default=None, ge=0)
    accepted_by: str | None = None
    confidence: float | None = Field(default=None, ge=0, le=1)
    widened: bool = False


class Regions(BaseModel):
    """Everything a request adds beyond automatic face blurring."""

    model_config = ConfigDict(extra="forbid")

    boxes: list[ManualBox] = Field(default_factory=list)
    blackout: list[TimeRange] = Field(default_factory=list)
    mute: list[MuteRange] = Field(default_factory=list)

    def boxes_at(self, t: float) -> list[ManualBox]:
        """Manual boxes active at time `t`."""
        return [b for b in self.boxes if b.covers(t)]

    def blacked_out(self, t: float) -> bool:
        """True when the whole frame at time `t` is blacked out."""
        return any(r.covers(t) for r in self.blackout)

    def check_fits(self, width: int, height: int, duration: float | None) -> None:
        """Refuse boxes that lie wholly outside the frame (a sign of wrong coordinates)."""
        for i, b in enumerate(self.boxes):
            x, y, _, _ = b.box
            if x >= width or y >= height:
                raise InvalidRegions(
                    f"boxes[{i}] {list(b.box)} lies outside the {width}x{height} frame",
                    index=i, frame=[width, height])
        if duration is not None:
            for name, ranges in (("boxes", self.boxes), ("blackout", self.blackout),
                                 ("mute", self.mute)):
                for i, r in enumerate(ranges):
                    if r.start > duration:
                        raise InvalidRegions(
                            f"{name}[{i}] starts at {r.start}s, after the video ends "
                            f"({duration:.3f}s)", index=i, duration=duration)


    def check_within(self, width: int, height: int, duration: float | None,
                     fps: float | None = None) -> None:
        """Refuse (InvalidRegions, every problem in `details.problems`) a box not wholly in
        the `width` x `height` displayed frame, a range ending after the video (one frame of
        slack), a followed box's time, keyframe or path outside its range or the frame, and
        a followed box longer than `FOLLOW_MAX_S`: a request is checked whole before anything
        is queued."""
        slack = 1.0 / fps if fps else 0.05
        problems: list[str] = []

        def inside(where: str, box: Rect) -> None:
            x, y, w, h = box
            if x + w > width + 1 or y + h > height + 1:
                problems.append(f"{where}: box {[round(v, 1) for v in box]} reaches outside "
                                f"the {width}x{height} frame")

        for name, ranges in (("boxes", self.boxes), ("blackout", self.blackout),
                             ("mute", self.mute)):
            for i, r in enumerate(ranges):
                if duration is not None and r.end > duration + slack:
                    problems.append(f"{name}[{i}]: ends at {r.end} s, after the video ends "
                                    f"({duration:.3f} s)")
        for i, b in enumerate(self.boxes):
            inside(f"boxes[{i}]", b.box)
            if not b.follow:
                continue
            if b.end - b.start > FOLLOW_MAX_S:
                problems.append(f"boxes[{i}]: a followed box spans at most {FOLLOW_MAX_S:.0f} s "
                                f"(split it where what it covers leaves the picture)")
            for k in b.anchors():
                if not b.start - slack <= k.t <= b.end + slack:
                    problems.append(f"boxes[{i}]: a keyframe at {k.t} s lies outside "
                                    f"{b.start}-{b.end} s")
                inside(f"boxes[{i}] keyframe at {k.t} s", k.box)
            for t, *_rect in b.path or []:
                if not b.start - slack <= t <= b.end + slack:
                    problems.append(f"boxes[{i}]: its path at {t} s lies outside "
                                    f"{b.start}-{b.end} s")
                    break
        if problems:
            raise InvalidRegions(f"regions invalid: {problems[0]}"
                                 + (f" (and {len(problems) - 1} more)" if problems[1:] else ""),
                                 problems=problems, frame=[width, height], duration=duration)


def parse_regions(data: Any) -> Regions:
    """Validate a decoded regions document, or raise InvalidRegions naming each problem."""
    return validated(Regions, data, error=InvalidRegions, what="regions invalid")


def load_regions(path: Path) -> Regions:
    """Read and validate a regions JSON file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidRegions(f"cannot read regions file {path}: {exc.strerror}",
                             path=str(path)) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidRegions(f"regions file {path} is not JSON: {exc}", path=str(path)) from None
    return parse_regions(data)
