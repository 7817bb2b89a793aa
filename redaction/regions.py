"""Extra redactions a request can add: manual boxes over time, blackout and mute ranges.

Regions file (JSON), times in seconds from the start of the video, boxes in pixels of the
upright (displayed) frame:

    {"boxes":    [{"start": 1.0, "end": 4.5, "box": [x, y, w, h],
                   "mode": "blur" | "black", "label": "screen"}],
     "blackout": [{"start": 10.0, "end": 12.0, "label": "restroom"}],
     "mute":     [{"start": 3.0, "end": 3.8, "label": "student name"}]}

A mute range accepted from a speech suggestion (`redaction/speech.py`) also says so:
`"origin": "speech", "suggestion": 4, "accepted_by": "custodian1", "confidence": 0.91,
"widened": false`; it names the kind of term, never the words (the manifest travels with
the copy).

Every key is optional; unknown keys are refused so a typo never silently redacts nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bwc_custody.errors import validated
from redaction.errors import InvalidRegions


class TimeRange(BaseModel):
    """A closed time range in seconds."""

    model_config = ConfigDict(extra="forbid")

    start: float = Field(ge=0)
    end: float = Field(gt=0)
    label: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> TimeRange:
        if self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        return self

    def covers(self, t: float) -> bool:
        """True when time `t` (seconds) lies in this range."""
        return self.start <= t <= self.end


class ManualBox(TimeRange):
    """A rectangle to redact over a time range (a screen, a name tag, a student ID)."""

    box: tuple[float, float, float, float]
    mode: Literal["blur", "black"] = "blur"

    @model_validator(mode="after")
    def _positive(self) -> ManualBox:
        x, y, w, h = self.box
        if w <= 0 or h <= 0 or x < 0 or y < 0:
            raise ValueError(f"box {list(self.box)} needs x, y >= 0 and w, h > 0")
        return self


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
