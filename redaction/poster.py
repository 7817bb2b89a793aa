"""A poster frame: one small still of a recording for the custodian's list, with every face
the detector finds in it blurred.

The list is read by every staff role, including auditors who may not watch originals, so the
poster shows the scene (place, light, how many people) and never a face that the detector
saw: faces are found on the full frame with a low threshold and padded before the frame is
shrunk, the same obliteration the redaction uses. It is still a frame of an original: the
caller stores it encrypted and logs who saw it.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

import cv2
import numpy as np

from redaction.blur import clip_box
from redaction.detect import Detector, make_detector
from redaction.errors import CorruptVideo
from redaction.media import require_tools

POSTER_WIDTH = 320
# Lower than the redaction's own threshold and padded more: a poster has no tracker to
# carry a face the detector half-sees, and a blurred patch of wall costs nothing.
POSTER_THRESHOLD = 0.05
POSTER_PAD = 0.4


@dataclass(frozen=True)
class Poster:
    """The JPEG, where in the recording it was taken and how many faces were blurred."""

    jpeg: bytes
    at_seconds: float
    faces_blurred: int
    width: int
    height: int


def poster_time(duration_s: float | None) -> float:
    """A third of the way in (past a camera's first moments of settling), at most 30 s."""
    if not duration_s or duration_s <= 0:
        return 0.0
    return round(min(duration_s / 3, 30.0), 3)


def grab_frame(src: str, at_seconds: float) -> np.ndarray:
    """The upright frame (display rotation applied) at `at_seconds` of `src`, as RGB."""
    require_tools()
    out = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-ss", f"{at_seconds:.3f}", "-i", src,
         "-frames:v", "1", "-f", "image2pipe", "-c:v", "png", "-"],
        capture_output=True, check=False, timeout=120)
    frame = cv2.imdecode(np.frombuffer(out.stdout, np.uint8), cv2.IMREAD_COLOR) \
        if out.stdout else None
    if frame is None:
        raise CorruptVideo(f"no frame could be read at {at_seconds:.3f} s",
                           stderr=out.stderr.decode(errors="replace")[-500:])
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def _obliterate_rgb(roi: np.ndarray, cells: int = 5) -> None:
    """Replace `roi` by a few blurred samples across it (nothing of a face survives)."""
    h, w = roi.shape[:2]
    if h < 2 or w < 2:
        roi[:] = roi.reshape(-1, 3).mean(axis=0).astype(roi.dtype)
        return
    step = max(2.0, max(w, h) / cells)
    small = cv2.resize(roi, (max(1, round(w / step)), max(1, round(h / step))),
                       interpolation=cv2.INTER_AREA)
    roi[:] = cv2.GaussianBlur(cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR),
                              (0, 0), max(1.0, step / 2))


def make_poster(src: str, *, duration_s: float | None, detector: Detector | None = None,
                width: int = POSTER_WIDTH) -> Poster:
    """The poster of the video at `src` (a path or the vault's loopback URL)."""
    at = poster_time(duration_s)
    rgb = grab_frame(src, at)
    h, w = rgb.shape[:2]
    found = (detector or make_detector("centerface", threshold=POSTER_THRESHOLD,
                                       backend="float32"))(rgb)
    for box in found:
        px, py = box.w * POSTER_PAD, box.h * POSTER_PAD
        clipped = clip_box(box.x0 - px, box.y0 - py, box.x1 + px, box.y1 + py, w, h)
        if clipped is not None:
            x0, y0, x1, y1 = clipped
            _obliterate_rgb(rgb[y0:y1, x0:x1])
    out_w = min(width, w)
    out_h = max(2, round(h * out_w / w))
    small = cv2.resize(rgb, (out_w, out_h), interpolation=cv2.INTER_AREA)
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, 72])
    assert ok, "JPEG encoding of a decoded frame cannot fail"
    return Poster(jpeg=jpeg.tobytes(), at_seconds=at, faces_blurred=len(found),
                  width=out_w, height=out_h)
