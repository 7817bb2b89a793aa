"""Kentucky business days and the KRS 61.880(1) five-day deadline, on known dates."""

from __future__ import annotations

import datetime as dt

import pytest

from policies.calendar import (
    add_business_days,
    is_business_day,
    kentucky_holidays,
    response_deadline,
)

D = dt.date


@pytest.mark.parametrize(
    ("received", "deadline"),
    [
        pytest.param(D(2025, 3, 3), D(2025, 3, 10), id="monday-no-holiday"),
        pytest.param(D(2025, 3, 7), D(2025, 3, 14), id="friday-skips-weekend"),
        pytest.param(D(2025, 3, 8), D(2025, 3, 14), id="received-on-saturday"),
        # Thanksgiving 2025 is Thursday 27 November; the Friday after is a state holiday too.
        pytest.param(D(2025, 11, 26), D(2025, 12, 5), id="day-before-thanksgiving"),
        pytest.param(D(2025, 11, 25), D(2025, 12, 4), id="two-days-before-thanksgiving"),
        # Christmas Eve, Christmas, New Year's Eve and New Year's Day 2025-26 (Wed-Thu, Wed-Thu).
        pytest.param(D(2025, 12, 19), D(2025, 12, 30), id="before-christmas-2025"),
        pytest.param(D(2025, 12, 23), D(2026, 1, 5), id="christmas-and-new-year-2025"),
        pytest.param(D(2025, 12, 29), D(2026, 1, 7), id="new-year-2026"),
        # Good Friday (18 April 2025) is a half day: counted as a business day.
        pytest.param(D(2025, 4, 17), D(2025, 4, 24), id="good-friday-counts"),
        pytest.param(D(2025, 1, 17), D(2025, 1, 27), id="mlk-day"),
        pytest.param(D(2025, 5, 23), D(2025, 6, 2), id="memorial-day"),
        pytest.param(D(2025, 7, 3), D(2025, 7, 11), id="independence-day"),
        pytest.param(D(2025, 8, 29), D(2025, 9, 8), id="labor-day"),
        pytest.param(D(2025, 11, 10), D(2025, 11, 18), id="veterans-day"),
        # 4 July 2026 is a Saturday: observed Friday 3 July.
        pytest.param(D(2026, 7, 2), D(2026, 7, 10), id="independence-day-on-saturday"),
    ],
)
def test_response_deadline(received: dt.date, deadline: dt.date) -> None:
    assert response_deadline(received) == deadline


def test_weekend_observance_around_christmas_2022() -> None:
    # Christmas Eve and New Year's Eve fell on Saturdays, Christmas and New Year's Day on Sundays.
    holidays = kentucky_holidays(2022)
    assert {D(2022, 12, 23), D(2022, 12, 26), D(2022, 12, 30)} <= holidays
    assert D(2023, 1, 2) in kentucky_holidays(2023)


def test_colliding_observances_move_further() -> None:
    # 2021: Christmas on Saturday collides with Christmas Eve (Friday): observed Thursday 23rd;
    # New Year's Day 2022 on Saturday collides with New Year's Eve: observed Thursday 30th.
    assert {D(2021, 12, 23), D(2021, 12, 24), D(2021, 12, 30), D(2021, 12, 31)} <= (
        kentucky_holidays(2021))


def test_thanksgiving_is_the_fourth_thursday() -> None:
    assert {D(2024, 11, 28), D(2024, 11, 29)} <= kentucky_holidays(2024)
    assert {D(2026, 11, 26), D(2026, 11, 27)} <= kentucky_holidays(2026)


def test_business_days() -> None:
    assert is_business_day(D(2025, 4, 18))  # Good Friday, half day
    assert not is_business_day(D(2025, 11, 28))
    assert not is_business_day(D(2025, 3, 8))
    assert add_business_days(D(2025, 3, 3), 0) == D(2025, 3, 3)
