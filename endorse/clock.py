"""One clock for the whole system: the moment that stands for an as-of date.

In production the as-of date is today and this is the real time. Evaluating or replaying "as of"
another day (tests, the demo, a re-run) gives noon UTC of that day, so links issued, ratings
submitted and decisions taken in that run all agree with the day they are evaluated on.
"""

from __future__ import annotations

from datetime import date, datetime, time, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def now_for(as_of: date) -> datetime:
    return utcnow() if as_of == date.today() else datetime.combine(as_of, time(12, 0), tzinfo=timezone.utc)
