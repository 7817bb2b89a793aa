"""The encoder pool gives the encodings of one process, in order, and survives a dead
encoder (keep-face judges every face of a keyframe through it)."""

from __future__ import annotations

import logging
import os
import signal

import cv2
import numpy as np
import pytest

from redaction.detect import make_detector
from redaction.encoders import (
    Crop,
    encode_crops,
    encode_now,
    encoder_pool,
    face_crop,
    reset_encoders,
    warm_encoders,
)
from tests.redaction.util import FACES

GROUP = "11_Meeting_Meeting_11_Meeting_Meeting_11_71.jpg"  # 11 labelled faces


@pytest.fixture(scope="module")
def crops() -> list[Crop]:
    rgb = cv2.cvtColor(cv2.imread(str(FACES / GROUP)), cv2.COLOR_BGR2RGB)
    boxes = [b for b in make_detector("centerface", detect_area=rgb.shape[0] * rgb.shape[1])(rgb)
             if b.score >= 0.5 and min(b.w, b.h) >= 24]
    assert len(boxes) >= 5
    return [face_crop(rgb, b) for b in boxes]


def _equal(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_the_pool_gives_the_encodings_of_one_process_in_order(crops: list[Crop]) -> None:
    here = encode_crops(crops)
    assert len({x.tobytes() for x in here}) == len(crops)  # different faces, different codes
    assert _equal(encode_now(crops, 2), here)
    assert _equal(encode_now(crops[:1], 2), here[:1])
    assert encode_now([], 2) == []


def test_a_dead_encoder_costs_time_not_the_answer(crops: list[Crop],
                                                   caplog: pytest.LogCaptureFixture) -> None:
    here = encode_crops(crops)
    warm_encoders(2)
    pool = encoder_pool(2)
    assert pool is not None
    os.kill(pool.submit(os.getpid).result(), signal.SIGKILL)
    with caplog.at_level(logging.WARNING, logger="redaction.encoders"):
        again = encode_now(crops, 2)
    assert "encoder processes stopped" in caplog.text
    assert _equal(again, here)
    assert encoder_pool(2) is not pool
    reset_encoders()
