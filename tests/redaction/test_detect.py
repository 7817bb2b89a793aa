"""The CenterFace detector gives the same faces whichever runtime runs it."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from redaction.detect import CenterFaceDetector, iou, make_detector
from tests.redaction.util import FACES


@pytest.fixture(scope="module")
def group_rgb() -> np.ndarray:
    bgr = cv2.imread(str(FACES / "2008_002079.jpg"))
    if bgr is None:
        pytest.skip(f"shared test data not found at {FACES}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def test_onnxruntime_and_opencv_find_the_same_faces(group_rgb: np.ndarray) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    ocv = CenterFaceDetector(backend="opencv")
    ort = CenterFaceDetector(backend="onnxruntime")
    assert (ocv.name, ort.name) == ("centerface/opencv", "centerface/onnxruntime")
    a, b = ocv(group_rgb), ort(group_rgb)
    assert a
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert iou(x, y) > 0.99
        assert x.score == pytest.approx(y.score, abs=1e-3)


def test_auto_backend_is_named_and_unknown_backend_refused() -> None:
    d = make_detector("centerface")
    assert d.name in ("centerface/opencv", "centerface/onnxruntime")
    with pytest.raises(ValueError, match="backend"):
        CenterFaceDetector(backend="tensorflow")


def test_with_threshold_reports_weaker_faces_with_the_same_model(group_rgb: np.ndarray) -> None:
    d = CenterFaceDetector(threshold=0.3)
    low = d.with_threshold(0.05)
    assert (d.threshold, low.threshold) == (0.3, 0.05)
    strong, weak = d(group_rgb), low(group_rgb)
    assert all(b.score >= 0.3 for b in strong)
    assert len(weak) > len(strong)
    assert min(b.score for b in weak) < 0.3


def test_eye_span_tells_a_face_seen_from_the_front_from_one_seen_from_the_side() -> None:
    # Two labelled faces of one meeting photo: #6 looks at the camera, #7 is in profile.
    import json

    name = "11_Meeting_Meeting_11_Meeting_Meeting_11_71.jpg"
    bgr = cv2.imread(str(FACES / name))
    if bgr is None:
        pytest.skip(f"shared test data not found at {FACES}")
    labels = json.loads((FACES / "boxes.json").read_text())[name]
    found = CenterFaceDetector(threshold=0.3, detect_area=640 * 384)(
        cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))

    def span_of(label: list[int]) -> float:
        x, y, w, h = label
        inside = [b for b in found if x <= b.cx <= x + w and y <= b.cy <= y + h]
        assert inside, label
        span = max(inside, key=lambda b: b.score).eye_span
        assert span is not None
        return span

    assert span_of(labels[6]) > 0.38
    assert span_of(labels[7]) < 0.15
    assert all(b.eye_span is not None and b.scaled(2.0).eye_span == b.eye_span for b in found)


def test_turned_pass_finds_faces_turned_by_its_angle(group_rgb: np.ndarray) -> None:
    # the group photo turned by 45 degrees: the upright pass misses faces the turned pass
    # finds, and each find comes back upright, around a face's centre in the turned photo
    from redaction.detect import merge, rotated_pass

    h, w = group_rgb.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), -45, 1.0)
    turned = cv2.warpAffine(group_rgb, m, (w, h))
    d = CenterFaceDetector(threshold=0.3)
    centres = [(m[0, 0] * b.cx + m[0, 1] * b.cy + m[0, 2], m[1, 0] * b.cx + m[1, 1] * b.cy
                + m[1, 2]) for b in d(group_rgb)]
    centres = [(x, y) for x, y in centres if 0 <= x < w and 0 <= y < h]
    assert len(centres) >= 4

    def found(boxes: list) -> int:  # type: ignore[type-arg]
        return sum(any(b.x0 <= x <= b.x1 and b.y0 <= y <= b.y1 for b in boxes)
                   for x, y in centres)

    upright = d(turned)
    both = merge(upright + rotated_pass(d, turned, 45))
    assert found(both) >= found(upright) + 2, (found(upright), found(both))
    assert found(both) >= 0.75 * len(centres)
