"""Reconcile one application after an event (transcript recorded, rating or review in, coordinator action)."""

from __future__ import annotations

from prefect import flow, tags

from endorse.db import default_session_factory
from tasks.pipeline import (
    describe,
    name_this_run,
    parse_as_of,
    publish_application_artifact,
    reconcile_application_state,
    run_name,
)


def _run_name() -> str:
    from prefect.runtime import flow_run

    app_id = flow_run.parameters["application_id"]
    try:
        with default_session_factory()() as s:
            return describe(s, app_id)[0]
    except LookupError:
        return f"application-{app_id}-unknown"


@flow(name="reconcile-application", flow_run_name=_run_name, log_prints=True, timeout_seconds=5 * 60, retries=2,
      retry_delay_seconds=10)
def reconcile_application(application_id: str, as_of: str | None = None) -> dict:
    outcome = reconcile_application_state(application_id, parse_as_of(as_of))
    publish_application_artifact(application_id)
    name_this_run(run_name(application_id, outcome["stage"]))  # named after the stage reached
    return outcome


def reconcile_in_process(application_id: str, as_of: str | None = None) -> dict:
    """Run the flow here (ephemeral Prefect or a configured server) with the coordinator-facing tags."""
    with default_session_factory()() as s:
        _, run_tags = describe(s, application_id)
    with tags(*run_tags):
        return reconcile_application(application_id, as_of)
