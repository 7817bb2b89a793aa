"""Whole heads from MoveNet MultiPose keypoints: the heads mode blurs hair, ears and the back
of the head of every person, including people whose face is never seen.

No installable package ships a head detector; MoveNet MultiPose Lightning (Apache-2.0,
converted to ONNX at build time by `bench/convert_movenet.py`) finds up to six people
with 17 keypoints each. A head follows from the nose, eyes, ears and shoulders: its size
from the widest of ear span, eye span and shoulder width, its place from the head points
seen, or above the shoulders when none is (a person seen from behind).

Limit: six people a search. A frame where the model returns six is searched again in
overlapping parts along its long side (`crowd_parts`, 3 by default), each part with its own
six and seen larger; a keyframe where a part still returns six may hold people no search
found, and is flagged for the reviewer (`crowd_limit`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, NamedTuple

import cv2
import numpy as np

from redaction.detect import (
    BACKENDS,
    Box,
    OpenVinoNetwork,
    file_sha256,
    intersection,
    onnxruntime_options,
    runs_bfloat16,
)
from redaction.errors import ToolMissing

MODEL_PATH = Path(__file__).with_name("models") / "movenet_multipose.onnx"
MAX_PEOPLE = 6
INPUT, OUTPUT = "input:0", "Identity:0"  # the converted model's tensor names
# each part of a crowded frame reaches this share of the long side past its even share,
# so that a person on a seam is whole in one part
PART_OVERLAP = 0.25
# a part's network input (long side), at least: at 384 a third of a 16:9 frame is seen a
# little larger than the whole frame at 512, and finds the heads 512 does (seeds 1-3: 979
# of the labelled faces under a head box against 980) for 0.78 of its CPU (README "Heads
# mode"); never smaller than the whole frame's scale (a larger `heads_input`)
PART_INPUT_LONG = 384
# COCO keypoint order: nose, left eye, right eye, left ear, right ear, shoulders
NOSE, L_EYE, R_EYE, L_EAR, R_EAR, L_SHOULDER, R_SHOULDER = range(7)


def head_box(kp: np.ndarray, min_score: float, max_size: float = math.inf) -> Box | None:
    """The head of one person from keypoints (17, 3) as (x, y, score) in frame pixels, or
    None when neither head points nor both shoulders are seen. The box is the head itself
    (about one head wide, 1.25 tall); the pipeline pads it like a face box."""
    seen = kp[:, 2] >= min_score
    sizes = []
    if seen[L_EAR] and seen[R_EAR]:
        sizes.append(1.2 * math.dist(kp[L_EAR, :2], kp[R_EAR, :2]))
    if seen[L_EYE] and seen[R_EYE]:
        sizes.append(2.6 * math.dist(kp[L_EYE, :2], kp[R_EYE, :2]))
    shoulders = bool(seen[L_SHOULDER] and seen[R_SHOULDER])
    if shoulders and not sizes:  # head points say the size better when they are seen
        sizes.append(0.55 * math.dist(kp[L_SHOULDER, :2], kp[R_SHOULDER, :2]))
    head_pts = [i for i in (NOSE, L_EYE, R_EYE, L_EAR, R_EAR) if seen[i]]
    if len(head_pts) >= 2 and not sizes:  # e.g. nose and one eye: a head in profile
        pts = kp[head_pts, :2]
        sizes.append(2.5 * float(np.max(np.ptp(pts, axis=0))))
    if not sizes or (not head_pts and not shoulders):
        return None
    # keypoints of two people mixed up can make a giant "head": no larger than `max_size`
    size = min(max(sizes), max_size)
    if head_pts:
        cx, cy = (float(v) for v in kp[head_pts, :2].mean(axis=0))
        cy -= 0.1 * size  # the points sit low in the head: hair is above them
        score = float(kp[head_pts, 2].max())
    else:  # seen from behind: the head sits on the shoulders
        cx = float(kp[[L_SHOULDER, R_SHOULDER], 0].mean())
        cy = float(kp[[L_SHOULDER, R_SHOULDER], 1].mean()) - 0.75 * size
        score = float(kp[[L_SHOULDER, R_SHOULDER], 2].min())
    if size < 4:
        return None
    return Box(cx - size / 2, cy - 0.625 * size, cx + size / 2, cy + 0.625 * size, score)


def openvino_runner(model: Path, threads: int, precision: str = "bf16") -> OpenVinoNetwork:
    """MoveNet by OpenVINO ("f32" only for tests on CPUs without bfloat16): its input as
    the onnxruntime session takes it, int32 rows of RGB pixels."""
    return OpenVinoNetwork(model, threads, precision, input_name=INPUT, outputs=(OUTPUT,),
                            channels_first=False)


class HeadFinds(NamedTuple):
    """The heads found in one frame."""

    boxes: list[Box]
    crowded: bool  # the whole frame gave the model's six people: searched in parts too
    at_limit: bool  # still six in a search (a part, or the whole frame without parts)


def crowd_parts(width: int, height: int, parts: int) -> list[tuple[int, int, int, int]]:
    """`parts` overlapping (x0, y0, x1, y1) strips along the long side of a frame, each
    1/parts + PART_OVERLAP of it."""
    long = max(width, height)
    if parts < 2:
        return [(0, 0, width, height)]
    size = min(long, round(long * (1 / parts + PART_OVERLAP)))
    starts = [round(i * (long - size) / (parts - 1)) for i in range(parts)]
    if width >= height:
        return [(a, 0, a + size, height) for a in starts]
    return [(0, a, width, a + size) for a in starts]


def merge_heads(boxes: list[Box], overlap: float = 0.3, nested: float = 0.5) -> list[Box]:
    """One box per head from several searches. Two boxes are one head when they overlap by
    `overlap` (IoU) or one lies `nested` of its own area inside the other (a head seen at
    another size, or cut by a strip's edge); the better-scored one stands for it, grown to
    cover both, so that nothing either search covered goes unblurred. Each box is compared
    with the ones kept as they were found, so growth never chains into a neighbour's."""
    kept: list[Box] = []  # as found: what later boxes are compared with
    grown: list[Box] = []  # what is returned
    for b in sorted(boxes, key=lambda b: -b.score):
        if any(g.x0 <= b.x0 and g.y0 <= b.y0 and b.x1 <= g.x1 and b.y1 <= g.y1 for g in grown):
            continue  # covered already: another search's view of a head joined above
        for i, o in enumerate(kept):
            inter = intersection(b, o)
            if (inter >= nested * min(b.w * b.h, o.w * o.h)
                    or inter >= overlap * (b.w * b.h + o.w * o.h - inter)):
                g = grown[i]
                grown[i] = Box(min(b.x0, g.x0), min(b.y0, g.y0), max(b.x1, g.x1),
                               max(b.y1, g.y1), g.score)
                break
        else:
            kept.append(b)
            grown.append(b)
    return grown


class HeadDetector:
    """MoveNet MultiPose (up to six people) on a downscaled frame -> head boxes.

    `input_long` is the long side of the network input (a multiple of 32): people smaller
    than ~1/10 of the frame height are not found at 512 on a 16:9 frame. A frame where it
    returns six is searched again in `crowd_parts` overlapping parts (0: not).

    `backend` as the face detector's: "auto" runs the model in bfloat16 by OpenVINO where
    the CPU computes bfloat16 natively (0.55 of the float32 call, the same heads over the
    bench's labelled faces: README "Heads in bfloat16"), else in float32 by onnxruntime
    (also for "float32", "onnxruntime" and "opencv", which has no MoveNet runtime here)."""

    name = "movenet_multipose"

    def __init__(self, *, input_long: int = 512, threshold: float = 0.15,
                 keypoint_threshold: float = 0.2, threads: int = 1, crowd_parts: int = 3,
                 backend: str = "auto", model: Path = MODEL_PATH) -> None:
        if not model.is_file():
            raise ToolMissing(f"head model missing: {model}", path=str(model))
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}")
        self.model = model
        self.input_long = input_long
        self.threshold = threshold
        self.keypoint_threshold = keypoint_threshold
        self.crowd_parts = crowd_parts
        self._ov: OpenVinoNetwork | None = None
        self._sess: Any = None
        if runs_bfloat16(backend):  # refuses openvino-bf16 where the CPU cannot
            self._ov = openvino_runner(model, threads)
        else:
            import onnxruntime as ort

            self._sess = ort.InferenceSession(str(model), onnxruntime_options(threads),
                                              providers=["CPUExecutionProvider"])
        self.runtime = "openvino-bf16" if self._ov is not None else "onnxruntime"

    @property
    def model_sha256(self) -> str:
        return file_sha256(self.model)

    def input_size(self, width: int, height: int, long: int | None = None) -> tuple[int, int]:
        """Network input (w, h): the long side `long` (`input_long`), both multiples of 32."""
        scale = (long or self.input_long) / max(width, height)
        return (max(32, round(width * scale / 32) * 32), max(32, round(height * scale / 32) * 32))

    def people(self, rgb: np.ndarray, long: int | None = None) -> np.ndarray:
        """MoveNet's raw people (6, 56) for an RGB frame, keypoints in frame pixels (the
        network input's long side `long`, else `input_long`)."""
        h, w = rgb.shape[:2]
        in_w, in_h = self.input_size(w, h, long)
        x = cv2.resize(rgb, (in_w, in_h), interpolation=cv2.INTER_AREA).astype(np.int32)
        if self._ov is not None:
            out: np.ndarray = self._ov.run(x)[0][0]
        else:
            out = self._sess.run(None, {INPUT: x[None]})[0][0].copy()
        kp = out[:, :51].reshape(-1, 17, 3)
        kp[:, :, 0] *= h  # y
        kp[:, :, 1] *= w  # x
        out[:, :51] = kp.reshape(-1, 51)
        return out

    def __call__(self, rgb: np.ndarray) -> list[Box]:
        """Head boxes of the people scoring at least `threshold`, in frame pixels."""
        return self.find(rgb).boxes

    def find(self, rgb: np.ndarray) -> HeadFinds:
        """Head boxes as `__call__`; where the whole frame gives six people, also those of
        each part (one head found by two searches is one box: `merge_heads`)."""
        boxes, crowded = self._search(rgb)
        if not crowded or self.crowd_parts < 2:
            return HeadFinds(boxes, crowded, crowded)
        at_limit = False
        h, w = rgb.shape[:2]
        for x0, y0, x1, y1 in crowd_parts(w, h, self.crowd_parts):
            part_long = max(x1 - x0, y1 - y0)
            long = max(PART_INPUT_LONG,
                       math.ceil(self.input_long * part_long / max(w, h) / 32) * 32)
            found, full = self._search(rgb[y0:y1, x0:x1], long)
            at_limit |= full
            boxes += [Box(b.x0 + x0, b.y0 + y0, b.x1 + x0, b.y1 + y0, b.score) for b in found]
        return HeadFinds(merge_heads(boxes), True, at_limit)

    def _search(self, rgb: np.ndarray, long: int | None = None) -> tuple[list[Box], bool]:
        """One search: the head boxes, and whether the model returned all six people it can
        (more may be in the picture, unseen)."""
        people = self.people(rgb, long)
        found = people[people[:, 55] >= self.threshold]
        out: list[Box] = []
        h, w = rgb.shape[:2]
        for p in found:
            kp = p[:51].reshape(17, 3)[:, [1, 0, 2]]  # (x, y, score)
            # a head is at most ~0.6 of its person's box (a head-and-shoulders view)
            person = max((p[53] - p[51]) * h, (p[54] - p[52]) * w)
            b = head_box(kp, self.keypoint_threshold, max_size=max(16.0, 0.6 * person))
            if b is not None:
                out.append(Box(b.x0, b.y0, b.x1, b.y1, float(p[55])))
        return out, len(found) >= MAX_PEOPLE

    def info(self) -> dict[str, Any]:
        """What the manifest records about the head model."""
        return {"name": self.name, "runtime": self.runtime, "model_sha256": self.model_sha256,
                "input_long": self.input_long, "threshold": self.threshold,
                "keypoint_threshold": self.keypoint_threshold, "max_people": MAX_PEOPLE,
                "crowd_parts": self.crowd_parts, "crowd_part_input_min": PART_INPUT_LONG}
