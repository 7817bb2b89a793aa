"""Versions of everything that shapes a derivative, for its manifest."""

from __future__ import annotations

from functools import lru_cache
from importlib import metadata

import cv2
import numpy as np

from redaction.media import ffmpeg_version


def _dist(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


@lru_cache(maxsize=1)
def tool_versions() -> dict[str, str | None]:
    """Package and binary versions (ffmpeg's first `-version` line)."""
    return {
        "bwc_custody": _dist("bwc-custody"),
        "ffmpeg": ffmpeg_version(),
        "opencv": cv2.__version__,
        "numpy": np.__version__,
        "face_recognition": _dist("face-recognition"),
        "dlib": _dist("dlib-bin") or _dist("dlib"),
        "ffmpeg_python": _dist("ffmpeg-python"),
    }
