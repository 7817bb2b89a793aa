"""The KRS 61.872(5) delay notice, checked against the statute's words: "a detailed explanation of
the cause is given for further delay and the place, time, and earliest date on which the public
record will be available for inspection"."""

from __future__ import annotations

import datetime as dt

import pytest

from policies.errors import InvalidDelayNotice
from policies.notices import DelayNotice, check_delay_notice, delay_notice_problems

D = dt.date
RECEIVED = D(2025, 3, 3)  # deadline Monday 10 March 2025
GOOD = {"sent_on": D(2025, 3, 7), "place": "Records office, 200 Main St., Frankfort",
        "time": "9:00 a.m. to 4:00 p.m.", "earliest_date": D(2025, 3, 24),
        "reason": "Four officers' recordings of the incident (3 h 40 min) must each be reviewed "
                  "and thirty students blurred frame by frame before legal review."}


def test_a_complete_notice_passes() -> None:
    notice = DelayNotice(**GOOD)
    assert check_delay_notice(notice, received_on=RECEIVED) is notice


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        pytest.param({"place": " "}, "place", id="no-place"),
        pytest.param({"time": ""}, "time", id="no-time"),
        pytest.param({"reason": "In active use."}, "detailed explanation", id="statute-words"),
        pytest.param({"reason": "Redaction."}, "detailed explanation", id="too-short"),
        pytest.param({"earliest_date": D(2025, 3, 10)}, "within the five business days",
                     id="not-a-delay"),
        pytest.param({"earliest_date": D(2025, 3, 22)}, "not a business day", id="saturday"),
        pytest.param({"sent_on": D(2025, 3, 11)}, "after the five-business-day deadline",
                     id="sent-late"),
        pytest.param({"sent_on": D(2025, 2, 28)}, "before the request", id="sent-early"),
    ],
)
def test_an_incomplete_notice_is_refused(change: dict[str, object], fragment: str) -> None:
    notice = DelayNotice(**{**GOOD, **change})
    assert any(fragment in p for p in delay_notice_problems(notice, received_on=RECEIVED))
    with pytest.raises(InvalidDelayNotice) as info:
        check_delay_notice(notice, received_on=RECEIVED)
    assert info.value.code == "invalid_delay_notice"
    assert info.value.details["problems"]
