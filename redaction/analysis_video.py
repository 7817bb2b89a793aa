"""Video side of the person count: probe, sampled frames, camera motion, cut detection (face
crops and encodings: `redaction.encoders`)."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path, PurePath

import cv2
import ffmpeg
import numpy as np

from redaction import media
from redaction.detect import Box
from redaction.errors import CorruptVideo
from redaction.ffio import FFmpegProcess, read_frame


def probe(src: str) -> tuple[int, int, Fraction, int | None]:
    """(displayed width, height, frame rate, frame count or None) of the video at `src` (a
    path or a URL), with the redactor's checks and error codes (`redaction.media.probe`):
    what cannot be redacted cannot be counted either."""
    source = media.MediaSource(src, PurePath(src).name) if "://" in src else Path(src)
    info = media.probe(source)
    return info.width, info.height, info.fps, info.nb_frames


def sample_size(width: int, height: int, max_width: int) -> tuple[int, int]:
    """The (even) size sampled frames are decoded at: at most `max_width` wide."""
    scale = min(1.0, max_width / width)
    return (max(2, int(round(width * scale / 2)) * 2),
            max(2, int(round(height * scale / 2)) * 2))


def sampled_frames(src: str, *, every: int, max_width: int, width: int, height: int
                   ) -> Iterator[tuple[int, np.ndarray]]:
    """(source frame number, RGB frame) for every `every`-th frame, streamed from ffmpeg."""
    out_w, out_h = sample_size(width, height, max_width)
    v = ffmpeg.input(src).video.filter("select", f"not(mod(n,{every}))")
    v = v.filter("scale", out_w, out_h)
    node = v.output("pipe:", format="rawvideo", pix_fmt="rgb24", fps_mode="passthrough")
    proc = FFmpegProcess(node, stdin=False, stdout=True)
    size = out_w * out_h * 3
    k = 0
    try:
        assert proc.proc.stdout is not None
        while (buf := read_frame(proc.proc.stdout, size)) is not None:
            yield k * every, buf.reshape(out_h, out_w, 3)
            k += 1
    finally:
        proc.kill() if proc.proc.poll() is None else None
        rc = proc.wait()
    if rc != 0 and k == 0:
        raise CorruptVideo("ffmpeg could not decode the video", stderr=proc.tail(),
                           args=proc.args)


def encodable(box: Box, width: int, height: int, min_size: int) -> bool:
    """Whether a face is big enough to encode and not cut by the frame edge (a cut face's
    encoding was measured to wander 0.5-0.8 from the same face's next one)."""
    return (min(box.w, box.h) >= min_size and box.x0 > 1 and box.y0 > 1
            and box.x1 < width - 1 and box.y1 < height - 1)


def motion_grey(rgb: np.ndarray, width: int = 320) -> tuple[np.ndarray, float]:
    """A small grey copy of the frame for motion estimation, and its scale to the frame."""
    scale = min(1.0, width / rgb.shape[1])
    size = (max(16, round(rgb.shape[1] * scale)), max(16, round(rgb.shape[0] * scale)))
    grey = cv2.cvtColor(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
    return grey, scale


def estimate_motion(prev: np.ndarray, cur: np.ndarray, scale: float) -> np.ndarray | None:
    """The camera's motion from `prev` to `cur` as a 2x3 similarity in frame pixels (corners
    followed by pyramidal Lucas-Kanade, fitted with RANSAC), or None when too few points
    agree (a blank wall, a cut)."""
    pts = cv2.goodFeaturesToTrack(prev, maxCorners=200, qualityLevel=0.01, minDistance=6)
    if pts is None or len(pts) < 12:
        return None
    nxt, status, _ = cv2.calcOpticalFlowPyrLK(prev, cur, pts, None,  # type: ignore[call-overload]
                                              winSize=(21, 21), maxLevel=3)
    ok = status.ravel() == 1
    if int(ok.sum()) < 12:
        return None
    m, inliers = cv2.estimateAffinePartial2D(pts[ok] / scale, nxt[ok] / scale,
                                             method=cv2.RANSAC,
                                             ransacReprojThreshold=2.0 / scale)
    if m is None or inliers is None or int(inliers.sum()) < max(10, int(0.3 * ok.sum())):
        return None
    out: np.ndarray = m
    return out


def histogram(rgb: np.ndarray) -> np.ndarray:
    """A 32-bin grey histogram of a 160x90 thumbnail, for noticing cuts (motion barely
    changes it; a cut does)."""
    grey = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (160, 90),
                      interpolation=cv2.INTER_AREA)
    hist = np.asarray(cv2.calcHist([grey], [0], None, [32], [0, 256]),
                      dtype=np.float32).flatten()
    out: np.ndarray = hist / max(float(np.linalg.norm(hist)), 1e-9)
    return out
