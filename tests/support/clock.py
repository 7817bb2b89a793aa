"""A fixed, ticking clock for tests: the suite must not depend on the hour or the date it
runs (STYLE.md, "Tests and time").

Every test runs under `time_machine` at a fixed instant (`DEFAULT_INSTANT`, a weekday
morning at the agency), ticking from there, so "now" and "today" are the same whenever CI
runs. `BWC_TEST_CLOCK=<ISO 8601 instant>` moves the whole run to another instant; the
awkward ones (`AWKWARD`) are run by tests/test_clock.py. Subprocesses (the `bwc` CLI, ffmpeg,
the S3 server) keep the real clock; the tests that start them do not depend on the date.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo

import time_machine

KENTUCKY = ZoneInfo("America/Kentucky/Louisville")

# A Wednesday, 10:00 at the agency: a business day, morning, no holiday near.
DEFAULT_INSTANT = dt.datetime(2027, 3, 10, 10, 0, tzinfo=KENTUCKY)

# 23:59 at the agency on a Saturday that is also 31 December (a New Year's Eve holiday on a
# weekend), on 29 February, and on the Saturday night before daylight saving time begins.
# All in the future of the real clock: the S3 server keeps the real time, and an object
# lock must not end before it is set.
AWKWARD: dict[str, dt.datetime] = {
    "saturday-31-december": dt.datetime(2033, 12, 31, 23, 59, tzinfo=KENTUCKY),
    "29-february": dt.datetime(2028, 2, 29, 23, 59, tzinfo=KENTUCKY),
    "eve-of-daylight-saving": dt.datetime(2027, 3, 13, 23, 59, tzinfo=KENTUCKY),
}


def clock_instant() -> dt.datetime:
    """The instant this run's tests start at (BWC_TEST_CLOCK, else DEFAULT_INSTANT), in UTC:
    given a zone, time_machine would also set the process's TZ, which the S3 server started
    by a test inherits (SeaweedFS then answers retention dates in local time, which the
    client cannot parse)."""
    given = os.environ.get("BWC_TEST_CLOCK")
    instant = dt.datetime.fromisoformat(given) if given else DEFAULT_INSTANT
    if instant.tzinfo is None:
        raise ValueError(f"BWC_TEST_CLOCK={given!r} needs a UTC offset")
    return instant.astimezone(dt.UTC)


@contextmanager
def travelling() -> Iterator[time_machine.Traveller]:
    """The suite's clock: at `clock_instant()`, ticking from there."""
    with time_machine.travel(clock_instant(), tick=True) as traveller:
        yield traveller
