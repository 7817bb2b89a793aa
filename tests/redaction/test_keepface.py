"""Keep-face: the matched person stays sharp, everyone else is blurred; unclear refs refused."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from redaction.errors import InvalidReferencePhoto
from redaction.keepface import load_reference
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
    kept_rows = [row for _, rows, _ in m["frames"] for row in rows if row[-1] is True]
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
