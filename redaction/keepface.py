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


def load_reference(path: Path, detector: CenterFaceDetector | None = None) -> Reference:
    """Encode the one face in a reference photo file; refuse photos with none or several."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidReferencePhoto(f"cannot read reference photo {path}: {exc}",
                                    path=str(path)) from None
    return reference_from_bytes(path.stem, data, detector, label=str(path))


def reference_from_bytes(name: str, data: bytes, detector: CenterFaceDetector | None = None,
                         *, label: str | None = None) -> Reference:
    """Encode the one face in a reference photo's bytes; refuse photos with none or several."""
    fr = face_recognition_module()
    label = label or name
    try:
        rgb = fr.load_image_file(io.BytesIO(data))
    except (OSError, ValueError) as exc:
        raise InvalidReferencePhoto(f"cannot read reference photo {label}: {exc}",
                                    path=label) from None
    det = detector or CenterFaceDetector(threshold=0.5, detect_area=rgb.shape[0] * rgb.shape[1])
    h, w = rgb.shape[:2]
    faces = [b for b in det(rgb) if b.score >= 0.5 and min(b.w, b.h) >= 40]
    if len(faces) != 1:
        raise InvalidReferencePhoto(
            f"reference photo {label} must show exactly one clear face, found {len(faces)}",
            path=label, faces=len(faces))
    enc = fr.face_encodings(rgb, known_face_locations=[dlib_location(faces[0], w, h)],
                            num_jitters=3)
    if not enc:
        raise InvalidReferencePhoto(f"no face encoding from {label}", path=label)
    return Reference(name=name, sha256=hashlib.sha256(data).hexdigest(), encoding=enc[0])


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
