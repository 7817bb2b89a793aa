"""The encoder pool gives the encodings of one process, in order, and survives a dead
encoder (keep-face judges every face of a keyframe through it)."""

from __future__ import annotations

import json
import logging
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

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


# A job worker that starts the pool, says which encoder processes it has, and waits.
_POOL_OWNER = """
import json, multiprocessing, sys
from redaction.encoders import warm_encoders
if __name__ == "__main__":
    warm_encoders(2)
    print(json.dumps([p.pid for p in multiprocessing.active_children()]), flush=True)
    sys.stdin.read()
"""


def test_encoders_exit_when_their_parent_is_killed() -> None:
    # SIGKILL gives the parent no chance to shut its pool down: the encoders must notice
    # on their own, or every killed job worker would leave two processes behind for good.
    root = Path(__file__).resolve().parents[2]
    owner = subprocess.Popen([sys.executable, "-c", _POOL_OWNER], cwd=root, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert owner.stdout is not None
        pids = json.loads(owner.stdout.readline())
        assert len(pids) == 2
        pidfds = {os.pidfd_open(pid): pid for pid in pids}
    finally:
        owner.kill()
        owner.wait()
    pending = set(pidfds)
    deadline = time.monotonic() + 30.0  # a bound for a loaded machine, not a measurement
    while pending and (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select(sorted(pending), [], [], left)
        pending -= set(ready)
    for fd in pending:  # do not leave them running if the test fails
        signal.pidfd_send_signal(fd, signal.SIGKILL)
    for fd in pidfds:
        os.close(fd)
    assert not pending, f"encoders {[pidfds[fd] for fd in pending]} outlived their parent"
