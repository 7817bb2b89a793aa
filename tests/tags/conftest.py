"""Fixtures: moving clips made by shared/tools/make_clip.py from real photos, and ingest."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
IDS = SHARED / "data" / "identities"
DEV = SHARED / "data" / "faces-dev"
KID_A = DEV / "29_Students_Schoolkids_Students_Schoolkids_29_436.jpg"
KID_B = DEV / "29_Students_Schoolkids_Students_Schoolkids_29_506.jpg"
KID_C = DEV / "29_Students_Schoolkids_Students_Schoolkids_29_148.jpg"
ADULT_REF = IDS / "train" / "obama" / "obama.jpg"
ADULT_IN_CLIP = IDS / "test" / "obama1.jpg"


def _face_box(photo: Path) -> list[list[float]]:
    """The labelled box of a faces-dev photo, else the one CenterFace box (identities)."""
    labels = json.loads((DEV / "boxes.json").read_text())
    if photo.name in labels:
        return [list(map(float, b)) for b in labels[photo.name]]
    from redaction.detect import make_detector

    bgr = cv2.imread(str(photo))
    assert bgr is not None, photo
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    h, w = rgb.shape[:2]
    det = make_detector("centerface", threshold=0.5, detect_area=min(w * h, 1920 * 1088))
    return [[b.x0, b.y0, b.w, b.h] for b in det(rgb) if b.score >= 0.5]


@pytest.fixture(scope="session")
def make_clip(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Factory: a clip of `photos` (None = a photo with no face), `per_image` s each
    (under-exposed with sensor noise, as night footage is, when `dark`)."""
    if not (SHARED / "tools" / "make_clip.py").is_file():
        pytest.skip(f"{SHARED} is missing (the shared data lives beside the checkout)")
    made: dict[tuple[Any, ...], Path] = {}

    def _make(photos: list[Path | None], *, per_image: float = 1.5, size: str = "480x270",
              seed: int = 3, dark: bool = False) -> Path:
        key = (tuple(photos), per_image, size, seed, dark)
        if key in made:
            return made[key]
        work = tmp_path_factory.mktemp("clip")
        images = work / "images"
        images.mkdir()
        boxes: dict[str, list[list[float]]] = {}
        for i, photo in enumerate(photos):
            if photo is None:
                name = f"{i:02d}_empty.jpg"
                rng = np.random.default_rng(i)
                img = np.full((540, 960, 3), 90, np.uint8)
                for _ in range(12):  # walls, doors, lockers: shapes without faces
                    x, y = int(rng.integers(0, 900)), int(rng.integers(0, 500))
                    colour = tuple(int(c) for c in rng.integers(0, 255, 3))
                    cv2.rectangle(img, (x, y), (x + 60, y + 40), colour, -1)
                cv2.imwrite(str(images / name), img)
                boxes[name] = []
            else:
                name = f"{i:02d}_{photo.name}"
                shutil.copy(photo, images / name)
                boxes[name] = _face_box(photo)
        (images / "boxes.json").write_text(json.dumps(boxes))
        out = work / "clip.mp4"
        subprocess.run(
            [sys.executable, str(SHARED / "tools" / "make_clip.py"), "--images", str(images),
             "--boxes", str(images / "boxes.json"), "--out", str(out),
             "--truth", str(work / "truth.json"), "--per-image", str(per_image),
             "--size", size, "--seed", str(seed), "--preset", "ultrafast",
             *(["--dark"] if dark else [])],
            check=True, capture_output=True)
        made[key] = out
        return out

    return _make
