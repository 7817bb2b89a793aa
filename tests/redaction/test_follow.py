"""A followed box stays on what it covers as the camera walks and zooms: forward and back
from where it was drawn, through the custodian's corrections; the redaction blurs it along
that path and keeps the path in the manifest."""

from __future__ import annotations

from pathlib import Path

import pytest

from redaction.follow import follow
from redaction.manifest import read_manifest
from redaction.pipeline import RedactOptions, redact_file
from redaction.regions import Keyframe, parse_regions
from tests.redaction.conftest import Clip, _need_shared, make_clip
from tests.redaction.util import box_ratio, gray_frames

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def one_face(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    """3 s of one child's face (make_clip's walking, zooming camera), 640x360 at 30 fps."""
    _need_shared()
    return make_clip(tmp_path_factory.mktemp("follow") / "one.mp4", per_image=3.0,
                     match=["29_*_148.jpg"])


def _iou(a: tuple[float, ...] | list[float], b: list[float]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    return inter / (aw * ah + bw * bh - inter)


def test_a_box_drawn_once_is_followed_forward_and_back(one_face: Clip) -> None:
    frames = one_face.truth["frames"]
    drawn = frames[45][0]  # drawn at 1.5 s, followed to both ends
    path, lost = follow(str(one_face.path), start=0.0, end=2.9,
                        anchors=[Keyframe(t=1.5, box=tuple(drawn))])
    assert len(path) == 88
    assert path[45][1:] == pytest.approx(drawn, abs=1.0)
    overlaps = [_iou(p[1:], frames[k][0]) for k, p in enumerate(path) if frames[k]]
    assert min(overlaps) > 0.7, overlaps
    assert lost == []


def test_corrections_are_met_exactly_and_blended_between(one_face: Clip) -> None:
    frames = one_face.truth["frames"]
    a, b = Keyframe(t=0.5, box=tuple(frames[15][0])), Keyframe(t=2.5, box=tuple(frames[75][0]))
    path, _ = follow(str(one_face.path), start=0.5, end=2.5, anchors=[b, a])
    assert path[0][0] == 0.5
    assert path[0][1:] == pytest.approx(a.box, abs=1.0)
    assert path[-1][1:] == pytest.approx(b.box, abs=1.0)
    assert min(_iou(p[1:], frames[15 + k][0]) for k, p in enumerate(path)) > 0.7


def test_a_followed_box_is_blurred_along_its_path(one_face: Clip, tmp_path: Path) -> None:
    frames = one_face.truth["frames"]
    regions = parse_regions({"boxes": [{"start": 0.0, "end": 2.9, "at": 1.0,
                                        "box": frames[30][0], "follow": True, "kind": "id",
                                        "reason": "a student's ID card"}]})
    out, man = tmp_path / "out.mp4", tmp_path / "out.json"
    # no face detection: only the followed box may blur the face
    redact_file(one_face.path, out, options=RedactOptions(threshold=0.99, rotated_pass=False),
                regions=regions, manifest_path=man)
    o, r = gray_frames(one_face.path), gray_frames(out)
    ratios = [box_ratio(o[k], r[k], frames[k][0]) for k in range(0, 87, 5)]
    assert max(ratios) < 0.35, ratios
    m = read_manifest(man)
    box = m["regions"]["boxes"][0]
    assert len(box["path"]) == 88
    assert m["exemption_log"] == [{
        "what": "box", "index": 0, "start": 0.0, "end": 2.9, "label": "",
        "reason": "a student's ID card", "chosen_by": None, "chosen_at": None, "kind": "id",
        "mode": "blur", "follow": True}]
