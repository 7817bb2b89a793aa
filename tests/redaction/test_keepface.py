"""Keep-face: the matched person stays sharp, everyone else is blurred; unclear refs refused."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from redaction.analysis_settings import AnalysisSettings
from redaction.detect import Box, CenterFaceDetector
from redaction.errors import InvalidReferencePhoto
from redaction.keepface import MIN_REFERENCE_FACE, load_reference
from redaction.manifest import read_manifest
from redaction.pipeline import RedactOptions, redact_file
from tests.redaction.conftest import make_clip
from tests.redaction.util import box_ratio, gray_frames


@pytest.fixture(scope="module")
def two_people(identities: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A 1.5 s 1280x720 clip of obama_and_biden.jpg; truth boxes from dlib HOG (not the
    redactor's detector) and which of them is Obama, by face_recognition."""
    import face_recognition as fr

    d = tmp_path_factory.mktemp("keep")
    photo = identities / "test" / "obama_and_biden.jpg"
    img = fr.load_image_file(str(photo))
    locs = fr.face_locations(img)
    assert len(locs) == 3
    refs = [fr.face_encodings(fr.load_image_file(str(p)))[0]
            for p in sorted((identities / "train" / "obama").glob("*.jpg"))]
    is_obama = [bool(np.mean(fr.face_distance(refs, e)) < 0.5)
                for e in fr.face_encodings(img, known_face_locations=locs)]
    assert sum(is_obama) == 1
    boxes = {photo.name: [[left, top, right - left, bottom - top]
                          for top, right, bottom, left in locs]}
    (d / "boxes.json").write_text(json.dumps(boxes))
    clip = make_clip(d / "keep.mp4", images=photo.parent, boxes=d / "boxes.json",
                     size="1280x720", per_image=1.5, match=[photo.name], shake=0.5)
    # the labels are in left-to-right order in every frame where all three are visible
    order = sorted(range(3), key=lambda i: locs[i][3])
    return clip, order.index(is_obama.index(True)), d


def test_keep_face_leaves_only_the_matched_person_sharp(two_people, identities: Path) -> None:  # type: ignore[no-untyped-def]
    clip, obama_rank, d = two_people
    out, man = d / "out.mp4", d / "out.json"
    redact_file(clip.path, out, options=RedactOptions(), manifest_path=man,
                keep_faces=[identities / "train" / "obama" / "obama.jpg"])
    orig, red = gray_frames(clip.path), gray_frames(out)
    kept: list[float] = []
    others: list[float] = []
    for o, r, boxes in zip(orig, red, clip.truth["frames"], strict=True):
        if len(boxes) != 3:
            continue
        ranked = sorted(boxes, key=lambda b: b[0])
        for i, b in enumerate(ranked):
            (kept if i == obama_rank else others).append(box_ratio(o, r, b))
    assert len(kept) > 20
    assert sum(k > 0.6 for k in kept) / len(kept) >= 0.8, kept
    assert all(x <= 0.35 for x in others), others
    m = read_manifest(man)
    assert m["keep_face"]["references"][0]["name"] == "obama"
    assert m["keep_face"]["kept_tracks"]
    kept_rows = [row for _, rows, _, _ in m["frames"] for row in rows if row[7] is True]
    assert kept_rows


def test_reference_with_two_faces_refused(identities: Path) -> None:
    with pytest.raises(InvalidReferencePhoto) as ei:
        load_reference(identities / "test" / "obama_and_biden.jpg")
    assert ei.value.code == "invalid_reference_photo"
    assert ei.value.details["faces"] >= 2


def test_reference_without_face_refused(tmp_path: Path, identities: Path) -> None:
    blank = tmp_path / "wall.jpg"
    cv2.imwrite(str(blank), np.full((300, 300, 3), 128, np.uint8))
    with pytest.raises(InvalidReferencePhoto):
        load_reference(blank)
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"not a photo")
    with pytest.raises(InvalidReferencePhoto):
        load_reference(junk)


def _face_of(photo: Path) -> Box:
    bgr = cv2.imread(str(photo))
    found = CenterFaceDetector(threshold=0.5, detect_area=bgr.shape[0] * bgr.shape[1])(
        cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    return max(found, key=lambda b: b.score)


def test_reference_with_a_small_second_face_refused(tmp_path: Path, identities: Path,
                                                    faces_dev: Path) -> None:
    # A child's face, 32 px wide, in the corner of a clear portrait: which face the photo
    # means is a guess, so the photo is refused however small the second face.
    portrait = identities / "train" / "obama" / "obama.jpg"
    load_reference(portrait)  # alone, the portrait is a good reference
    kid_photo = faces_dev / "29_Students_Schoolkids_Students_Schoolkids_29_436.jpg"
    kid, b = cv2.imread(str(kid_photo)), _face_of(kid_photo)
    m = 0.6 * b.w
    face = kid[int(b.y0 - m):int(b.y1 + m), int(b.x0 - m):int(b.x1 + m)]
    face = cv2.resize(face, None, fx=32 / b.w, fy=32 / b.w, interpolation=cv2.INTER_AREA)
    img = cv2.imread(str(portrait))
    img[20:20 + face.shape[0], 20:20 + face.shape[1]] = face
    photo = tmp_path / "portrait_and_child.jpg"
    cv2.imwrite(str(photo), img)
    with pytest.raises(InvalidReferencePhoto) as ei:
        load_reference(photo)
    assert (ei.value.details["faces"], ei.value.details["large_enough"]) == (2, 1)


def test_reference_face_too_small_refused(tmp_path: Path, identities: Path) -> None:
    portrait = identities / "train" / "obama" / "obama.jpg"
    scale = 0.8 * MIN_REFERENCE_FACE / _face_of(portrait).w
    img = cv2.imread(str(portrait))
    photo = tmp_path / "small.jpg"
    cv2.imwrite(str(photo), cv2.resize(img, None, fx=scale, fy=scale,
                                       interpolation=cv2.INTER_AREA))
    with pytest.raises(InvalidReferencePhoto) as ei:
        load_reference(photo)
    assert (ei.value.details["faces"], ei.value.details["large_enough"]) == (1, 0)


def test_reference_in_profile_refused(tmp_path: Path, faces_dev: Path) -> None:
    # A man seen from the side (labelled face 3 of this meeting photo, found at score 0.84):
    # the encoder cannot place a profile, and the person count never matches one.
    bgr = cv2.imread(str(faces_dev / "11_Meeting_Meeting_11_Meeting_Meeting_11_573.jpg"))
    x, y, w, h = 74, 138, 94, 178
    crop = bgr[max(0, y - w // 2):y + h + w // 2, max(0, x - w // 2):x + w + w // 8]
    photo = tmp_path / "profile.jpg"
    cv2.imwrite(str(photo), cv2.resize(crop, None, fx=1.6, fy=1.6,
                                       interpolation=cv2.INTER_CUBIC))
    with pytest.raises(InvalidReferencePhoto) as ei:
        load_reference(photo)
    assert ei.value.details["eye_span"] < AnalysisSettings.frontal_eye_span
