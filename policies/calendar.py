"""Kentucky business days: the open-records response deadline of KRS 61.880(1).

KRS 61.880(1): the agency answers "within five (5) days, excepting Saturdays, Sundays, and legal
holidays". The holidays are those of Kentucky state employees (KRS 18A.190, 101 KAR 2:102).
Where we are unsure whether a day is a holiday we count it as a business day: the deadline then
falls earlier, never later, than the law allows.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

OPEN_RECORDS_RESPONSE_DAYS = 5

# The agency's clock: a request received at 11 pm is received that day, in Kentucky.
KENTUCKY = ZoneInfo("America/Kentucky/Louisville")

_SAT, _SUN = 5, 6


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    """The n-th `weekday` (0 = Monday) of a month; n = -1 for the last one."""
    if n > 0:
        first = dt.date(year, month, 1)
        return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    next_month = dt.date(year + month // 12, month % 12 + 1, 1)
    last = next_month - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


def _fixed_dates(year: int) -> list[dt.date]:
    """Holidays fixed to a calendar date, before weekend observance."""
    return [
        dt.date(year, 1, 1),  # New Year's Day
        dt.date(year, 7, 4),  # Independence Day
        dt.date(year, 11, 11),  # Veterans Day
        dt.date(year, 12, 24),  # Christmas Eve
        dt.date(year, 12, 25),  # Christmas Day
        dt.date(year, 12, 31),  # New Year's Eve
    ]


def _weekday_holidays(year: int) -> list[dt.date]:
    """Holidays defined as a weekday of a month; they never fall on a weekend."""
    thanksgiving = _nth_weekday(year, 11, 3, 4)  # fourth Thursday of November
    return [
        _nth_weekday(year, 1, 0, 3),  # Martin Luther King Jr. Day, third Monday of January
        _nth_weekday(year, 5, 0, -1),  # Memorial Day, last Monday of May
        _nth_weekday(year, 9, 0, 1),  # Labor Day, first Monday of September
        thanksgiving,
        thanksgiving + dt.timedelta(days=1),  # the Friday after Thanksgiving
    ]
    # Not counted (unsure, or not a full-day closing):
    # - Good Friday: a half-day holiday for state employees; offices open in the morning, so it
    #   is counted as a business day.
    # - Presidents' Day, Columbus Day, Juneteenth: not on the state employee schedule as far as
    #   we know (unsure; counsel to confirm against the current 101 KAR 2:102).
    # - Election days (primary and general): sometimes state holidays (unsure; not counted).


@lru_cache(maxsize=64)
def kentucky_holidays(year: int) -> frozenset[dt.date]:
    """The days Kentucky state offices are closed for a holiday in `year`, as observed."""
    observed: set[dt.date] = set(_weekday_holidays(year))
    # Weekend observance: Saturday -> the Friday before, Sunday -> the Monday after; when that
    # day is already a holiday (Christmas Eve and Christmas Day, New Year's Eve and Day), keep
    # moving the same way. Unsure: the Personnel Cabinet sets the observed days year by year.
    # New Year's Day of next year is included because its Saturday observance falls this year.
    for day in [*_fixed_dates(year), dt.date(year + 1, 1, 1)]:
        if day.weekday() == _SAT:
            step = dt.timedelta(days=-1)
        elif day.weekday() == _SUN:
            step = dt.timedelta(days=1)
        else:
            observed.add(day)
            continue
        moved = day + step
        while moved in observed or moved.weekday() in (_SAT, _SUN):
            moved += step
        observed.add(moved)
    return frozenset(d for d in observed if d.year == year)


def is_business_day(day: dt.date) -> bool:
    """True on a weekday that is not a Kentucky state holiday."""
    return day.weekday() < _SAT and day not in kentucky_holidays(day.year)


def add_business_days(start: dt.date, days: int) -> dt.date:
    """The `days`-th business day after `start` (the day of receipt itself is not counted)."""
    day = start
    counted = 0
    while counted < days:
        day += dt.timedelta(days=1)
        if is_business_day(day):
            counted += 1
    return day


def response_deadline(received_on: dt.date) -> dt.date:
    """The last day to answer an open-records request received on `received_on` (KRS 61.880(1))."""
    return add_business_days(received_on, OPEN_RECORDS_RESPONSE_DAYS)


def kentucky_today(now: dt.datetime | None = None) -> dt.date:
    """The agency's date at `now` (default: the current instant), in Kentucky."""
    return (now or dt.datetime.now(dt.UTC)).astimezone(KENTUCKY).date()
