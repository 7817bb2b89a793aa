"""Scoring a redacted copy against make_clip's truth boxes, face by face, as
`bench/redaction.py` scores recall: a face is blurred in a frame when the variance of the
Laplacian inside its truth box falls to at most `BLURRED` of the original's, and sharp when
it keeps at least `SHARP` of it (a kept face beside others loses some to their blurred boxes,
which are padded and win where they overlap it: measured 0.55-0.6 on a classroom photo).

make_clip's truth lists each frame's faces in the photo's label order, leaving out faces
mostly outside the frame; `identities` gives each box a stable identity (segment, label
index), so one child can be followed through the clip."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from redaction.blur import sharpness

BLURRED = 0.35
SHARP = 0.5
Ident = tuple[int, int]  # (segment, label index in its photo)


def iou_xywh(a: Sequence[float], b: Sequence[float]) -> float:
    """IoU of two [x, y, w, h] boxes."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def identities(truth: dict[str, Any]) -> list[list[Ident]]:
    """Each truth box's identity, frame by frame: by label order where a frame shows all of
    its photo's faces, else by the nearest box of the same face a frame before."""
    out: list[list[Ident]] = []
    frames = truth["frames"]
    for si, seg in enumerate(truth["segments"]):
        last: dict[Ident, Sequence[float]] = {}
        for f in range(seg["start"], seg["start"] + seg["frames"]):
            boxes = frames[f]
            if len(boxes) == seg["faces"]:
                ids = [(si, i) for i in range(len(boxes))]
            else:
                ids = []
                for b in boxes:
                    free = [k for k in last if k not in ids] or [(si, -1 - len(ids))]
                    ids.append(max(free, key=lambda k: iou_xywh(b, last[k]) if k in last
                                   else -1.0))
            last.update(zip(ids, boxes, strict=True))
            out.append(ids)
    return out


def identity_of(obs: Sequence[Sequence[float]], truth: dict[str, Any],
                ids: list[list[Ident]]) -> Ident:
    """The truth face a track of the person count follows (most frames at IoU > 0.3)."""
    votes: dict[Ident, int] = {}
    for frame, x0, y0, x1, y1, *_ in obs:
        f = int(frame)
        for ident, b in zip(ids[f], truth["frames"][f], strict=True):
            if iou_xywh([x0, y0, x1 - x0, y1 - y0], b) > 0.3:
                votes[ident] = votes.get(ident, 0) + 1
    return max(votes, key=lambda k: votes[k])


@dataclass
class Score:
    """What the copy did with each face: kept faces' frames sharp, others' blurred."""

    kept_frames: int = 0
    kept_sharp: int = 0
    other_boxes: int = 0
    other_blurred: int = 0
    box_frames: int = 0
    box_blurred: int = 0
    missed: list[tuple[int, Ident]] = field(default_factory=list)

    @property
    def kept_share(self) -> float:
        return self.kept_sharp / self.kept_frames if self.kept_frames else 0.0

    @property
    def recall(self) -> float:
        return self.other_blurred / self.other_boxes if self.other_boxes else 1.0


def _ratio(a: np.ndarray, b: np.ndarray, box: Sequence[float]) -> float | None:
    x, y, w, h = box
    x0, y0 = max(0, int(x)), max(0, int(y))
    x1, y1 = int(np.ceil(x + w)), int(np.ceil(y + h))
    s0 = sharpness(a[y0:y1, x0:x1])
    return None if s0 <= 1.0 else sharpness(b[y0:y1, x0:x1]) / s0


def score(original: Path, redacted: Path, truth: dict[str, Any], kept: set[Ident],
          regions: Sequence[tuple[float, float, Sequence[float]]] = ()) -> Score:
    """Frame by frame: the `kept` faces sharp, every other face blurred, and each manual
    region (start s, end s, [x, y, w, h]) blurred while it is on."""
    ids = identities(truth)
    fps = float(truth["fps"])
    a, b = cv2.VideoCapture(str(original)), cv2.VideoCapture(str(redacted))
    out = Score()
    for f, boxes in enumerate(truth["frames"]):
        ok1, fa = a.read()
        ok2, fb = b.read()
        if not (ok1 and ok2):
            break
        ga, gb = cv2.cvtColor(fa, cv2.COLOR_BGR2GRAY), cv2.cvtColor(fb, cv2.COLOR_BGR2GRAY)
        for ident, box in zip(ids[f], boxes, strict=True):
            r = _ratio(ga, gb, box)
            if r is None:
                continue
            if ident in kept:
                out.kept_frames += 1
                out.kept_sharp += r >= SHARP
            else:
                out.other_boxes += 1
                out.other_blurred += r <= BLURRED
                if r > BLURRED:
                    out.missed.append((f, ident))
        for start, end, box in regions:
            if start <= f / fps <= end:
                r = _ratio(ga, gb, box)
                if r is not None:
                    out.box_frames += 1
                    out.box_blurred += r <= BLURRED
    return out
