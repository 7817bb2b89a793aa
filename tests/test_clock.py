"""The suite passes at any hour of any day: the date-sensitive tests (marked `clock`) are run
again at awkward instants, each in its own pytest process under BWC_TEST_CLOCK."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from policies.calendar import kentucky_today
from tests.support.clock import AWKWARD, DEFAULT_INSTANT, KENTUCKY, clock_instant

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.clock
def test_every_test_starts_at_the_instant_given() -> None:
    instant = clock_instant()
    assert abs(dt.datetime.now(dt.UTC) - instant) < dt.timedelta(seconds=5)
    assert kentucky_today() == instant.astimezone(KENTUCKY).date()
    if "BWC_TEST_CLOCK" not in os.environ:
        assert instant == DEFAULT_INSTANT


@pytest.mark.slow(cost=20)  # first to start: the three are the suite's longest file
@pytest.mark.parametrize("name", sorted(AWKWARD))
def test_date_sensitive_tests_pass_at_an_awkward_instant(name: str) -> None:
    instant = AWKWARD[name]
    env = {**os.environ, "BWC_TEST_CLOCK": instant.isoformat()}
    # only the files holding date-sensitive tests: collecting the whole suite costs more
    # than running these
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").rglob("test_*.py")
                   if "mark.clock" in p.read_text())
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "clock", "-n", "0", "-q", "-p", "no:cacheprovider",
         "--no-header", "-W", "ignore::pytest.PytestUnraisableExceptionWarning", *files],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert " passed" in done.stdout
    assert " failed" not in done.stdout
