"""Keep-face: people a request allows to stay visible, matched by face_recognition encodings.

A detection stays unblurred only when its face is big enough to encode and its encoding lies
within `tolerance` of a reference; anything smaller, turned away or farther is blurred.
When unsure, blur.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from redaction.analysis_link import seen_from_front
from redaction.analysis_settings import AnalysisSettings
from redaction.detect import Box, CenterFaceDetector
from redaction.encoders import (
    default_encoders,
    dlib_location,
    encode_now,
    face_crop,
    face_recognition_module,
)
from redaction.errors import InvalidReferencePhoto


@dataclass(frozen=True)
class Reference:
    """One reference photo: who, which file (by hash) and the face encoding from it."""

    name: str
    sha256: str
    encoding: np.ndarray


# A reference photo's face must be at least this many pixels on its short side: it says
# whom to leave unblurred (keep-face) or not to count as a student (known adults).
MIN_REFERENCE_FACE = 60
# Photos are searched at up to this many pixels (larger ones are scaled down first).
REFERENCE_DETECT_AREA = 1920 * 1088


def load_reference(path: Path) -> Reference:
    """The reference of the one clear face in a photo file (see `reference_from_bytes`)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidReferencePhoto(f"cannot read reference photo {path}: {exc}",
                                    path=str(path)) from None
    return reference_from_bytes(path.stem, data, label=str(path))


def reference_from_bytes(name: str, data: bytes, *, label: str | None = None) -> Reference:
    """The reference of the one clear face in a photo's bytes (JPEG/PNG): found with score
    0.5, at least `MIN_REFERENCE_FACE` px, seen from the front, and the only face in the
    photo. Which face a reference means must never be a guess, so a second face, however
    small, refuses the photo; so does a profile, which the encoder cannot place (and which
    the person count never matches against known adults)."""
    fr = face_recognition_module()
    label = label or name
    try:
        rgb = fr.load_image_file(io.BytesIO(data))
    except (OSError, ValueError) as exc:
        raise InvalidReferencePhoto(f"cannot read reference photo {label}: {exc}",
                                    path=label) from None
    h, w = rgb.shape[:2]
    # float32 on every CPU: whether a photo is accepted must not depend on the server's CPU
    det = CenterFaceDetector(threshold=0.5, detect_area=min(w * h, REFERENCE_DETECT_AREA),
                             backend="float32")
    faces = [b for b in det(rgb) if b.score >= 0.5]
    clear = [b for b in faces if min(b.w, b.h) >= MIN_REFERENCE_FACE]
    if len(faces) != 1 or len(clear) != 1:
        raise InvalidReferencePhoto(
            f"reference photo {label} must show exactly one clear face (at least "
            f"{MIN_REFERENCE_FACE} px); found {len(faces)} face(s), {len(clear)} large enough",
            path=label, faces=len(faces), large_enough=len(clear))
    if not seen_from_front(clear[0], AnalysisSettings.frontal_eye_span):
        raise InvalidReferencePhoto(
            f"reference photo {label} shows the face from the side; it must face the camera",
            path=label, eye_span=clear[0].eye_span)
    enc = fr.face_encodings(rgb, known_face_locations=[dlib_location(clear[0], w, h)],
                            num_jitters=3)
    if not enc:
        raise InvalidReferencePhoto(f"no face encoding from {label}", path=label)
    return Reference(name=name, sha256=hashlib.sha256(data).hexdigest(),
                     encoding=np.asarray(enc[0], dtype=np.float64))


class KeepFaceMatcher:
    """Decides, per detection, whether it is one of the reference people."""

    def __init__(self, references: list[Reference], *, tolerance: float = 0.5,
                 min_face: int = 48, encoders: int | None = None) -> None:
        self.references = references
        # A keyframe's faces are encoded in parallel by the encoder pool (`encoders`
        # processes, default one per CPU): with keep-face, encoding was most of the work.
        self.encoders = default_encoders() if encoders is None else encoders
        self.tolerance = tolerance
        self.min_face = min_face
        self._known = np.array([r.encoding for r in references])

    def distances(self, rgb: np.ndarray, boxes: list[Box]) -> list[float | None]:
        """Distance of each box's face to the nearest reference; None when too small to judge."""
        if not self.references or not boxes:
            return [None] * len(boxes)
        idx = [i for i, b in enumerate(boxes) if min(b.w, b.h) >= self.min_face]
        out: list[float | None] = [None] * len(boxes)
        if not idx:
            return out
        encs = encode_now([face_crop(rgb, boxes[i]) for i in idx], self.encoders)
        for i, e in zip(idx, encs, strict=True):
            out[i] = float(np.linalg.norm(self._known - e, axis=1).min())
        return out

    def keep(self, distance: float | None) -> bool:
        """True only for a judged face within tolerance of a reference."""
        return distance is not None and distance <= self.tolerance
