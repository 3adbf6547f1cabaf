"""What every stage's database step is given: the rulebook library, the as-of date, the link secret
and who acts. The CLI, the web app and the Prefect tasks build one; the stage packages only read it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from endorse.clock import now_for
from endorse.rulebook import RulebookLibrary


@dataclass(frozen=True)
class PipelineConfig:
    library: RulebookLibrary
    as_of: date
    secret_key: str
    actor: str = "system"


def _now_for(as_of: date) -> datetime:
    # Timestamps follow the as-of date so a re-run "as of" a day behaves like that day.
    return now_for(as_of)
