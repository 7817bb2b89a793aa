"""Person counting over a long moving shot of a group (real faces, real ffmpeg and models)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from redaction.analysis import AnalysisSettings, analyze_file, collect_tracks
from tests.tags.conftest import DEV

pytestmark = pytest.mark.slow


# Photos and camera paths on which analysis-1 (velocity-predicted boxes, appearance-gated
# links) split faces: 6 people counted for 4 and 7 for 6.
@pytest.mark.parametrize(("photo", "size", "seed"), [
    ("11_Meeting_Meeting_11_Meeting_Meeting_11_573.jpg", "1280x720", 22),
    ("29_Students_Schoolkids_Students_Schoolkids_29_84.jpg", "640x360", 23),
    ("12_Group_Group_12_Group_Group_12_478.jpg", "960x540", 21),
])
def test_a_group_followed_for_seconds_is_each_face_once(
        make_clip: Callable[..., Path], photo: str, size: str, seed: int) -> None:
    # Four seconds of a walking camera over one group photo: faces move by about their own
    # size between samples, get blurred and cut by the edge; none of that makes a new person.
    faces = len(json.loads((DEV / "boxes.json").read_text())[photo])
    result = analyze_file(str(make_clip([DEV / photo], per_image=4.0, size=size, seed=seed)))
    assert result.distinct_people == faces
    assert result.unidentified_people == faces
    # Each person is one unbroken track (or fragments that never overlap in time).
    by_person: dict[int, list[tuple[int, int]]] = {}
    for t in result.tracks:
        by_person.setdefault(t.person, []).append((t.first_frame, t.last_frame))
    for spans in by_person.values():
        spans.sort()
        assert all(a[1] < b[0] for a, b in zip(spans, spans[1:], strict=False))
    assert max(t.last_frame - t.first_frame for t in result.tracks) >= 90


# Camera paths on which the grey histogram alone (at 0.14) cut a shot in two (seed 1: at
# frames 12, 222 and 474) or ran over a photo change (seed 3: 210).
@pytest.mark.parametrize("seed", [1, 3])
def test_cuts_are_the_photo_changes_and_only_those(
        make_clip: Callable[..., Path], seed: int) -> None:
    photos = sorted(DEV.glob("29_Students*.jpg"))
    clip = make_clip(photos, per_image=1.0, size="640x360", seed=seed)
    _tracks, meta = collect_tracks(str(clip), AnalysisSettings())
    assert meta["cuts"] == [30 * k for k in range(1, len(photos))]


def test_night_footage_is_counted_from_its_faces_lifted(
        make_clip: Callable[..., Path]) -> None:
    # A meeting of eleven filmed under-exposed with sensor noise: CenterFace scores the dark
    # faces low and face_recognition's encodings of them are close together, so the count
    # seen as it is falls well short. Lifted as the redactor lifts dark keyframes, every
    # sample is brightened for the detector and the encodings and its faces count from
    # `dark_min_score`: the count comes back to the faces shown.
    photo = "11_Meeting_Meeting_11_Meeting_Meeting_11_71.jpg"
    faces = len(json.loads((DEV / "boxes.json").read_text())[photo])
    clip = str(make_clip([DEV / photo], per_image=2.0, size="640x360", seed=1, dark=True))
    lifted = analyze_file(clip, encoders=0)
    as_is = analyze_file(clip, settings=AnalysisSettings(dark_lift=False), encoders=0)
    assert lifted.settings["samples_lifted"] == lifted.frames_analysed
    assert as_is.settings["samples_lifted"] == 0
    assert as_is.distinct_people <= faces - 3
    assert faces - 1 <= lifted.distinct_people <= faces + 2  # when unsure, two people


def test_night_footage_with_a_light_in_view_is_counted_both_ways(
        make_clip: Callable[..., Path], tmp_path: Path) -> None:
    # The same dark meeting with a lit window in a corner: no sample is lifted alone any more,
    # those with much deep shadow are searched as they are and lifted (as the redactor
    # does), and the count still comes back to the faces shown.
    photo = "11_Meeting_Meeting_11_Meeting_Meeting_11_71.jpg"
    faces = len(json.loads((DEV / "boxes.json").read_text())[photo])
    dark = make_clip([DEV / photo], per_image=2.0, size="640x360", seed=1, dark=True)
    lit = tmp_path / "lit-window.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(dark), "-vf",
                    "drawbox=x=0:y=0:w=64:h=48:color=white:t=fill", "-c:v", "libx264",
                    "-crf", "18", "-preset", "veryfast", str(lit)], check=True)
    both = analyze_file(str(lit), encoders=0)
    as_is = analyze_file(str(lit), settings=AnalysisSettings(dark_lift=False), encoders=0)
    assert both.settings["samples_lifted"] >= both.frames_analysed // 2
    assert as_is.distinct_people <= faces - 3
    assert faces - 1 <= both.distinct_people <= faces + 2
