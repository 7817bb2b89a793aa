"""Pure frame functions on I420 (yuv420p) frames: pad boxes, blur regions, black out.

Frames travel as ffmpeg's raw yuv420p bytes (even width and height), so only the pixels
under a box are touched and no colour conversion is paid for the whole frame.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from redaction.detect import Box

IntBox = tuple[int, int, int, int]  # x0, y0, x1, y1, clipped to the frame, even-aligned
_SAMPLES_PER_CELL = 8


def planes(buf: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Y, U and V views into a flat I420 frame buffer (writes go to `buf`)."""
    ys = width * height
    cs = ys // 4
    y = buf[:ys].reshape(height, width)
    u = buf[ys:ys + cs].reshape(height // 2, width // 2)
    v = buf[ys + cs:ys + 2 * cs].reshape(height // 2, width // 2)
    return y, u, v


def to_rgb(buf: np.ndarray, width: int, height: int) -> np.ndarray:
    """An RGB copy of an I420 frame (for the detector and keep-face)."""
    return cv2.cvtColor(buf.reshape(height * 3 // 2, width), cv2.COLOR_YUV2RGB_I420)


def pad_box(b: Box, pad: float, width: int, height: int, *, min_size: int = 8) -> IntBox | None:
    """`b` padded by `pad` of its size per side (more above for hair, as faces go), clipped
    to the frame and aligned to even pixels for the half-size chroma planes; None if empty."""
    w, h = max(b.w, min_size), max(b.h, min_size)
    cx, cy = b.cx, b.cy
    x0 = cx - w / 2 - pad * w
    x1 = cx + w / 2 + pad * w
    y0 = cy - h / 2 - pad * 1.3 * h
    y1 = cy + h / 2 + pad * h
    return clip_box(x0, y0, x1, y1, width, height)


def clip_box(x0: float, y0: float, x1: float, y1: float, width: int,
             height: int) -> IntBox | None:
    """Float edges -> an even-aligned integer box inside the frame, or None if empty."""
    ix0 = max(0, int(np.floor(x0)) & ~1)
    iy0 = max(0, int(np.floor(y0)) & ~1)
    ix1 = min(width, (int(np.ceil(x1)) + 1) & ~1)
    iy1 = min(height, (int(np.ceil(y1)) + 1) & ~1)
    if ix1 - ix0 < 2 or iy1 - iy0 < 2:
        return None
    return ix0, iy0, ix1, iy1


def _touch(a: IntBox, b: IntBox) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def group_boxes(boxes: list[IntBox]) -> list[list[IntBox]]:
    """Boxes grouped into connected sets of overlapping or touching boxes."""
    groups: list[list[IntBox]] = []
    for b in boxes:
        hits = [g for g in groups if any(_touch(b, m) for m in g)]
        joined = [b] + [m for g in hits for m in g]
        groups = [g for g in groups if not any(g is h for h in hits)] + [joined]
    return groups


def merge_boxes(boxes: list[IntBox]) -> list[IntBox]:
    """The bounding box of each group of overlapping boxes."""
    return [_bounds(g) for g in group_boxes(boxes)]


def _bounds(g: list[IntBox]) -> IntBox:
    return (min(b[0] for b in g), min(b[1] for b in g), max(b[2] for b in g),
            max(b[3] for b in g))


# From this many pixels, cell means come from an integral image: INTER_AREA at a fractional
# ratio costs ~6x more on a large box (measured: 1.6 vs 0.28 ms on a 600x700 one, ~35% of
# all blur time at 1080p), and below it the integral's numpy overhead is the larger cost.
_INTEGRAL_FROM = 160 * 160


def _cell_means(roi: np.ndarray, sw: int, sh: int) -> np.ndarray:
    """The mean of each of `sw` x `sh` cells of `roi` (cell edges rounded to whole pixels;
    within 1-2 grey levels of INTER_AREA's, same geometry)."""
    h, w = roi.shape
    ii = cv2.integral(roi)
    xs = np.rint(np.arange(sw + 1) * (w / sw)).astype(np.intp)
    ys = np.rint(np.arange(sh + 1) * (h / sh)).astype(np.intp)
    s = ii[np.ix_(ys, xs)]
    total = s[1:, 1:] - s[:-1, 1:] - s[1:, :-1] + s[:-1, :-1]
    area = np.outer(np.diff(ys), np.diff(xs))
    means: np.ndarray = ((total + area // 2) // area).astype(np.uint8)
    return means


@lru_cache(maxsize=64)
def _gaussian(sigma: float) -> np.ndarray:
    """The kernel cv2.GaussianBlur would use on uint8 for `sigma`, as float32: applied with
    sepFilter2D it smooths the same in ~1/5 of the time (measured: GaussianBlur's bit-exact
    uint8 path at sigma 4 was ~40% of all blur time)."""
    return cv2.getGaussianKernel(round(sigma * 6 + 1) | 1, sigma, cv2.CV_32F)


def _obliterate(roi: np.ndarray, cells: int) -> None:
    """Replace `roi` in place by a smooth image of at most `cells` samples across its longer
    side: pixelate, then Gaussian-smooth the blocks. Nothing finer survives."""
    h, w = roi.shape
    if h < 2 or w < 2:
        roi[:] = int(roi.mean())
        return
    step = max(2.0, max(w, h) / cells)
    sw, sh = max(1, round(w / step)), max(1, round(h / step))
    if h * w >= _INTEGRAL_FROM:
        small = _cell_means(roi, sw, sh)
    else:
        small = cv2.resize(roi, (sw, sh), interpolation=cv2.INTER_AREA)
    # smooth the cells with a Gaussian of half a cell at a fixed 8 samples per cell, then
    # bilinear up: no block edges, nothing finer than a cell, and a cost that does not grow
    # with the box (measured: smoothing at a quarter of the box size was ~70% of all blur
    # time on group scenes)
    mw, mh = min(w, sw * _SAMPLES_PER_CELL), min(h, sh * _SAMPLES_PER_CELL)
    mid = cv2.resize(small, (mw, mh), interpolation=cv2.INTER_LINEAR)
    k = _gaussian(max(0.5, 0.5 * mw / sw))
    mid = cv2.sepFilter2D(mid, -1, k, k)
    roi[:] = cv2.resize(mid, (w, h), interpolation=cv2.INTER_LINEAR)


def blur_box(buf: np.ndarray, width: int, height: int, box: IntBox, *, cells: int = 6) -> None:
    """Make everything inside `box` unrecognisable, in place, on all three planes."""
    x0, y0, x1, y1 = box
    y, u, v = planes(buf, width, height)
    _obliterate(y[y0:y1, x0:x1], cells)
    cx0, cy0, cx1, cy1 = x0 // 2, y0 // 2, x1 // 2, y1 // 2
    if cx1 > cx0 and cy1 > cy0:
        _obliterate(u[cy0:cy1, cx0:cx1], cells)
        _obliterate(v[cy0:cy1, cx0:cx1], cells)


def blur_boxes(buf: np.ndarray, width: int, height: int, boxes: list[IntBox], *,
               cells: int = 6) -> None:
    """Blur the union of `boxes`, in place. Overlapping boxes are blurred as one image and
    only their union is written back: no sharp seam where two blurred boxes meet, and no
    background outside the boxes touched."""
    for g in group_boxes(boxes):
        if len(g) == 1:
            blur_box(buf, width, height, g[0], cells=cells)
            continue
        x0, y0, x1, y1 = _bounds(g)
        mask = np.zeros((y1 - y0, x1 - x0), bool)
        for bx0, by0, bx1, by1 in g:
            mask[by0 - y0:by1 - y0, bx0 - x0:bx1 - x0] = True
        cmask = mask[::2, ::2]
        for plane, m, s in zip(planes(buf, width, height), (mask, cmask, cmask), (1, 2, 2),
                               strict=True):
            roi = plane[y0 // s:y1 // s, x0 // s:x1 // s]
            tmp = roi.copy()
            _obliterate(tmp, cells)
            np.copyto(roi, tmp, where=m)


def fill_box(buf: np.ndarray, width: int, height: int, box: IntBox) -> None:
    """Paint `box` black, in place."""
    x0, y0, x1, y1 = box
    y, u, v = planes(buf, width, height)
    y[y0:y1, x0:x1] = 16
    u[y0 // 2:y1 // 2, x0 // 2:x1 // 2] = 128
    v[y0 // 2:y1 // 2, x0 // 2:x1 // 2] = 128


def blackout(buf: np.ndarray, width: int, height: int) -> None:
    """Paint the whole frame black, in place."""
    fill_box(buf, width, height, (0, 0, width, height))


def sharpness(gray: np.ndarray) -> float:
    """Variance of the Laplacian: high for detail, near zero for a blurred region."""
    if gray.size == 0:
        return 0.0
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def detail_kept(reference: np.ndarray, output: np.ndarray) -> float:
    """How much of `reference`'s detail is still in `output` (the same region of the same
    frame, grey): the output's Laplacian projected on the reference's, over the reference's
    energy. 1 for the same picture (also under added noise or inverted), ~0 once blurred, the
    untouched share's energy where part of the region is left. A region without detail
    (energy 0) has none to keep: 0.

    The two must be aligned to the pixel (a 1 px shift of a sharp face reads as blurred),
    and `reference` should be the output an unblurring run of the same pipeline gives: the
    encoder alone removes much of a smeared or dark face's fine detail, which compared with
    the source would read as blurred (the bench's reference, README "Recall, the measure").

    `sharpness(output) / sharpness(source)` counts any detail, also detail the source
    never had: the edge where a blur box ends inside the region, the encoder's noise on a
    blurred patch of a face that was itself smeared to almost nothing. Those made blurred
    faces count as sharp."""
    if reference.shape != output.shape:
        raise ValueError(f"regions of different shapes: {reference.shape} and {output.shape}")
    if reference.size == 0:
        return 0.0
    a = cv2.Laplacian(reference, cv2.CV_64F)
    b = cv2.Laplacian(output, cv2.CV_64F)
    a -= a.mean()
    b -= b.mean()
    energy = float((a * a).mean())
    return abs(float((a * b).mean())) / energy if energy > 0 else 0.0
