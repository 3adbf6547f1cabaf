"""A simulated day's record (what happened, and where its wall time went) and the SMTP sink the
days' mail goes to, with the faults a real mail server shows."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path


@dataclass
class DayLog:
    day: date
    arrivals: int = 0
    sweep: dict = field(default_factory=dict)
    renewal: dict = field(default_factory=dict)
    delivered: int = 0
    faults: list[str] = field(default_factory=list)
    seconds: float = 0.0
    # wall seconds by phase (PHASES): where a day's time goes
    phases: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def timed(self, phase: str) -> Iterator[None]:
        t0 = time.monotonic()
        try:
            yield
        finally:
            self.phases[phase] = self.phases.get(phase, 0.0) + time.monotonic() - t0

    def phases_line(self) -> str:
        return ", ".join(f"{k} {self.phases[k]:.1f}" for k in PHASES if self.phases.get(k, 0) >= 0.05) or "nothing"


# A day's phases, in the order they run: applications imported; people's acts (coordinators, raters,
# reviewers, renewals, over HTTP or the CLI); the sweep (on the worker, or the day's incremental one);
# the renewal run; the outbox delivering; people reading the mail that arrived.
PHASES = ("import", "acts", "sweep", "renewal", "outbox", "mail")


class Sink:
    """The SMTP sink with the faults a real mail server shows: refusing (451) or slow."""

    def __init__(self, folder: Path):
        from endorse_cli.smtp_sink import SmtpSink

        self.sink = SmtpSink(folder)
        self.slow_seconds = 0.0
        handler = self.sink.handler
        original = handler.handle_DATA

        async def handle_data(server, session, envelope):
            import asyncio

            if self.slow_seconds:
                await asyncio.sleep(self.slow_seconds)
            return await original(server, session, envelope)

        handler.handle_DATA = handle_data

    @property
    def refusing(self) -> bool:
        return self.sink.handler.refuse

    @refusing.setter
    def refusing(self, value: bool) -> None:
        self.sink.handler.refuse = value
