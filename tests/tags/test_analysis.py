"""Person counting on real faces moved through make_clip clips (real ffmpeg, real models)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bwc_custody.tags.analysis import people_of
from bwc_custody.tags.rules import auto_tags
from redaction.analysis import AnalysisSettings, KnownAdult, analyze_file
from redaction.errors import RedactionError
from redaction.keepface import load_reference
from tests.redaction.util import ffmpeg
from tests.tags.conftest import ADULT_IN_CLIP, ADULT_REF, DEV, KID_A, KID_B, KID_C

pytestmark = pytest.mark.slow


def test_face_recognition_import_returns() -> None:
    # face_recognition_models calls quit() when pkg_resources is missing (NOTES.md).
    import face_recognition

    assert hasattr(face_recognition, "face_encodings")


def test_an_unknown_detector_runtime_is_refused_with_its_code() -> None:
    from bwc_custody.errors import InvalidInput

    with pytest.raises(InvalidInput, match="detect_backend") as err:
        AnalysisSettings(detect_backend="tensorflow")
    assert err.value.code == "invalid_input"
    assert AnalysisSettings(detect_backend="float32").detect_backend == "float32"


def test_one_face_in_many_frames_is_one_person(make_clip: Callable[..., Path]) -> None:
    clip = make_clip([KID_C], per_image=3.0)
    result = analyze_file(str(clip))
    assert result.distinct_people == 1
    assert result.frames_total == 90
    assert result.frames_analysed == 15  # every 6th frame at 30 fps
    assert len({t.person for t in result.tracks}) == 1
    first = min(t.first_frame for t in result.tracks)
    last = max(t.last_frame for t in result.tracks)
    assert first <= 12
    assert last >= 72


def test_two_similar_looking_people_stay_two(make_clip: Callable[..., Path]) -> None:
    # These two children are closer than face_recognition's usual 0.6 tolerance, which
    # would call them one person; they never appear together, so only appearance separates.
    a, b = load_reference(KID_A).encoding, load_reference(KID_B).encoding
    assert float(np.linalg.norm(a - b)) < 0.6
    result = analyze_file(str(make_clip([KID_A, KID_B], per_image=1.5)))
    assert result.distinct_people == 2
    assert result.unidentified_people == 2


def test_known_adult_plus_one_student_is_not_multi_student(
        make_clip: Callable[..., Path]) -> None:
    # Enrolled from one photo, seen in the clip in another photo of the same man.
    adult = KnownAdult(name="SRO", encodings=[load_reference(ADULT_REF).encoding])
    result = analyze_file(str(make_clip([ADULT_IN_CLIP, KID_C], per_image=1.5)),
                          known_adults=[adult])
    assert result.distinct_people == 2
    assert result.known_adults == ["SRO"]
    assert result.unidentified_people == 1
    tags = {t.name for t in auto_tags(campus="test campus",
                                      people=people_of(result.to_dict()["tracks"]))}
    assert tags == {"school_campus", "juvenile"}


def test_no_faces_counts_nobody(make_clip: Callable[..., Path]) -> None:
    result = analyze_file(str(make_clip([None], per_image=2.0)))
    assert result.distinct_people == 0
    assert result.tracks == []


def _one_face(photo: str, index: int, out: Path) -> Path:
    """A crop of one labelled faces-dev face, the photo's other faces greyed out."""
    import json

    import cv2

    img = cv2.imread(str(DEV / photo))
    assert img is not None, photo
    labels = json.loads((DEV / "boxes.json").read_text())[photo]
    for j, (x, y, w, h) in enumerate(labels):
        if j != index:
            img[max(0, y):y + h, max(0, x):x + w] = 110
    x, y, w, h = labels[index]
    pad = int(0.6 * max(w, h))
    cv2.imwrite(str(out), img[max(0, y - pad):y + h + pad, max(0, x - pad):x + w + pad])
    return out


def test_two_people_seen_only_from_the_side_stay_two(
        make_clip: Callable[..., Path], tmp_path: Path) -> None:
    # Two different men in profile, in two shots. Their encodings are close enough to be
    # taken for one person (face_recognition's encoder is trained on frontal faces); only
    # frontal views may join tracks by appearance, so they stay two.
    clip = make_clip([_one_face("11_Meeting_Meeting_11_Meeting_Meeting_11_102.jpg", 5,
                                tmp_path / "a.jpg"),
                      _one_face("11_Meeting_Meeting_11_Meeting_Meeting_11_71.jpg", 7,
                                tmp_path / "b.jpg")], per_image=1.5)
    assert analyze_file(str(clip)).distinct_people == 2
    frontal_or_not = replace(AnalysisSettings(), frontal_eye_span=0.0)
    assert analyze_file(str(clip), settings=frontal_or_not).distinct_people == 1


@pytest.mark.parametrize(("make", "code", "says"), [
    (lambda p: p.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 20),
     "corrupt_video", "Invalid data"),
    (lambda p: ffmpeg("-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", str(p)),
     "no_video_stream", "no video stream"),
    (lambda p: None, "source_missing", "no such file"),
])
def test_what_cannot_be_decoded_is_refused_with_a_code(
        tmp_path: Path, make: Callable[[Path], object], code: str, says: str) -> None:
    # The count probes with the redactor's checks: same codes, and the reason is ffprobe's
    # own last line rather than its version banner.
    src = tmp_path / "clip.mp4"
    make(src)
    with pytest.raises(RedactionError) as ei:
        analyze_file(str(src))
    assert ei.value.code == code
    text = json.dumps(ei.value.to_dict())
    assert says in text
    assert "libavformat" not in text  # ffprobe's reason, not its version banner
    assert "\\n" not in text  # one line
