"""The settings of a redaction: every field changes the derivative and is recorded in its
manifest."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bwc_custody.errors import InvalidInput
from redaction.detect import BACKENDS


def check_detect_backend(value: str) -> None:
    """Refuse a detector runtime that is not one of `BACKENDS` with `invalid_input` (for the
    settings of a redaction and of a count, when they are made)."""
    if value not in BACKENDS:
        raise InvalidInput(f"detect_backend must be one of {', '.join(BACKENDS)}",
                           detect_backend=value)


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
    # CenterFace's runtime (redaction.detect.BACKENDS): "auto" is bfloat16 by OpenVINO where
    # the CPU computes it natively (~0.6 of a float32 call, same recall on the bench clips:
    # README "Speed, fourth pass"), else float32 by onnxruntime
    detect_backend: str = "auto"
    # each keyframe is also searched turned by +45 and -45 degrees, alternately (faces
    # tilted 20-70 degrees, and tilted heads the upright pass scores near zero). Measured
    # on the bench's seed-1 720p clips: recall 0.9868 -> 0.9973 upright, 0.9891 -> 0.9950
    # on photos turned 20-70 degrees, for ~35% more CPU and ~35% more blurred area
    rotated_pass: bool = True
    # a dark keyframe is smoothed and brightened for the face passes (never for the output,
    # keep-face or heads); one with a light in view and much deep shadow is searched both as
    # it is and brightened: redaction.detect.exposure
    dark_lift: bool = True
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
    # found by MoveNet MultiPose (six people a search; redaction/heads.py)
    heads: bool = False
    heads_input: int = 512
    head_threshold: float = 0.15
    # head boxes already reach the hair and ears: less padding than a face box
    head_pad: float = 0.25
    # a keyframe where the head model returns its six people is searched again in this many
    # overlapping parts (0: not): in a classroom or a hallway the seventh child is no less a
    # child (seeds 1-3, keyframes at six: faces under a head box 0.70 -> 0.86; heads mode
    # 1.30x the CPU a frame on those clips; redaction/README "Crowds, searched in parts")
    head_crowd_parts: int = 3
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
    # what the mute ranges sound like in this copy: silence, or a 1 kHz tone (a listener
    # then knows something was taken out, and where)
    mute_sound: Literal["silence", "bleep"] = "silence"

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
        if self.head_crowd_parts not in (0, 2, 3, 4):
            raise InvalidInput("head_crowd_parts must be 0 (not searched in parts), 2, 3 or 4",
                               head_crowd_parts=self.head_crowd_parts)
        if self.mute_sound not in ("silence", "bleep"):
            raise InvalidInput("mute_sound must be silence or bleep", mute_sound=self.mute_sound)
        check_detect_backend(self.detect_backend)
        if self.pad < 0 or self.weak_pad < 0 or self.cells < 2:
            raise InvalidInput("pad and weak_pad must be >= 0 and cells >= 2", pad=self.pad,
                               weak_pad=self.weak_pad, cells=self.cells)
