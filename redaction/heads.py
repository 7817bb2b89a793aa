"""Whole heads from MoveNet MultiPose keypoints: the heads mode blurs hair, ears and the back
of the head of every person, including people whose face is never seen.

No installable package ships a head detector; MoveNet MultiPose Lightning (Apache-2.0,
converted to ONNX at build time by `models/convert_movenet.py`) finds up to six people
with 17 keypoints each. A head follows from the nose, eyes, ears and shoulders: its size
from the widest of ear span, eye span and shoulder width, its place from the head points
seen, or above the shoulders when none is (a person seen from behind).

Limit: six people a frame. In a crowd the seventh and later people are not found; every
keyframe where the model returns six is flagged for the reviewer (`crowd_limit`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from redaction.detect import Box, file_sha256
from redaction.errors import ToolMissing

MODEL_PATH = Path(__file__).with_name("models") / "movenet_multipose.onnx"
MAX_PEOPLE = 6
# COCO keypoint order: nose, left eye, right eye, left ear, right ear, shoulders
NOSE, L_EYE, R_EYE, L_EAR, R_EAR, L_SHOULDER, R_SHOULDER = range(7)


def head_box(kp: np.ndarray, min_score: float, max_size: float = math.inf) -> Box | None:
    """The head of one person from keypoints (17, 3) as (x, y, score) in frame pixels, or
    None when neither head points nor both shoulders are seen. The box is the head itself
    (about one head wide, 1.25 tall); the pipeline pads it like a face box."""
    seen = kp[:, 2] >= min_score
    sizes = []
    if seen[L_EAR] and seen[R_EAR]:
        sizes.append(1.2 * math.dist(kp[L_EAR, :2], kp[R_EAR, :2]))
    if seen[L_EYE] and seen[R_EYE]:
        sizes.append(2.6 * math.dist(kp[L_EYE, :2], kp[R_EYE, :2]))
    shoulders = bool(seen[L_SHOULDER] and seen[R_SHOULDER])
    if shoulders and not sizes:  # head points say the size better when they are seen
        sizes.append(0.55 * math.dist(kp[L_SHOULDER, :2], kp[R_SHOULDER, :2]))
    head_pts = [i for i in (NOSE, L_EYE, R_EYE, L_EAR, R_EAR) if seen[i]]
    if len(head_pts) >= 2 and not sizes:  # e.g. nose and one eye: a head in profile
        pts = kp[head_pts, :2]
        sizes.append(2.5 * float(np.max(np.ptp(pts, axis=0))))
    if not sizes or (not head_pts and not shoulders):
        return None
    # keypoints of two people mixed up can make a giant "head": no larger than `max_size`
    size = min(max(sizes), max_size)
    if head_pts:
        cx, cy = (float(v) for v in kp[head_pts, :2].mean(axis=0))
        cy -= 0.1 * size  # the points sit low in the head: hair is above them
        score = float(kp[head_pts, 2].max())
    else:  # seen from behind: the head sits on the shoulders
        cx = float(kp[[L_SHOULDER, R_SHOULDER], 0].mean())
        cy = float(kp[[L_SHOULDER, R_SHOULDER], 1].mean()) - 0.75 * size
        score = float(kp[[L_SHOULDER, R_SHOULDER], 2].min())
    if size < 4:
        return None
    return Box(cx - size / 2, cy - 0.625 * size, cx + size / 2, cy + 0.625 * size, score)


class HeadDetector:
    """MoveNet MultiPose (up to six people) on a downscaled frame -> head boxes.

    `input_long` is the long side of the network input (a multiple of 32): people smaller
    than ~1/10 of the frame height are not found at 512 on a 16:9 frame."""

    name = "movenet_multipose"

    def __init__(self, *, input_long: int = 512, threshold: float = 0.15,
                 keypoint_threshold: float = 0.2, threads: int = 1,
                 model: Path = MODEL_PATH) -> None:
        if not model.is_file():
            raise ToolMissing(f"head model missing: {model}", path=str(model))
        import onnxruntime as ort

        self.model = model
        self.input_long = input_long
        self.threshold = threshold
        self.keypoint_threshold = keypoint_threshold
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._sess = ort.InferenceSession(str(model), so, providers=["CPUExecutionProvider"])
        self._input = self._sess.get_inputs()[0].name

    @property
    def model_sha256(self) -> str:
        return file_sha256(self.model)

    def input_size(self, width: int, height: int) -> tuple[int, int]:
        """Network input (w, h): the long side `input_long`, both multiples of 32."""
        scale = self.input_long / max(width, height)
        return (max(32, round(width * scale / 32) * 32), max(32, round(height * scale / 32) * 32))

    def people(self, rgb: np.ndarray) -> np.ndarray:
        """MoveNet's raw people (6, 56) for an RGB frame, keypoints in frame pixels."""
        h, w = rgb.shape[:2]
        in_w, in_h = self.input_size(w, h)
        x = cv2.resize(rgb, (in_w, in_h), interpolation=cv2.INTER_AREA).astype(np.int32)
        out: np.ndarray = self._sess.run(None, {self._input: x[None]})[0][0].copy()
        kp = out[:, :51].reshape(-1, 17, 3)
        kp[:, :, 0] *= h  # y
        kp[:, :, 1] *= w  # x
        out[:, :51] = kp.reshape(-1, 51)
        return out

    def __call__(self, rgb: np.ndarray) -> list[Box]:
        """Head boxes of the people scoring at least `threshold`, in frame pixels."""
        return self.find(rgb)[0]

    def find(self, rgb: np.ndarray) -> tuple[list[Box], bool]:
        """Head boxes as `__call__`, and whether the model returned all six people it can
        (more may be in the frame, unseen)."""
        people = self.people(rgb)
        found = people[people[:, 55] >= self.threshold]
        out: list[Box] = []
        h, w = rgb.shape[:2]
        for p in found:
            kp = p[:51].reshape(17, 3)[:, [1, 0, 2]]  # (x, y, score)
            # a head is at most ~0.6 of its person's box (a head-and-shoulders view)
            person = max((p[53] - p[51]) * h, (p[54] - p[52]) * w)
            b = head_box(kp, self.keypoint_threshold, max_size=max(16.0, 0.6 * person))
            if b is not None:
                out.append(Box(b.x0, b.y0, b.x1, b.y1, float(p[55])))
        return out, len(found) >= MAX_PEOPLE

    def info(self) -> dict[str, Any]:
        """What the manifest records about the head model."""
        return {"name": self.name, "model_sha256": self.model_sha256,
                "input_long": self.input_long, "threshold": self.threshold,
                "keypoint_threshold": self.keypoint_threshold, "max_people": MAX_PEOPLE}
