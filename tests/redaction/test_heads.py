"""Heads mode (`bwc redact --heads`): whole heads blurred from MoveNet MultiPose keypoints, the
manifest saying which people were blurred by head, and crowds past six flagged."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from bwc_custody.cli import app
from bwc_custody.errors import InvalidInput
from redaction.blur import sharpness
from redaction.detect import Box
from redaction.heads import MODEL_PATH, HeadDetector, crowd_parts, head_box, merge_heads
from redaction.pipeline import RedactOptions
from storage.crypto import sha256_file
from tests.redaction.conftest import Clip, Redacted
from tests.redaction.util import FACES, gray_frames


def test_vendored_model_is_the_recorded_one() -> None:
    readme = (MODEL_PATH.parent / "README.md").read_text()
    assert sha256_file(MODEL_PATH) in readme


def test_head_from_shoulders_alone_sits_above_them() -> None:
    # a person seen from behind: no face points, both shoulders
    kp = np.zeros((17, 3))
    kp[5] = [300, 400, 0.9]
    kp[6] = [200, 400, 0.9]
    b = head_box(kp, 0.2)
    assert b is not None
    assert 200 < b.cx < 300
    assert b.y1 < 400  # above the shoulder line
    assert b.w == pytest.approx(55)
    kp[5, 2] = 0.1  # one shoulder unseen: nothing to place a head on
    assert head_box(kp, 0.2) is None


def test_finds_the_people_in_a_photo(faces_dev: Path) -> None:
    # the ranger and the boy facing the camera, and the girl in a hood seen in profile
    # (a labelled face no face detector scores above 0.1)
    img = cv2.imread(str(FACES / "29_Students_Schoolkids_Students_Schoolkids_29_477.jpg"))
    heads = HeadDetector(threshold=0.1)(img[:, :, ::-1].copy())
    labels = json.loads((FACES / "boxes.json").read_text())[
        "29_Students_Schoolkids_Students_Schoolkids_29_477.jpg"]
    found = {i for i, (x, y, w, h) in enumerate(labels)
             if any(b.x0 <= x + w / 2 <= b.x1 and b.y0 - b.h * 0.3 <= y + h / 2 <= b.y1
                    for b in heads)}
    assert {4, 5, 7} <= found, found


def test_crowd_parts_overlap_and_cover_the_frame() -> None:
    wide = crowd_parts(1280, 720, 3)
    assert [p[0] for p in wide] == [0, 266, 533]
    assert {p[2] - p[0] for p in wide} == {747}  # a third of the width and a quarter
    assert (wide[-1][2], {(p[1], p[3]) for p in wide}) == (1280, {(0, 720)})
    assert crowd_parts(720, 1280, 2) == [(0, 0, 720, 960), (0, 320, 720, 1280)]


def test_a_crowd_is_searched_again_in_parts(faces_dev: Path) -> None:
    """Ten schoolchildren: the whole frame gives the model's six people; searched again in
    parts, more of the children get a head box, and no part is at six any more."""
    name = "29_Students_Schoolkids_Students_Schoolkids_29_626.jpg"
    img = cv2.imread(str(FACES / name))[:, :, ::-1].copy()
    labels = json.loads((FACES / "boxes.json").read_text())[name]

    def covered(boxes: list) -> int:  # labelled faces whose centre lies in a head box
        return sum(any(b.x0 <= x + w / 2 <= b.x1 and b.y0 <= y + h / 2 <= b.y1 for b in boxes)
                   for x, y, w, h in labels)

    whole = HeadDetector(crowd_parts=0).find(img)
    assert (len(labels), whole.crowded, whole.at_limit) == (10, True, True)
    parts = HeadDetector().find(img)
    assert (parts.crowded, parts.at_limit) == (True, False)
    assert covered(parts.boxes) > covered(whole.boxes) >= 6
    # one head found by two searches is one box: no labelled face lies in two
    assert all(sum(b.x0 <= x + w / 2 <= b.x1 and b.y0 <= y + h / 2 <= b.y1
                   for b in parts.boxes) <= 1 for x, y, w, h in labels)


def test_the_head_model_runs_the_same_by_openvino(faces_dev: Path) -> None:
    """The OpenVINO path of the head model (the one bfloat16 takes), in float32 so that any
    CPU compares it with onnxruntime: the same people, the same keypoints; and "auto" names
    the runtime it chose."""
    import copy

    from redaction.detect import native_bfloat16
    from redaction.heads import openvino_runner

    pytest.importorskip("openvino")
    img = cv2.imread(str(FACES / "29_Students_Schoolkids_Students_Schoolkids_29_626.jpg"))
    rgb = img[:, :, ::-1].copy()
    ort = HeadDetector(backend="onnxruntime")
    ov = copy.copy(ort)
    ov._ov = openvino_runner(MODEL_PATH, 1, "f32")  # as HeadDetector makes it, in float32
    want, got = ort.people(rgb), ov.people(rgb)
    assert (want[:, 55] >= 0.15).sum() >= 6
    np.testing.assert_allclose(got, want, atol=0.05)  # keypoints in pixels, scores
    assert np.abs(got[:, 55] - want[:, 55]).max() < 1e-3
    assert ort.info()["runtime"] == "onnxruntime"
    assert HeadDetector().runtime == ("openvino-bf16" if native_bfloat16() else "onnxruntime")


def test_a_head_found_at_two_sizes_is_one_box_covering_both() -> None:
    small, big = Box(512, 160, 543, 198, 0.33), Box(495, 121, 582, 230, 0.23)
    beside, shifted = Box(571, 137, 643, 228, 0.3), Box(542, 123, 611, 237, 0.2)
    assert merge_heads([big, small, beside, shifted]) == [
        Box(495, 121, 582, 230, 0.33),  # the small one's score, the big one's extent
        Box(542, 123, 643, 237, 0.3)]  # compared with `beside` as found, not with the grown box
    assert merge_heads([small, beside]) == [small, beside]  # side by side: two heads
    # a box inside one grown from others adds nothing: no second box for one head
    inside = Box(545, 125, 600, 200, 0.1)
    assert merge_heads([big, small, beside, shifted, inside]) == merge_heads(
        [big, small, beside, shifted])


def test_heads_mode_blurs_heads_and_says_so(face_clip: Clip, redacted: Redacted,
                                            tmp_path: Path) -> None:
    out, man = tmp_path / "h.mp4", tmp_path / "h.json"
    res = CliRunner().invoke(app, ["redact", str(face_clip.path), str(out), "--heads",
                                   "--manifest", str(man), "-q"])
    assert res.exit_code == 0, res.output
    m = json.loads(man.read_text())
    assert m["settings"]["heads"] is True
    h = m["heads"]
    assert h["detector"]["name"] == "movenet_multipose"
    assert h["detector"]["model_sha256"] == sha256_file(MODEL_PATH)
    assert h["people"] == len(h["tracks"]) >= 3
    head_rows = [(f, r) for f, rows, _, _ in m["frames"] for r in rows if r[8] == "head"]
    assert head_rows
    assert {str(r[0]) for _, r in head_rows} == set(h["tracks"])
    for track, person in h["tracks"].items():
        assert set(person["face_tracks"]) <= {r[0] for _, rows, _, _ in m["frames"]
                                              for r in rows if r[8] == "face"}
        assert (int(track) in h["blurred_by_head_only"]) == (not person["face_tracks"])
    # the group photo has more than six people: searched in parts, and where a part still
    # gives six the reviewer is told
    assert h["keyframes_at_six_people"] >= h["keyframes_at_six_in_a_part"] > 0
    assert h["detector"]["crowd_parts"] == 3
    assert sum(r["reason"] == "crowd_limit" for r in m["low_confidence"]) > 0
    # every head region really is blurred, and every face blurred without heads still is
    orig, red = gray_frames(face_clip.path), gray_frames(out)
    checked = 0
    for f, r in head_rows[::5]:
        x0, y0, x1, y1 = r[1:5]
        s0 = sharpness(orig[f][y0:y1, x0:x1])
        if s0 < 20:  # flat (the clip's grey border): nothing to blur
            continue
        checked += 1
        assert sharpness(red[f][y0:y1, x0:x1]) <= 0.35 * s0, (f, r)
    assert checked >= 10
    plain = {f: b for f, _, b, _ in redacted.manifest["frames"]}
    heads = {f: b for f, _, b, _ in m["frames"]}
    assert all(f in heads for f in plain)
    cover_plain = sum(len(b) for b in plain.values())
    assert sum(len(heads[f]) for f in plain) >= cover_plain


def test_bad_heads_settings_are_refused() -> None:
    with pytest.raises(InvalidInput):
        RedactOptions(heads=True, heads_input=500)
    with pytest.raises(InvalidInput):
        RedactOptions(heads=True, head_threshold=0)
    with pytest.raises(InvalidInput, match="head_crowd_parts") as refused:
        RedactOptions(heads=True, head_crowd_parts=1)  # one part is the whole frame again
    assert refused.value.code == "invalid_input"
