"""Kentucky business days and the open-records clocks: KRS 61.880(1), (2)(b), (5)(a), 446.030.

KRS 61.880(1): the agency answers "within five (5) days, excepting Saturdays, Sundays, and legal
holidays". The holidays are those of Kentucky state employees, KRS 18A.190(1) (confirmed text in
policies/SOURCES.md): New Year's Day plus one extra day, the third Monday in January, Good Friday
(one half day), the last Monday in May, the fourth of July, the first Monday in September, the
eleventh of November, presidential election day (KRS 2.190), Thanksgiving plus one extra day and
Christmas plus one extra day. A day falling on a Saturday is observed the Friday before, one on a
Sunday the Monday after (KRS 18A.190(2)). The Governor designates the extra days; we take them as
Christmas Eve, New Year's Eve and the Friday after Thanksgiving (the designation is assumed, see
SOURCES.md), and when Christmas Eve or New Year's Eve falls on a weekend next to its holiday the
extra day moves on to the next free weekday rather than being lost (2023, 2028, 2034).
Good Friday is a half day: offices open in the morning, so it counts as a business day, which
makes a deadline earlier, never later.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

from policies.errors import InvalidExtension

OPEN_RECORDS_RESPONSE_DAYS = 5  # KRS 61.880(1)
AG_DECISION_DAYS = 20  # KRS 61.880(2)(a), excepting Saturdays, Sundays and legal holidays
AG_EXTENSION_MAX_WORK_DAYS = 30  # KRS 61.880(2)(b), "an additional thirty (30) work days"
COURT_APPEAL_DAYS = 30  # KRS 61.880(5)(a), calendar days from the AG's decision

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


def presidential_election_day(year: int) -> dt.date | None:
    """The Tuesday after the first Monday in November of a presidential election year (KRS 2.190),
    or None in other years."""
    if year % 4:
        return None
    return _nth_weekday(year, 11, 0, 1) + dt.timedelta(days=1)


def _fixed_holidays(year: int) -> list[dt.date]:
    """The holidays KRS 18A.190(1) fixes to a calendar date, before weekend observance."""
    return [
        dt.date(year, 1, 1),  # (a) New Year's Day
        dt.date(year, 7, 4),  # (e) Independence Day
        dt.date(year, 11, 11),  # (g) Veterans Day
        dt.date(year, 12, 25),  # (j) Christmas Day
    ]


def _extra_days(year: int) -> list[dt.date]:
    """The extra days of KRS 18A.190(1)(a) and (j) as we assume the Governor designates them:
    Christmas Eve and New Year's Eve (the eve of the next year's New Year's Day)."""
    return [dt.date(year, 12, 24), dt.date(year, 12, 31)]


def _weekday_holidays(year: int) -> list[dt.date]:
    """Holidays defined as a weekday of a month; they never fall on a weekend."""
    thanksgiving = _nth_weekday(year, 11, 3, 4)  # (i) fourth Thursday of November
    days = [
        _nth_weekday(year, 1, 0, 3),  # (b) Martin Luther King Jr. Day, third Monday of January
        _nth_weekday(year, 5, 0, -1),  # (d) Memorial Day, last Monday of May
        _nth_weekday(year, 9, 0, 1),  # (f) Labor Day, first Monday of September
        thanksgiving,
        thanksgiving + dt.timedelta(days=1),  # (i) its extra day, the Friday after
    ]
    election = presidential_election_day(year)  # (h), KRS 2.190
    return [*days, election] if election else days
    # Not holidays under KRS 18A.190(1): Presidents' Day, Columbus Day, Juneteenth, primary
    # election days. Good Friday (c) is a half day and counts as a business day.


def _observe(day: dt.date) -> dt.date:
    """KRS 18A.190(2): Saturday is observed the Friday before, Sunday the Monday after."""
    if day.weekday() == _SAT:
        return day - dt.timedelta(days=1)
    if day.weekday() == _SUN:
        return day + dt.timedelta(days=1)
    return day


@lru_cache(maxsize=64)
def kentucky_holidays(year: int) -> frozenset[dt.date]:
    """The days Kentucky state offices are closed for a holiday in `year`, as observed."""
    taken: set[dt.date] = set(_weekday_holidays(year))
    # A neighbouring year's holiday can be observed in this one (New Year's Day on a Saturday is
    # observed on 31 December), so the fixed holidays of three years are placed first.
    for y in (year - 1, year, year + 1):
        taken.update(_observe(day) for day in _fixed_holidays(y))
    # Then each extra day, on its own date when that is a free weekday; otherwise it moves away
    # from the weekend (Saturday: earlier; Sunday: later) or, on a weekday its holiday's
    # observance took (Christmas on a Saturday is observed Friday the 24th), earlier, until a
    # free weekday. So Christmas Eve 2023 (a Sunday, Christmas on Monday) is Tuesday the 26th.
    for y in (year - 1, year):
        for day in _extra_days(y):
            step = dt.timedelta(days=1 if day.weekday() == _SUN else -1)
            while day in taken or day.weekday() in (_SAT, _SUN):
                day += step
            taken.add(day)
    return frozenset(d for d in taken if d.year == year)


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


def next_business_day_on_or_after(day: dt.date) -> dt.date:
    """`day` itself when it is a business day, else the next one."""
    while not is_business_day(day):
        day += dt.timedelta(days=1)
    return day


def court_appeal_deadline(decided_on: dt.date) -> dt.date:
    """The last day to appeal an Attorney General's open-records decision to circuit court.

    KRS 61.880(5)(a): thirty days from the day the decision is rendered; KRS 446.030(1)(a): the
    day of the decision is not counted, and a last day falling on a Saturday, Sunday or legal
    holiday runs to the end of the next day that is none of these.
    """
    return next_business_day_on_or_after(decided_on + dt.timedelta(days=COURT_APPEAL_DAYS))


def ag_decision_due(filed_on: dt.date, *, extended_to: dt.date | None = None) -> dt.date:
    """The day the Attorney General's decision on an appeal filed on `filed_on` is due.

    KRS 61.880(2)(a): within twenty days, excepting Saturdays, Sundays and legal holidays. KRS
    61.880(2)(b): in unusual circumstances the Attorney General may extend it by written notice
    naming the day the decision is expected, "which shall not exceed an additional thirty (30)
    work days"; `extended_to` is that day, refused (InvalidExtension) when it is before the
    original due day or more than thirty work days after it.
    """
    due = add_business_days(filed_on, AG_DECISION_DAYS)
    if extended_to is None:
        return due
    latest = add_business_days(due, AG_EXTENSION_MAX_WORK_DAYS)
    if not due <= extended_to <= latest:
        raise InvalidExtension(
            f"an extension to {extended_to} is outside KRS 61.880(2)(b): after {due} and no more "
            f"than {AG_EXTENSION_MAX_WORK_DAYS} work days later ({latest})",
            filed_on=filed_on.isoformat(), due=due.isoformat(), latest=latest.isoformat(),
            extended_to=extended_to.isoformat())
    return extended_to
