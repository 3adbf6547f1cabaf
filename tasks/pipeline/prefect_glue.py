"""The only place that knows Prefect's naming, tagging and artifact rules."""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy.orm import Session

from endorse import clock
from models import Application

RECONCILE_DEPLOYMENT = "reconcile-application/reconcile-application"


def artifact_key(application_id: str) -> str:
    # Prefect artifact keys: lowercase letters, digits and dashes only.
    return "application-" + re.sub(r"[^a-z0-9-]+", "-", application_id.lower()).strip("-")


def run_name(application_id: str, stage: str) -> str:
    return f"application-{application_id}-{stage}"


def run_tags(app: Application) -> list[str]:
    return [f"application:{app.id}", f"category:{app.category}", f"association:{app.association_code}",
            f"stage:{app.stage}"]


def describe(s: Session, application_id: str) -> tuple[str, list[str]]:
    app = s.get(Application, application_id)
    if app is None:
        raise LookupError(f"no application {application_id!r}")
    return run_name(app.id, app.stage), run_tags(app)


def ui_runs_url(ui_base: str, application_id: str) -> str:
    """The Prefect dashboard's run list filtered to one application's tag."""
    from urllib.parse import quote

    return f"{ui_base.rstrip('/')}/runs?tag={quote('application:' + application_id, safe='')}"


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
