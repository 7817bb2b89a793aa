"""Pure parts: tracking and interpolation, blur functions, regions schema."""

from __future__ import annotations

from fractions import Fraction

import cv2
import numpy as np
import pytest

from redaction.blur import (
    blur_box,
    blur_boxes,
    detail_kept,
    merge_boxes,
    pad_box,
    planes,
    sharpness,
)
from redaction.detect import Box
from redaction.errors import InvalidRegions
from redaction.ffio import codec_threads
from redaction.media import MediaInfo
from redaction.regions import parse_regions
from redaction.track import Tracker


def test_track_interpolates_between_detections_and_persists() -> None:
    t = Tracker(detect_every=4, persist=6, motion_slack=0)
    t.add(96, [])
    t.add(100, [Box(100, 100, 140, 150, 0.9)])
    t.add(104, [Box(120, 100, 160, 150, 0.8)])
    for k in (108, 112, 116):
        t.add(k, [])
    mid = t.boxes_at(102)
    assert len(mid) == 1
    assert mid[0].source == "interpolated"
    assert mid[0].box.x0 == pytest.approx(110)
    assert [b.track for b in t.boxes_at(101) + t.boxes_at(103)] == [mid[0].track] * 2
    # seen before its first detection (it may have been missed at keyframe 96) ...
    assert t.boxes_at(97)[0].source == "held"
    assert t.boxes_at(95) == []
    # ... and held a few frames after its last, growing to cover drift
    held = t.boxes_at(109)
    assert held
    assert held[0].source == "held"
    assert held[0].box.w > 40
    assert t.boxes_at(111) == []


def test_tracks_keep_identity_and_split_far_faces() -> None:
    t = Tracker(detect_every=3, persist=9)
    t.add(0, [Box(0, 0, 50, 50), Box(300, 0, 350, 50)])
    t.add(3, [Box(305, 2, 355, 52), Box(4, 1, 54, 51)])
    a, b = sorted(t.boxes_at(3), key=lambda x: x.box.x0)
    assert (a.track, b.track) == (1, 2)
    t.add(6, [Box(600, 300, 650, 350)])
    assert len({x.track for x in t.boxes_at(6)}) == 3


def test_blur_flattens_only_the_box() -> None:
    w, h = 320, 240
    rng = np.random.default_rng(1)
    buf = rng.integers(0, 255, w * h * 3 // 2, dtype=np.uint8)
    before = buf.copy()
    blur_box(buf, w, h, (40, 60, 140, 180), cells=6)
    y, _, _ = planes(buf, w, h)
    y0, _, _ = planes(before, w, h)
    assert sharpness(y[60:180, 40:140]) < 0.01 * sharpness(y0[60:180, 40:140])
    assert np.array_equal(y[:, 150:], y0[:, 150:])
    assert np.array_equal(y[:50, :], y0[:50, :])


def test_detail_kept_counts_the_original_detail_left_not_new_edges_or_noise() -> None:
    rng = np.random.default_rng(3)
    w, h = 160, 160
    buf = rng.integers(0, 255, w * h * 3 // 2, dtype=np.uint8)
    # a texture of a face's scale of detail (pure noise has far more than any face)
    texture = cv2.GaussianBlur(rng.normal(0, 1, (h, w)), (0, 0), 2)
    planes(buf, w, h)[0][:] = np.clip(128 + texture * 40 / texture.std(), 0, 255)
    face = planes(buf, w, h)[0].copy()
    assert detail_kept(face, face) == pytest.approx(1.0)
    # noise over a face hides nothing, and neither does inverting it
    noisy = np.clip(face + rng.normal(0, 40, face.shape), 0, 255).astype(np.uint8)
    assert detail_kept(face, noisy) > 0.8
    assert detail_kept(face, 255 - face) > 0.99
    # blurred whole: nothing of it left, though the flat patch's own noise is new detail
    blur_box(buf, w, h, (0, 0, w, h), cells=6)
    flat = planes(buf, w, h)[0]
    flat_noise = np.clip(flat + rng.normal(0, 2, flat.shape), 0, 255).astype(np.uint8)
    assert detail_kept(face, flat_noise) < 0.05
    assert sharpness(flat_noise) > 0.35 * sharpness(face)  # the variance test: "sharp"
    # a blur box ending inside the region: the variance test sees the box's edge as detail
    # (more than the original had), while the part left sharp keeps its share
    half = flat.copy()
    half[:, :40] = face[:, :40]  # the left quarter untouched
    half[:, 40] = 0  # a hard edge where the box ends
    assert sharpness(half) > 0.35 * sharpness(face)
    assert detail_kept(face, half) == pytest.approx(0.25, abs=0.05)
    with pytest.raises(ValueError, match="shapes"):  # never a silent "blurred"
        detail_kept(face, half[:, :-1])


def test_pad_box_grows_and_clips_even() -> None:
    b = pad_box(Box(100, 100, 140, 150), 0.3, 640, 360)
    assert b is not None
    x0, y0, x1, y1 = b
    assert x0 <= 88
    assert x1 >= 152
    assert y0 <= 80
    assert y1 >= 165
    assert all(v % 2 == 0 for v in b)
    assert pad_box(Box(630, 350, 660, 380), 0.3, 640, 360) == (620, 338, 640, 360)


def test_merge_boxes_joins_overlaps() -> None:
    assert sorted(merge_boxes([(0, 0, 10, 10), (50, 50, 60, 60), (5, 5, 20, 20),
                               (18, 18, 52, 52)])) == [(0, 0, 60, 60)]
    assert sorted(merge_boxes([(0, 0, 10, 10), (30, 30, 40, 40)])) == [
        (0, 0, 10, 10), (30, 30, 40, 40)]


def test_overlapping_boxes_blur_without_touching_the_gap() -> None:
    w, h = 320, 240
    rng = np.random.default_rng(2)
    buf = rng.integers(0, 255, w * h * 3 // 2, dtype=np.uint8)
    before = buf.copy()
    blur_boxes(buf, w, h, [(20, 20, 100, 100), (90, 90, 200, 200)], cells=6)
    y, _, _ = planes(buf, w, h)
    y0, _, _ = planes(before, w, h)
    assert np.array_equal(y[120:200, 20:80], y0[120:200, 20:80])  # inside the bounds, outside both
    assert sharpness(y[20:200, 90:100]) < 0.01 * sharpness(y0[20:200, 90:100])


@pytest.mark.parametrize("doc", [
    {"boxes": [{"start": 2, "end": 1, "box": [0, 0, 10, 10]}]},
    {"boxes": [{"start": 0, "end": 1, "box": [0, 0, 0, 10]}]},
    {"mute": [{"start": -1, "end": 1}]},
    {"blackout": [{"start": 0}]},
    {"box": []},
    [1, 2],
])
def test_invalid_regions_are_refused(doc: object) -> None:
    with pytest.raises(InvalidRegions) as ei:
        parse_regions(doc)
    assert ei.value.code == "invalid_regions"
    assert ei.value.details["problems"]


def test_regions_outside_frame_refused() -> None:
    r = parse_regions({"boxes": [{"start": 0, "end": 1, "box": [700, 10, 20, 20]}]})
    with pytest.raises(InvalidRegions):
        r.check_fits(640, 360, 10.0)


def test_blur_leaves_no_block_edges_at_any_box_size() -> None:
    rng = np.random.default_rng(3)
    for side in (24, 90, 400):
        roi = rng.integers(0, 255, (side, side), dtype=np.uint8)
        w = h = side
        buf = np.zeros(w * h * 3 // 2, np.uint8)
        planes(buf, w, h)[0][:] = roi
        blur_box(buf, w, h, (0, 0, w, h), cells=6)
        y = planes(buf, w, h)[0].astype(int)
        # blocky pixelation (nearest-neighbour cells) jumps by tens of grey levels at cell edges;
        # the smoothed image changes by a few levels per pixel at most
        cell = side / 6
        assert np.abs(np.diff(y, axis=1)).max() <= max(4, 120 / cell), side
        assert np.abs(np.diff(y, axis=0)).max() <= max(4, 120 / cell), side


def test_blur_of_long_thin_and_large_boxes_keeps_no_detail() -> None:
    # large boxes are averaged by a whole factor first (fast path), thin ones are not; both
    # must come out as smooth cells, and a box 2 px across must not break it
    rng = np.random.default_rng(5)
    w, h = 1280, 720
    for box in ((0, 0, 2, 700), (10, 10, 1270, 14), (100, 40, 1000, 700), (6, 6, 8, 8),
                (300, 100, 333, 619)):
        buf = rng.integers(0, 255, w * h * 3 // 2, dtype=np.uint8)
        before = planes(buf, w, h)[0].copy()
        blur_box(buf, w, h, box, cells=6)
        x0, y0, x1, y1 = box
        out = planes(buf, w, h)[0]
        assert (out[:, :x0] == before[:, :x0]).all()
        assert (out[:y0] == before[:y0]).all()
        roi = out[y0:y1, x0:x1]
        if min(roi.shape) >= 8:
            assert sharpness(roi) < 0.01 * sharpness(before[y0:y1, x0:x1]), box



@pytest.mark.parametrize(("w", "h", "fps", "threads"), [
    (640, 360, 30, 1), (1280, 720, Fraction(30000, 1001), 1), (1280, 720, 30, 1),
    (720, 1280, 25, 1), (1280, 720, 60, 2), (1440, 1080, 30, 2), (1920, 1080, 30, 2)])
def test_codec_threads_one_each_up_to_720p30_two_above(w: int, h: int, fps: Fraction | int,
                                                        threads: int) -> None:
    # one decoder and one x264 thread keep up with 2x real time up to 720p at 30 fps (a
    # portrait phone clip too) and cost less; 1080p, or 720p at 60 fps, needs two
    info = MediaInfo(format_name="mp4", duration=1.0, video_index=0, codec="h264",
                     pix_fmt="yuv420p", stored_width=w, stored_height=h, rotation=0,
                     fps=Fraction(fps), variable_frame_rate=False, nb_frames=30,
                     video_start=0.0)
    assert codec_threads(info) == threads
