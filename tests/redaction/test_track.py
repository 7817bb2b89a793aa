"""Tracker motion: held boxes follow a track's measured motion, interpolation has slack."""

from __future__ import annotations

from redaction.detect import Box
from redaction.track import Tracker


def _contains(outer: Box, inner: Box) -> bool:
    return (outer.x0 <= inner.x0 and outer.y0 <= inner.y0 and outer.x1 >= inner.x1
            and outer.y1 >= inner.y1)


def _moving_track(t: Tracker, speed: float, frames: range) -> None:
    """A 40x40 face moving `speed` px/frame to the right, detected at each frame."""
    for k in frames:
        x = 200 + speed * k
        t.add(k, [Box(x, 100, x + 40, 140, 0.9)])


def test_held_box_after_last_detection_follows_the_motion() -> None:
    t = Tracker(detect_every=3, persist=9, hold_growth=0.0)
    _moving_track(t, 8.0, range(0, 10, 3))  # last detection at frame 9, x0 = 272
    last = Box(272, 100, 312, 140)
    for gap in (1, 2, 5):
        (held,) = t.boxes_at(9 + gap)
        assert held.source == "held"
        moved = Box(272 + 8 * gap, 100, 312 + 8 * gap, 140)
        assert _contains(held.box, moved), (gap, held.box)
        assert held.box.x0 > last.x0


def test_held_box_before_first_detection_extrapolates_backwards() -> None:
    t = Tracker(detect_every=3, persist=9, hold_growth=0.0)
    t.add(0, [])
    _moving_track(t, -10.0, range(3, 13, 3))  # moving left: earlier it was further right
    (pre,) = t.boxes_at(1)
    assert pre.source == "held"
    # first seen at frame 3 at x0 = 170; two frames earlier it was 20 px further right
    assert _contains(pre.box, Box(190, 100, 230, 140))


def test_interpolation_slack_covers_neighbouring_frames_on_the_path() -> None:
    t = Tracker(detect_every=4, persist=8, motion_slack=1.0)
    t.add(0, [Box(0, 0, 80, 80)])
    t.add(4, [Box(40, 0, 120, 80)])  # 10 px/frame
    (mid,) = t.boxes_at(2)
    assert mid.source == "interpolated"
    assert _contains(mid.box, Box(10, 0, 90, 80))  # where frame 1 was on the line
    assert _contains(mid.box, Box(30, 0, 110, 80))  # ... and frame 3
    exact = Tracker(detect_every=4, persist=8, motion_slack=0)
    exact.add(0, [Box(0, 0, 80, 80)])
    exact.add(4, [Box(40, 0, 120, 80)])
    assert exact.boxes_at(2)[0].box.x0 == 20


def test_still_face_boxes_do_not_grow_from_motion_terms() -> None:
    t = Tracker(detect_every=3, persist=9, hold_growth=0.0)
    for k in range(0, 10, 3):
        t.add(k, [Box(100, 100, 140, 140)])
    assert t.boxes_at(4)[0].box == Box(100, 100, 140, 140, 1.0)
    assert t.boxes_at(12)[0].box == Box(100, 100, 140, 140)


def test_weak_detections_extend_tracks_but_never_start_them() -> None:
    t = Tracker(detect_every=3, persist=9, new_track_score=0.1)
    assert t.add(0, [Box(100, 100, 140, 140, 0.8), Box(400, 100, 440, 140, 0.06)]) == [0]
    assert [b.track for b in t.boxes_at(0)] == [1]  # the lone weak one started nothing
    # the face turns away: only a weak detection, but it continues track 1 ...
    assert t.add(3, [Box(104, 100, 144, 140, 0.06)]) == [0]
    (b,) = t.boxes_at(3)
    assert (b.track, b.source, b.box.score) == (1, "detected", 0.06)
    # ... and a confident detection is still matched first when both compete for a track
    taken = t.add(6, [Box(109, 100, 149, 140, 0.05), Box(108, 100, 148, 140, 0.9)])
    assert taken == [1]  # the weak duplicate is dropped, not made a track
    scores = sorted(x.box.score for x in t.boxes_at(6) if x.source == "detected")
    assert scores == [0.9]


def _weak_face(t: Tracker, keyframes: range, score: float = 0.06) -> None:
    for k in keyframes:
        t.add(k, [Box(300, 200, 340, 240, score)])


def test_a_steady_weak_face_is_blurred_once_confirmed_over_its_whole_span() -> None:
    t = Tracker(detect_every=3, persist=9, new_track_score=0.1, confirm_hits=3)
    _weak_face(t, range(0, 7, 3))  # seen weakly at 0, 3 and 6: confirmed at the third
    assert t.confirmed == 1
    assert t.horizon >= t.pre + 2 * 3  # frames wait long enough for a late confirmation
    for frame in (0, 1, 4, 6, 8):
        (box,) = t.boxes_at(frame)
        assert _contains(box.box, Box(300, 200, 340, 240)), frame


def test_a_weak_blip_or_an_interrupted_weak_face_blurs_nothing() -> None:
    blip = Tracker(detect_every=3, persist=9, new_track_score=0.1, confirm_hits=3)
    _weak_face(blip, range(0, 4, 3))  # two keyframes only
    for k in (6, 9, 12):
        blip.add(k, [])
    assert blip.confirmed == 0
    assert all(blip.boxes_at(f) == [] for f in range(0, 15))
    blip.prune(15)
    assert blip.tracks == []  # the unconfirmed track is forgotten
    gap = Tracker(detect_every=3, persist=9, new_track_score=0.1, confirm_hits=3)
    _weak_face(gap, range(0, 4, 3))
    gap.add(6, [])
    gap.add(9, [])  # missed two keyframes in a row: the tentative track is dropped
    _weak_face(gap, range(12, 16, 3))
    assert gap.confirmed == 0
    assert all(gap.boxes_at(f) == [] for f in range(0, 18))


def test_a_weak_face_missed_on_one_keyframe_is_still_confirmed() -> None:
    t = Tracker(detect_every=3, persist=9, new_track_score=0.1, confirm_hits=3)
    _weak_face(t, range(0, 4, 3))
    t.add(6, [])  # the detector lost it once ...
    _weak_face(t, range(9, 10))  # ... and found it again: third weak sighting confirms
    assert t.confirmed == 1
    assert t.horizon >= t.pre + 9  # late enough for frame 0 to wait for keyframe 9
    for frame in (0, 5, 6, 9):
        assert t.boxes_at(frame), frame


def test_without_confirmation_weak_detections_only_extend_tracks() -> None:
    t = Tracker(detect_every=3, persist=9, new_track_score=0.1, confirm_hits=0)
    _weak_face(t, range(0, 10, 3))
    assert t.confirmed == 0
    assert t.boxes_at(3) == []
    t.add(12, [Box(300, 200, 340, 240, 0.5)])  # a confident detection starts a track ...
    _weak_face(t, range(15, 19, 3))  # ... which weak ones then extend
    assert [b.source for b in t.boxes_at(18)] == ["detected"]


def test_a_confident_detection_confirms_a_tentative_track_at_once() -> None:
    t = Tracker(detect_every=3, persist=9, new_track_score=0.1, confirm_hits=3)
    _weak_face(t, range(0, 1))
    t.add(3, [Box(301, 200, 341, 240, 0.8)])
    assert t.confirmed == 1
    assert len(t.tracks) == 1  # the same face, not a second track
    assert t.boxes_at(0)  # blurred from its weak start
