"""Tracks of the person count: camera motion, linking, joining fragments, clustering."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest

from redaction.analysis import person_labels
from redaction.analysis_cluster import cluster_tracks
from redaction.analysis_link import Obs, Track, advance, join_fragments, link, warp_box
from redaction.analysis_settings import AnalysisSettings
from redaction.analysis_video import estimate_motion, motion_grey
from redaction.detect import Box

S = AnalysisSettings()


def _shift(dx: float, dy: float, scale: float = 1.0) -> np.ndarray:
    return np.array([[scale, 0.0, dx], [0.0, scale, dy]])


def _scene(seed: int = 0) -> np.ndarray:
    """A 1280x720 RGB picture with texture to follow."""
    rng = np.random.default_rng(seed)
    img = np.full((720, 1280, 3), 100, np.uint8)
    for _ in range(300):
        x, y = int(rng.integers(0, 1240)), int(rng.integers(0, 690))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        cv2.rectangle(img, (x, y), (x + int(rng.integers(8, 40)), y + int(rng.integers(8, 30))),
                      colour, -1)
    return img


def test_estimate_motion_recovers_a_pan_and_zoom() -> None:
    img = _scene()
    m_true = cv2.getRotationMatrix2D((640, 360), 2.0, 1.05)
    m_true[:, 2] += np.array([37.0, -21.0])
    moved = cv2.warpAffine(img, m_true, (1280, 720), borderValue=(100, 100, 100))
    a, scale = motion_grey(img)
    b, _ = motion_grey(moved)
    m = estimate_motion(a, b, scale)
    assert m is not None
    for x, y in [(200, 150), (640, 360), (1100, 600)]:
        want = m_true @ np.array([x, y, 1.0])
        got = m @ np.array([x, y, 1.0])
        assert np.hypot(*(want - got)) < 3.0, (want, got)


def test_estimate_motion_refuses_a_blank_wall() -> None:
    wall = np.full((360, 640), 120, np.uint8)
    assert estimate_motion(wall, wall, 1.0) is None


def test_warp_box_moves_and_scales() -> None:
    b = warp_box(Box(100, 100, 140, 150), _shift(50, -10, 2.0))
    assert (b.cx, b.cy) == pytest.approx((290, 240))
    assert (b.w, b.h) == pytest.approx((80, 100))


def _linker() -> tuple[list[Track], itertools.count[int]]:
    return [], itertools.count(1)


def test_a_face_moved_by_the_camera_continues_its_track() -> None:
    # The camera pans 60 px (more than the face's 40 px size: no overlap with the old box).
    tracks, ids = _linker()
    link(tracks, [Box(100, 100, 140, 140, 0.9)], 0, 0, S, lambda: next(ids))
    advance(tracks, _shift(60, 0))
    link(tracks, [Box(162, 101, 202, 141, 0.9)], 6, 1, S, lambda: next(ids))
    assert len(tracks) == 1
    assert len(tracks[0].obs) == 2


def test_without_the_motion_the_same_detection_starts_a_new_track() -> None:
    tracks, ids = _linker()
    link(tracks, [Box(100, 100, 140, 140, 0.9)], 0, 0, S, lambda: next(ids))
    advance(tracks, None)  # motion unknown: prediction stays where the face was
    link(tracks, [Box(162, 101, 202, 141, 0.9)], 6, 1, S, lambda: next(ids))
    assert len(tracks) == 2


def test_neighbouring_faces_keep_their_own_tracks() -> None:
    tracks, ids = _linker()
    a0, b0 = Box(100, 100, 140, 140, 0.9), Box(150, 100, 190, 140, 0.9)
    link(tracks, [a0, b0], 0, 0, S, lambda: next(ids))
    advance(tracks, _shift(30, 0))
    # Listed in the other order, both shifted by the camera.
    link(tracks, [Box(180, 100, 220, 140, 0.9), Box(130, 100, 170, 140, 0.9)], 6, 1, S,
         lambda: next(ids))
    assert len(tracks) == 2
    for t in tracks:
        assert t.obs[1].box.cx - t.obs[0].box.cx == pytest.approx(30)


def _track(tid: int, frames: list[int], box: Box, enc: np.ndarray | None = None) -> Track:
    return Track(tid, [Obs(f, box, enc) for f in frames], sample_last=frames[-1] // 6)


FRAMES = list(range(0, 120, 6))


def _motion(dx: float) -> dict[int, np.ndarray | None]:
    return {f: (_shift(dx, 0) if f else None) for f in FRAMES}


def test_a_lost_face_found_again_where_the_camera_carried_it_is_joined() -> None:
    enc = np.zeros(128)
    a = _track(1, [0, 6, 12], Box(100, 100, 140, 140, 0.9), enc)
    # Five samples later the camera has moved 5 x 20 px to the right.
    b = _track(2, [42, 48], Box(200, 100, 240, 140, 0.9), enc + 0.01)
    joined = join_fragments([a, b], _motion(20), FRAMES, S)
    assert len(joined) == 1
    assert [o.frame for o in joined[0].obs] == [0, 6, 12, 42, 48]
    assert len(a.obs) == 3  # the inputs are left as they were


def test_fragments_are_not_joined_elsewhere_across_a_cut_or_with_other_faces() -> None:
    enc = np.zeros(128)
    a = _track(1, [0, 6, 12], Box(100, 100, 140, 140, 0.9), enc)
    there = Box(200, 100, 240, 140, 0.9)
    # Somewhere else in the picture.
    far = _track(2, [42, 48], Box(600, 100, 640, 140, 0.9), enc)
    assert len(join_fragments([a, far], _motion(20), FRAMES, S)) == 2
    # In the right place after a cut (motion unknown at frame 30).
    cut = {**_motion(20), 30: None}
    assert len(join_fragments([a, _track(3, [42, 48], there, enc)], cut, FRAMES, S)) == 2
    # In the right place but with a face that disagrees.
    other = enc.copy()
    other[0] = S.join_distance + 0.1
    assert len(join_fragments([a, _track(4, [42, 48], there, other)], _motion(20), FRAMES,
                              S)) == 2


def test_tracks_seen_at_the_same_time_are_never_one_person() -> None:
    enc = np.zeros(128)
    labels = cluster_tracks([enc, enc, enc + 0.01], [(0, 30), (24, 60), (90, 120)], 0.38)
    assert labels[0] != labels[1]
    assert labels[2] in (labels[0], labels[1])


def test_small_faces_seen_one_after_another_are_two_people() -> None:
    # Too small to encode, same shot, never together, far apart: two students in a hallway.
    a = _track(1, [0, 6, 12], Box(100, 100, 116, 116, 0.9))
    b = _track(2, [60, 66, 72], Box(900, 300, 916, 316, 0.9))
    meta = {"motion": _motion(0), "frames": FRAMES}
    kept, labels = person_labels([a, b], meta, S)
    assert len(kept) == 2
    assert len(set(labels)) == 2


def test_weak_detections_extend_a_track_but_never_start_a_person() -> None:
    meta = {"motion": _motion(0), "frames": FRAMES}
    weak = S.track_score + 0.05
    assert weak < S.min_score
    faint = Track(1, [Obs(f, Box(100, 100, 140, 140, weak)) for f in (0, 6, 12, 18)])
    kept, _ = person_labels([faint], meta, S)
    assert kept == []
    confirmed = Track(2, [Obs(f, Box(100, 100, 140, 140, s)) for f, s in
                          [(0, weak), (6, S.min_score), (12, weak)]])
    kept, _ = person_labels([confirmed], meta, S)
    assert len(kept) == 1


def test_a_face_seen_only_in_lifted_samples_counts_from_the_dark_score() -> None:
    # CenterFace scores a lifted dark face lower than the same face lit: a track whose best
    # detection is between `dark_min_score` and `min_score` counts only where the samples it
    # was seen in were lifted as under-exposed
    score = (S.dark_min_score + S.min_score) / 2
    frames = (0, 6, 12)
    meta = {"motion": _motion(0), "frames": FRAMES}
    dim = Track(1, [Obs(f, Box(100, 100, 140, 140, score)) for f in frames])
    assert person_labels([dim], meta, S)[0] == []
    assert len(person_labels([dim], {**meta, "lifted": set(frames)}, S)[0]) == 1
    # seen once, it still needs the single-detection score, lifted or not
    once = Track(2, [Obs(0, Box(100, 100, 140, 140, score))])
    assert person_labels([once], {**meta, "lifted": {0}}, S)[0] == []
