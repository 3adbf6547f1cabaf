"""``endorse reconcile`` (one application now) and ``endorse sweep`` (the scheduled pass, by hand)."""

from __future__ import annotations

from typing import Annotated

import typer

from endorse_cli.commands.common import AsOf, after_event, as_of_date, prefect_for_this_command, refusals, sessions
from endorse_cli.output import EXIT_OK


@refusals
def reconcile(
    application: Annotated[str, typer.Argument(metavar="APPLICATION", help="the application's id")],
    as_of: AsOf = None,
) -> int:
    """Re-evaluate one application now and move it as far as its checklist allows.

    On the Prefect server when PREFECT_API_URL is set, else here. Use it after fixing something by hand,
    instead of waiting for the next sweep.
    """
    if as_of:
        as_of_date(as_of)  # a bad date is refused before anything is submitted
    sessions()
    after_event(application, as_of)
    return EXIT_OK


def sweep(
    batch_size: Annotated[int, typer.Option("--batch-size", help="applications per batch")] = 1000,
    as_of: AsOf = None,
    full: Annotated[bool, typer.Option(
        "--full", help="re-evaluate every open application (done by itself when the rule files change)")] = False,
) -> int:
    """Run the sweep now: evaluate and move the applications due or marked.

    The applications due or marked are evaluated and moved, then reminders, expired links, escalations and
    reviewer follow-ups. It runs every 15 minutes under `endorse serve`; run it by hand after an import, or
    with --full after editing the rules.
    """
    from endorse_cli.display import watched
    from endorse_cli.output import sweep_line
    from flows.sweep import sweep as sweep_flow

    if as_of:
        as_of_date(as_of)
    factory = sessions()
    with prefect_for_this_command(), watched("sweeping", lambda: _evaluated_since(factory, as_of, full)):
        result = sweep_flow(batch_size=batch_size, as_of=as_of, full=full)
    print(sweep_line(result, as_of))
    return EXIT_OK


def _evaluated_since(factory, as_of: str | None, full: bool):
    """(applications written since the sweep began, applications it looks at), for the progress bar:
    the flow runs in this process, its progress is read from the database it writes."""
    from sqlalchemy import func, select

    from endorse.clock import utcnow
    from endorse.rulebook import default_library
    from models import Application
    from tasks.pipeline.reconcile import due_application_ids, full_sweep_needed, open_application_ids

    started = utcnow()
    with factory() as s:
        everything = full or full_sweep_needed(s, default_library())
        total = len(open_application_ids(s) if everything else due_application_ids(s, as_of_date(as_of)))

    def count() -> tuple[int, int]:
        with factory() as s:
            done = s.scalar(select(func.count()).select_from(Application).where(Application.updated_at >= started))
        return min(done, total), total
    return count
