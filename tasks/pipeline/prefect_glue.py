"""Prefect's run naming, tagging and triggering for the pipeline. The application's Prefect addresses as
plain strings (artifact key, event resource, UI links) are in endorse/prefect_links.py, free of Prefect."""

from __future__ import annotations

from datetime import date, timezone

from sqlalchemy.orm import Session

from endorse import clock
from models import Application

RECONCILE_DEPLOYMENT = "reconcile-application/reconcile-application"


def run_name(application_id: str, stage: str) -> str:
    return f"application-{application_id}-{stage}"


def transition_event_name(to_stage: str) -> str:
    # One event name per stage entered, so an automation or a feed filter can pick a kind of transition
    # (``endorse.application.entered.endorsed``) or all of them (``endorse.application.entered.*``).
    return f"endorse.application.entered.{to_stage}"


def scheduled_run_name() -> str:
    """A scheduled flow's run name: ``sweep-2026-11-22T11:00Z``, the time the run was scheduled for
    (UTC), or ``sweep-2026-11-22`` for a run asked to act as of a day (``as_of``); ``-full`` for a
    full pass asked for."""
    from prefect.runtime import flow_run

    parameters = flow_run.parameters
    as_of = parameters.get("as_of")
    when = str(as_of) if as_of else f"{flow_run.scheduled_start_time.astimezone(timezone.utc):%Y-%m-%dT%H:%M}Z"
    return f"{flow_run.flow_name}-{when}" + ("-full" if parameters.get("full") else "")


def name_this_run(name: str) -> None:
    """Rename the current flow run once what it did is known (a reconcile's stage reached)."""
    from prefect.client.orchestration import get_client
    from prefect.runtime import flow_run

    if flow_run.id is None:  # called outside a flow run: nothing to rename
        return
    with get_client(sync_client=True) as client:
        client.set_flow_run_name(flow_run.id, name)


def run_tags(app: Application) -> list[str]:
    return [f"application:{app.id}", f"category:{app.category}", f"association:{app.association_code}",
            f"stage:{app.stage}"]


def describe(s: Session, application_id: str) -> tuple[str, list[str]]:
    app = s.get(Application, application_id)
    if app is None:
        raise LookupError(f"no application {application_id!r}")
    return run_name(app.id, app.stage), run_tags(app)


def parse_as_of(as_of: str | None) -> date:
    return date.fromisoformat(as_of) if as_of else clock.today()


def trigger_reconcile(application_id: str, *, wait: bool = False, as_of: str | None = None):
    """Start a reconcile run on the Prefect server (the path a web handler uses after an event).

    Only the application id (and, to replay a day, the as-of date) travels as a parameter: no token,
    no personal data.
    """
    from prefect.deployments import run_deployment

    from endorse.db import default_session_factory

    with default_session_factory()() as s:
        name, tags = describe(s, application_id)
    parameters = {"application_id": application_id} | ({"as_of": as_of} if as_of else {})
    return run_deployment(RECONCILE_DEPLOYMENT, parameters=parameters,
                          flow_run_name=name, tags=tags, timeout=None if wait else 0, as_subflow=False)
