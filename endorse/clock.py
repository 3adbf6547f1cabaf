"""One clock for the whole system: the moment that stands for an as-of date.

In production the as-of date is today and this is the real time. Evaluating or replaying "as of"
another day (tests, the demo, a re-run) gives noon UTC of that day, so links issued, ratings
submitted and decisions taken in that run all agree with the day they are evaluated on.

A simulated year (`endorse simulate`) moves every process of the stack to the same day at once:
``ENDORSE_CLOCK_FILE`` names a file holding that day (YYYY-MM-DD), which the simulator rewrites as
its days pass. The file is read on every call, so the web app and the workers, started once, follow
it; while it is set, every moment of a day is that day's noon (a replay, never the real time).
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, time
from pathlib import Path

CLOCK_FILE_ENV = "ENDORSE_CLOCK_FILE"


def utcnow() -> datetime:
    return datetime.now(UTC)


def simulated_today() -> date | None:
    """The day of a simulation's clock file, None when no simulation runs."""
    path = os.environ.get(CLOCK_FILE_ENV)
    if not path:
        return None
    text = Path(path).read_text().strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{path} ({CLOCK_FILE_ENV}): {text!r} is not a date YYYY-MM-DD") from None


def today() -> date:
    """The as-of date of a command or page given none: today, or the simulated day."""
    return simulated_today() or date.today()


def now_for(as_of: date) -> datetime:
    if simulated_today() is None and as_of == date.today():
        return utcnow()
    return datetime.combine(as_of, time(12, 0), tzinfo=UTC)
