"""Face encodings computed in encoder processes beside the decode and detection loop: the
same tracks and encodings as in one process, and nothing lost when an encoder dies."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from redaction.analysis import AnalysisSettings, analyze_file, collect_tracks
from redaction.analysis_link import Track
from redaction.encoders import encoder_pool, reset_encoders, warm_encoders
from tests.tags.conftest import KID_A, KID_B

pytestmark = pytest.mark.slow


def _encodings(tracks: list[Track]) -> list[tuple[int, int, np.ndarray | None]]:
    return [(t.id, o.frame, o.enc) for t in tracks for o in t.obs]


def _same(a: list[Track], b: list[Track]) -> bool:
    ea, eb = _encodings(a), _encodings(b)
    return len(ea) == len(eb) and all(
        x[:2] == y[:2] and (x[2] is None) == (y[2] is None)
        and (x[2] is None or np.array_equal(x[2], y[2])) for x, y in zip(ea, eb, strict=True))


@pytest.fixture
def two_kids(make_clip: Callable[..., Path]) -> str:
    return str(make_clip([KID_A, KID_B], per_image=1.5))


def test_encoder_processes_give_the_encodings_of_one_process(two_kids: str) -> None:
    s = AnalysisSettings()
    here, _ = collect_tracks(two_kids, s, encoders=0)
    pooled, _ = collect_tracks(two_kids, s, encoders=2)
    assert sum(o.enc is not None for t in here for o in t.obs) >= 4
    assert _same(here, pooled)


def test_a_killed_encoder_loses_nothing(two_kids: str,
                                        caplog: pytest.LogCaptureFixture) -> None:
    expected = analyze_file(two_kids, encoders=0)
    warm_encoders(2)
    pool = encoder_pool(2)
    assert pool is not None
    os.kill(pool.submit(os.getpid).result(), signal.SIGKILL)
    with caplog.at_level(logging.WARNING, logger="redaction.encoders"):
        result = analyze_file(two_kids, encoders=2)
    assert "encoder processes stopped" in caplog.text
    assert result.distinct_people == expected.distinct_people == 2
    assert [(t.first_frame, t.last_frame, t.person) for t in result.tracks] == [
        (t.first_frame, t.last_frame, t.person) for t in expected.tracks]
    assert encoder_pool(2) is not pool  # the next analysis gets a working pool
    reset_encoders()
