"""The faces behind a person count, for a custodian to choose who stays visible: each track's
boxes over time (in the displayed frame's pixels) and a few small face thumbnails cropped from
the frames the count decoded (the original's, at most `max_width` wide; an under-exposed one
brightened as the detector saw it, so that a face in night footage can be recognised).

Thumbnails are chosen while frames flow (the track keeps at most `THUMBS_PER_TRACK` small
crops, spread over its time), and become JPEGs when the track ends, so a long video costs a
few kilobytes a track, never its frames. The caller stores them encrypted: they are faces of
children, read like footage.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from redaction.detect import Box

# A strip of a few faces says who a person is; more is more exposure for nothing.
THUMBS_PER_TRACK = 3
THUMBS_PER_PERSON = 4
# Thumbnails at most this many pixels on the long side (a face the size of a list icon).
THUMB_SIDE = 96
# Two thumbnails of one track at least this many seconds apart when the track allows: the
# same face from a moment later says nothing new.
THUMB_GAP_S = 1.0
# Faces are shown with some of the head around them (hair, ears), as a person recognises them.
THUMB_PAD = 0.3
FORMAT = "bwc-people/1"


@dataclass
class Thumb:
    """One candidate thumbnail: where in the video, how good, and its pixels (RGB, small) or,
    once the track has ended, its JPEG."""

    frame: int
    quality: float
    rgb: np.ndarray | None = None
    jpeg: bytes | None = None


@dataclass
class TrackFaces:
    """One track of a person count as the studio needs it: its person (None for a track the
    count did not count: seen too briefly or too weakly), the box of every detection as
    (frame, x0, y0, x1, y1, score) in the displayed frame's pixels, and its thumbnails."""

    id: int
    person: int | None
    obs: list[tuple[int, float, float, float, float, float]]
    thumbs: list[Thumb] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The JSON form kept in the encrypted people object."""
        return {"id": self.id, "person": self.person, "obs": [list(o) for o in self.obs],
                "thumbs": [{"frame": t.frame, "quality": round(t.quality, 1),
                            "jpeg": base64.b64encode(t.jpeg or b"").decode()}
                           for t in self.thumbs if t.jpeg]}


def quality(rgb: np.ndarray, box: Box) -> float:
    """How good a face is to show: its short side (up to 96 px) times the spread of the
    Laplacian at 64 px (motion blur lowers it); 0 for a face mostly outside the frame."""
    h, w = rgb.shape[:2]
    x0, y0 = max(0, int(box.x0)), max(0, int(box.y0))
    x1, y1 = min(w, int(np.ceil(box.x1))), min(h, int(np.ceil(box.y1)))
    if x1 - x0 < 4 or y1 - y0 < 4 or (x1 - x0) * (y1 - y0) < 0.6 * box.w * box.h:
        return 0.0
    grey = cv2.cvtColor(rgb[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY)
    grey = cv2.resize(grey, (64, 64), interpolation=cv2.INTER_AREA)
    return min(box.w, box.h, 96.0) * float(cv2.Laplacian(grey, cv2.CV_32F).std())


def thumbnail(rgb: np.ndarray, box: Box, side: int = THUMB_SIDE) -> np.ndarray:
    """The face with `THUMB_PAD` of its size around it, at most `side` px on the long side."""
    h, w = rgb.shape[:2]
    px, py = box.w * THUMB_PAD, box.h * THUMB_PAD
    x0, y0 = max(0, int(box.x0 - px)), max(0, int(box.y0 - py))
    x1, y1 = min(w, int(np.ceil(box.x1 + px))), min(h, int(np.ceil(box.y1 + py)))
    crop = rgb[y0:y1, x0:x1]
    scale = min(1.0, side / max(crop.shape[0], crop.shape[1]))
    if scale < 1.0:
        size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
        crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(crop)


def offer(thumbs: list[Thumb], cand: Thumb, *, keep: int, min_gap: int) -> bool:
    """Keep `cand` in `thumbs` if it is among the `keep` best, spread at least `min_gap`
    frames apart (a better face close to a kept one replaces it); returns whether it was
    kept. Its pixels are taken by the caller only when it was."""
    if cand.quality <= 0:
        return False
    near = [t for t in thumbs if abs(t.frame - cand.frame) < min_gap]
    if near:
        if all(cand.quality > t.quality for t in near):
            for t in near:
                thumbs.remove(t)
            thumbs.append(cand)
            return True
        return False
    thumbs.append(cand)
    thumbs.sort(key=lambda t: -t.quality)
    if len(thumbs) > keep:
        dropped = thumbs.pop()
        return dropped is not cand
    return True


def seal(thumbs: list[Thumb]) -> None:
    """Turn each kept thumbnail's pixels into a JPEG (at a track's end: no pixels are kept)."""
    for t in thumbs:
        if t.rgb is not None and t.jpeg is None:
            ok, buf = cv2.imencode(".jpg", cv2.cvtColor(t.rgb, cv2.COLOR_RGB2BGR),
                                   [cv2.IMWRITE_JPEG_QUALITY, 80])
            assert ok, "JPEG encoding of a decoded crop cannot fail"
            t.jpeg = buf.tobytes()
        t.rgb = None


def best(thumbs: Sequence[Thumb], n: int) -> list[Thumb]:
    """The `n` best thumbnails, in time order."""
    return sorted(sorted(thumbs, key=lambda t: -t.quality)[:n], key=lambda t: t.frame)


def people_document(*, faces: Sequence[TrackFaces], width: int, height: int, fps: float,
                    frames_total: int, sample_every: int,
                    cuts: Sequence[int] = ()) -> dict[str, Any]:
    """The people object's content: every track's boxes and thumbnails (`FORMAT`), how far
    apart its samples are and where the picture cut (frames)."""
    return {"format": FORMAT, "width": width, "height": height, "fps": fps,
            "frames_total": frames_total, "sample_every": sample_every, "cuts": list(cuts),
            "tracks": [f.to_json() for f in faces]}
