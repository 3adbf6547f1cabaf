"""The only place that knows Prefect's naming, tagging and artifact rules."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

from sqlalchemy.orm import Session

from endorse import clock
from models import Application

RECONCILE_DEPLOYMENT = "reconcile-application/reconcile-application"


def artifact_key(application_id: str) -> str:
    # Prefect artifact keys: lowercase letters, digits and dashes only.
    return "application-" + re.sub(r"[^a-z0-9-]+", "-", application_id.lower()).strip("-")


def run_name(application_id: str, stage: str) -> str:
    return f"application-{application_id}-{stage}"


def application_resource_id(application_id: str) -> str:
    """The Prefect event resource of an application (the event feed filters on it)."""
    return f"endorse.application.{application_id}"


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


def ui_runs_url(ui_base: str, application_id: str) -> str:
    """The Prefect dashboard's run list filtered to one application's tag."""
    from urllib.parse import quote

    return f"{ui_base.rstrip('/')}/runs?tag={quote('application:' + application_id, safe='')}"


def ui_artifact_url(ui_base: str, application_id: str) -> str:
    """The application's artifact in the Prefect UI (its latest version, by key)."""
    return f"{_ui_v2(ui_base)}/artifacts/key/{artifact_key(application_id)}"


def ui_events_url(ui_base: str, application_id: str, since: datetime, until: datetime) -> str:
    """The Prefect UI's event feed filtered to the application, from ``since`` to ``until``.

    The feed's search parameters are those of Prefect 3.8.8's UI (ui-v2 ``/events/`` route:
    ``resource`` a JSON list of resource id prefixes, ``rangeType=range`` with ISO ``start`` and ``end``)."""
    import json
    from urllib.parse import urlencode

    def iso(t: datetime) -> str:
        t = t if t.tzinfo else t.replace(tzinfo=timezone.utc)
        return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")

    query = urlencode({"resource": json.dumps([application_resource_id(application_id)]), "rangeType": "range",
                       "start": iso(since), "end": iso(until)})
    return f"{_ui_v2(ui_base)}/events/?{query}"


def prefect_ui_base(ui_url: str | None, api_url: str | None) -> str | None:
    """Where coordinators open the Prefect UI: PREFECT_UI_URL, else the API's address without ``/api``
    (and without any user:password it carries)."""
    from urllib.parse import urlsplit, urlunsplit

    if ui_url:
        return ui_url.rstrip("/")
    if not api_url:
        return None
    parts = urlsplit(api_url.rstrip("/"))
    netloc = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc, path=parts.path.removesuffix("/api"))).rstrip("/")


def application_prefect_links(s: Session, application_id: str, ui_base: str, now: datetime) -> dict[str, str]:
    """The application page's links into the Prefect UI: its runs, its artifact, and its events over
    its whole life (from a day before it was first recorded to a day after now)."""
    from sqlalchemy import func, select

    from models import AuditLog

    app = s.get(Application, application_id)
    if app is None:
        raise LookupError(f"no application {application_id!r}")
    first = s.scalar(select(func.min(AuditLog.at)).where(AuditLog.application_id == application_id))
    since = min(t if t.tzinfo else t.replace(tzinfo=timezone.utc) for t in (app.created_at, first or app.created_at))
    until = now if now.tzinfo else now.replace(tzinfo=timezone.utc)
    return {"runs": ui_runs_url(ui_base, application_id), "artifact": ui_artifact_url(ui_base, application_id),
            "events": ui_events_url(ui_base, application_id, since - timedelta(days=1), until + timedelta(days=1))}


def _ui_v2(ui_base: str) -> str:
    # Prefect serves its current UI under /v2 next to the classic one (server/api/server.py,
    # UI_VERSION_PATH_SEGMENT); a base that already names it is kept as it is.
    base = ui_base.rstrip("/")
    return base if base.endswith("/v2") else f"{base}/v2"


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
