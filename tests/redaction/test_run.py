"""Which picture each face pass of a keyframe sees (redaction/run.py, FrameRun.detect), and
what a keyframe flags for the reviewer (FrameRun.add_keyframe)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
import pytest

from redaction import run
from redaction.detect import Box, CenterFaceDetector, Exposure
from redaction.heads import HeadFinds
from redaction.manifest import ManifestWriter
from redaction.media import MediaInfo
from redaction.options import RedactOptions
from redaction.regions import Regions, TimeRange

W, H = 64, 48


class _Seen(CenterFaceDetector):
    """CenterFace that finds nothing and notes every picture it was shown."""

    shown: list[np.ndarray]

    def __call__(self, rgb: np.ndarray) -> list[Box]:
        self.shown.append(rgb)
        return []


@pytest.mark.parametrize("threads", [1, 2])  # one after the other; side by side
@pytest.mark.parametrize("case", ["as_is", "dark", "light_in_view"])
def test_each_pass_sees_the_picture_its_exposure_calls_for(
        monkeypatch: pytest.MonkeyPatch, threads: int, case: str) -> None:
    lifted = np.full((H, W, 3), 200, np.uint8)  # stands for exposure()'s lifted copy
    verdict = {"as_is": Exposure(None, False, None), "dark": Exposure(lifted, True, 0.1),
               "light_in_view": Exposure(lifted, False, 0.2)}[case]
    monkeypatch.setattr(run, "exposure", lambda rgb, lift: verdict)
    turned_on: list[np.ndarray] = []

    def rotated_pass(detector: Any, rgb: np.ndarray, angle: float) -> list[Box]:
        turned_on.append(rgb)
        return []

    monkeypatch.setattr(run, "rotated_pass", rotated_pass)
    detector = _Seen(threads=1)
    detector.shown = []
    info = MediaInfo(format_name="mp4", duration=1.0, video_index=0, codec="h264",
                     pix_fmt="yuv420p", stored_width=W, stored_height=H, rotation=0,
                     fps=Fraction(30), variable_frame_rate=False, nb_frames=30,
                     video_start=0.0)
    opts = RedactOptions(detect_threads=threads)
    frame_run = run.FrameRun(info, opts, detector, None, Regions(), ManifestWriter())
    if detector.backend != "opencv":  # OpenCV DNN runs its passes one at a time
        assert (frame_run._turn_pool is not None) == (threads == 2)
    try:
        found = frame_run.detect(np.zeros(W * H * 3 // 2, np.uint8))
    finally:
        frame_run.close()
    upright = detector.shown
    assert len(turned_on) == 1
    if case == "as_is":
        assert len(upright) == 1
        assert upright[0] is not lifted
        assert turned_on[0] is upright[0]
        assert (found.lifted, found.shadows, found.dark_level) == (False, False, None)
    elif case == "dark":  # every pass sees the lifted copy only
        assert len(upright) == 1
        assert upright[0] is lifted
        assert turned_on[0] is lifted
        assert (found.lifted, found.shadows, found.dark_level) == (True, False, 0.1)
    else:  # upright both as it is and lifted; turned, the lifted copy
        assert len(upright) == 2
        assert upright[0] is not lifted
        assert upright[1] is lifted
        assert turned_on[0] is lifted
        assert (found.lifted, found.shadows, found.dark_level) == (False, True, 0.2)


def test_dark_keyframes_are_one_flagged_range_for_the_reviewer() -> None:
    # the dark keyframes of a run, lifted or with a light in view, are where the bench's
    # faces are most often missed: one range to watch from the first to the last, its number
    # the darkest keyframe's level, whatever other flags (a weak face) fall between; a lit
    # keyframe ends it, and a blacked-out one flags nothing (nothing there can be sharp)
    info = MediaInfo(format_name="mp4", duration=1.0, video_index=0, codec="h264",
                     pix_fmt="yuv420p", stored_width=W, stored_height=H, rotation=0,
                     fps=Fraction(30), variable_frame_rate=False, nb_frames=30,
                     video_start=0.0)
    manifest = ManifestWriter()
    black = Regions(blackout=[TimeRange(start=19 / 30, end=22 / 30)])
    frame_run = run.FrameRun(info, RedactOptions(detect_threads=1), _Seen(threads=1), None,
                             black, manifest)
    weak = Box(10, 10, 30, 30, score=0.2)
    keyframes = [(0, [weak], 0.12), (3, [], 0.08), (6, [weak], 0.2), (9, [], None),
                 (12, [], 0.15), (15, [], 0.1), (18, [], 0.1), (21, [weak], 0.01),
                 (24, [], 0.1)]
    try:
        for k, faces, dark in keyframes:
            frame_run.add_keyframe(k, k / 30, run.Found(faces, [None] * len(faces),
                                                        HeadFinds([], False, False),
                                                        dark is not None, False, dark))
    finally:
        frame_run.close()
    dark = [(r["start_frame"], r["end_frame"], r["min_score"])
            for r in manifest.low_confidence if r["reason"] == "dark_footage"]
    assert dark == [(0, 6, 0.08), (12, 18, 0.1), (24, 24, 0.1)]
    weak_ranges = [(r["start_frame"], r["end_frame"])
                   for r in manifest.low_confidence if r["reason"] == "weak_detection"]
    assert weak_ranges == [(0, 0), (6, 6)]
