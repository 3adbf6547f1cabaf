"""Calendar arithmetic the rules need: months, inclusive day ranges, unions of periods.

Periods are inclusive ``(start, end)`` date pairs: a job from 2024-01-01 to 2024-01-31 is 31 days.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import Iterable

DAYS_PER_YEAR_OF_EXPERIENCE = 365  # any run of N calendar years covers at least 365·N days
ONE_DAY = timedelta(days=1)


def add_months(d: date, months: int) -> date:
    """The same day ``months`` later, clamped to the month's end (Jan 31 + 1 month = Feb 28/29)."""
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def add_years(d: date, years: int) -> date:
    return add_months(d, 12 * years)


def days_inclusive(start: date, end: date) -> int:
    return (end - start).days + 1 if end >= start else 0


def merge_periods(periods: Iterable[tuple[date, date]]) -> list[tuple[date, date]]:
    """Union of inclusive periods, sorted; touching periods (one ends the day before the next) merge."""
    out: list[tuple[date, date]] = []
    for start, end in sorted(periods):
        if end < start:
            continue
        if out and (start - out[-1][1]).days <= 1:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def covered_days(periods: Iterable[tuple[date, date]]) -> int:
    """Days covered by at least one period: overlapping periods count once."""
    return sum(days_inclusive(s, e) for s, e in merge_periods(periods))


def overlap_days(a: tuple[date, date], b: tuple[date, date]) -> int:
    return days_inclusive(max(a[0], b[0]), min(a[1], b[1]))


def spans_at_least_months(first: date, last: date, months: int) -> bool:
    """Whether the inclusive period first..last lasts ``months`` calendar months or more."""
    return last >= add_months(first, months) - ONE_DAY


def date_when_covered(
    periods: list[tuple[date, date]], already: int, needed: int
) -> date | None:
    """The day on which ``already`` + the days of ``periods`` (merged, in order) reach ``needed``."""
    remaining = needed - already
    if remaining <= 0:
        return None
    for start, end in merge_periods(periods):
        n = days_inclusive(start, end)
        if n >= remaining:
            return start + timedelta(days=remaining - 1)
        remaining -= n
    return None
