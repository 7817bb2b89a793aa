"""The KRS 61.872(5) delay notice: what it must say, checked before the letter goes out.

KRS 61.872(5): if the record is "in active use, in storage or not otherwise available", the
custodian notifies the applicant and designates a place, time and date for inspection within the
five days, "unless a detailed explanation of the cause is given for further delay and the place,
time, and earliest date on which the public record will be available for inspection". The Attorney
General finds a violation where the explanation is not detailed or the date is not kept (22-ORD-132,
25-ORD-012, 24-ORD-273).
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict

from policies.calendar import is_business_day, response_deadline
from policies.errors import InvalidDelayNotice

DELAY_CITATION = "KRS 61.872(5); KRS 61.880(1)"
MIN_REASON_CHARS = 40
# The statute's own words are the condition for a delay, not the "detailed explanation" of it.
_BARE_REASONS = {"in active use", "in storage", "not otherwise available", "active use",
                 "storage", "unavailable", "pending review", "under review"}


class DelayNotice(BaseModel):
    """A delay notice as the custodian writes it (KRS 61.872(5))."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sent_on: dt.date
    place: str
    time: str
    earliest_date: dt.date
    reason: str


def delay_notice_problems(notice: DelayNotice, *, received_on: dt.date) -> list[str]:
    """Everything KRS 61.872(5) and 61.880(1) would find wrong with `notice` (empty when none)."""
    problems = []
    deadline = response_deadline(received_on)
    if notice.sent_on < received_on:
        problems.append(f"sent_on {notice.sent_on} is before the request was received "
                        f"({received_on})")
    if notice.sent_on > deadline:
        problems.append(f"sent_on {notice.sent_on} is after the five-business-day deadline "
                        f"{deadline} (KRS 61.880(1))")
    if not notice.place.strip():
        problems.append("place: say where the recording will be available (KRS 61.872(5))")
    if not notice.time.strip():
        problems.append("time: say at what time it will be available (KRS 61.872(5))")
    if notice.earliest_date <= deadline:
        problems.append(f"earliest_date {notice.earliest_date} is within the five business days "
                        f"(by {deadline}): designate the inspection instead of a delay notice")
    elif not is_business_day(notice.earliest_date):
        problems.append(f"earliest_date {notice.earliest_date} is not a business day")
    reason = " ".join(notice.reason.split())
    if reason.lower().strip(" .") in _BARE_REASONS or len(reason) < MIN_REASON_CHARS:
        problems.append("reason: give a detailed explanation of the cause of the delay (what "
                        "must be done to this recording and why it takes until the earliest "
                        "date), not the statute's words (KRS 61.872(5); 25-ORD-012)")
    return problems


def check_delay_notice(notice: DelayNotice, *, received_on: dt.date) -> DelayNotice:
    """`notice` when it says what KRS 61.872(5) requires; InvalidDelayNotice listing every gap."""
    problems = delay_notice_problems(notice, received_on=received_on)
    if problems:
        raise InvalidDelayNotice("the delay notice does not meet KRS 61.872(5): "
                                 + "; ".join(problems), problems=problems)
    return notice
