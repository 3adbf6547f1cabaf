"""The web app of a simulated year: `web.app:default_app` as `endorse serve` runs it, but an event
(a rating submitted, a coordinator's action) leaves its application marked for the day's run
instead of starting a flow run of its own.

Why: in production each event starts one reconcile on the worker (about a second of fixed cost
per flow run). A simulated day holds many events and lasts a moment, so the simulator runs one
incremental sweep at the end of the day, which reconciles every marked application in batches
(flows/sweep.py): the mark is committed with the event, exactly what the sweep picks up when
Prefect cannot take an event's run in production.
"""

from __future__ import annotations


def leave_to_the_days_run(application_id: str) -> None:
    """The event has committed with the application marked; the day's sweep reconciles it."""


def simulated_app():
    from web.app import default_app

    app = default_app()
    app.state.ctx.on_event = leave_to_the_days_run
    return app
