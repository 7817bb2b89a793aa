"""Kentucky business days and the KRS 61.880(1) five-day deadline, on known dates."""

from __future__ import annotations

import datetime as dt

import pytest

from policies.calendar import (
    add_business_days,
    ag_decision_due,
    court_appeal_deadline,
    is_business_day,
    kentucky_holidays,
    presidential_election_day,
    response_deadline,
)
from policies.errors import InvalidExtension

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


# KRS 2.190: "The Tuesday after the first Monday in November in Presidential election years shall
# be a state holiday on which all state offices ... shall be closed"; KRS 18A.190(1)(h).
@pytest.mark.parametrize("day", [D(2024, 11, 5), D(2028, 11, 7), D(2032, 11, 2)])
def test_presidential_election_day_is_a_holiday(day: dt.date) -> None:
    assert presidential_election_day(day.year) == day
    assert not is_business_day(day)


@pytest.mark.parametrize("day", [D(2025, 11, 4), D(2026, 11, 3), D(2027, 11, 2)])
def test_other_election_days_are_business_days(day: dt.date) -> None:
    assert presidential_election_day(day.year) is None
    assert is_business_day(day)


def test_deadline_skips_presidential_election_day() -> None:
    # Received Thursday 31 October 2024: Fri 1, Mon 4, (Tue 5 closed), Wed 6, Thu 7, Fri 8.
    assert response_deadline(D(2024, 10, 31)) == D(2024, 11, 8)


# KRS 18A.190(1)(a), (j): "The first day of January plus one (1) extra day" and "The twenty-fifth
# day of December plus one (1) extra day"; (2): Sunday is observed the Monday after. When Christmas
# Eve and New Year's Eve fall on a Sunday, Monday is already Christmas / New Year's Day: the extra
# day is not lost but moves to Tuesday.
@pytest.mark.parametrize("year", [2023, 2028, 2034])
def test_sunday_eves_do_not_lose_the_extra_day(year: int) -> None:
    assert D(year, 12, 24).weekday() == 6
    assert D(year, 12, 31).weekday() == 6
    assert {D(year, 12, 25), D(year, 12, 26)} <= kentucky_holidays(year)
    assert {D(year + 1, 1, 1), D(year + 1, 1, 2)} <= kentucky_holidays(year + 1)
    # two Christmas days and two New Year's days: nothing between 24 Dec and 2 Jan is lost
    closed = [d for d in (D(year, 12, 22) + dt.timedelta(days=n) for n in range(12))
              if not is_business_day(d) and d.weekday() < 5]
    assert closed == [D(year, 12, 25), D(year, 12, 26), D(year + 1, 1, 1), D(year + 1, 1, 2)]


def test_christmas_2023_deadline() -> None:
    # Received Friday 22 December 2023: Wed 27, Thu 28, Fri 29, Wed 3 Jan, Thu 4 Jan.
    assert response_deadline(D(2023, 12, 22)) == D(2024, 1, 4)


def test_every_year_has_its_statutory_number_of_closed_weekdays() -> None:
    # KRS 18A.190(1): eleven full days and Good Friday's half day (counted open), plus election
    # day in presidential years; each observed on a distinct weekday, none lost to a collision.
    # New Year's Day and its extra day may be observed in the year before (a Saturday New Year,
    # as 2000) or both extra days in the year after (a Sunday New Year's Eve), so a single year
    # has up to two days more or fewer; over a century they balance out.
    for year in range(2000, 2101):
        count = 11 + (presidential_election_day(year) is not None)
        assert abs(len(kentucky_holidays(year)) - count) <= 2, year
    total = sum(len(kentucky_holidays(y)) for y in range(2001, 2101))
    expected = 11 * 100 + sum(presidential_election_day(y) is not None for y in range(2001, 2101))
    assert abs(total - expected) <= 4
    assert all(d.weekday() < 5 for y in range(2000, 2101) for d in kentucky_holidays(y))


# KRS 61.880(5)(a): "A party shall have thirty (30) days from the day that the Attorney General
# renders his or her decision to appeal the decision"; KRS 446.030(1)(a): the day of the act is not
# counted; a last day on "a Saturday, a Sunday, a legal holiday" runs "until the end of the next
# day which is not one of the days just mentioned".
@pytest.mark.parametrize(
    ("decided", "deadline"),
    [
        pytest.param(D(2025, 3, 3), D(2025, 4, 2), id="plain-wednesday"),
        pytest.param(D(2025, 3, 8), D(2025, 4, 7), id="ends-on-a-monday"),
        pytest.param(D(2025, 3, 1), D(2025, 3, 31), id="ends-on-a-monday-2"),
        pytest.param(D(2025, 3, 7), D(2025, 4, 7), id="saturday-rolls-to-monday"),
        pytest.param(D(2025, 8, 2), D(2025, 9, 2), id="labor-day-monday-rolls-to-tuesday"),
        pytest.param(D(2025, 11, 25), D(2025, 12, 26), id="christmas-thursday-rolls-to-friday"),
        pytest.param(D(2024, 10, 6), D(2024, 11, 6), id="election-day-rolls"),
        pytest.param(D(2023, 11, 25), D(2023, 12, 27), id="christmas-2023-collision"),
    ],
)
def test_court_appeal_deadline(decided: dt.date, deadline: dt.date) -> None:
    assert court_appeal_deadline(decided) == deadline


def test_court_appeal_deadline_is_never_earlier_than_thirty_days() -> None:
    for n in range(400):
        decided = D(2024, 1, 1) + dt.timedelta(days=n)
        deadline = court_appeal_deadline(decided)
        assert deadline >= decided + dt.timedelta(days=30)
        assert is_business_day(deadline)
        assert deadline - decided <= dt.timedelta(days=35)


# KRS 61.880(2)(a): the Attorney General decides "within twenty (20) days, excepting Saturdays,
# Sundays, and legal holidays"; (2)(b): an extension "shall not exceed an additional thirty (30)
# work days, excepting Saturdays, Sundays, and legal holidays".
def test_ag_decision_due_and_its_extension() -> None:
    filed = D(2025, 3, 3)
    due = ag_decision_due(filed)
    assert due == D(2025, 3, 31)
    assert add_business_days(filed, 20) == due
    latest = add_business_days(due, 30)
    assert latest == D(2025, 5, 12)
    assert ag_decision_due(filed, extended_to=latest) == latest
    assert ag_decision_due(filed, extended_to=D(2025, 4, 15)) == D(2025, 4, 15)


@pytest.mark.parametrize("extended_to", [D(2025, 5, 13), D(2025, 3, 28)])
def test_ag_extension_out_of_range_is_refused(extended_to: dt.date) -> None:
    with pytest.raises(InvalidExtension) as info:
        ag_decision_due(D(2025, 3, 3), extended_to=extended_to)
    assert info.value.code == "invalid_ag_extension"
    assert info.value.details["latest"] == "2025-05-12"
