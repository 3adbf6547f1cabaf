"""Where an application lives in Prefect, as plain strings: its artifact key, its event resource, and
the Prefect UI's addresses for its runs, artifact and events.

Deliberately free of Prefect imports: the web app links to the Prefect UI on every application page,
and importing Prefect there would read Prefect's settings at import time (the reason `endorse serve`
once sent its deployments to a temporary server of Prefect's own) and cost the app a second and a
half to start. tests/web/test_app_imports.py holds the web app to it."""

from __future__ import annotations

import re
from datetime import datetime, timezone


def artifact_key(application_id: str) -> str:
    # Prefect artifact keys: lowercase letters, digits and dashes only.
    return "application-" + re.sub(r"[^a-z0-9-]+", "-", application_id.lower()).strip("-")


def application_resource_id(application_id: str) -> str:
    """The Prefect event resource of an application (the event feed filters on it)."""
    return f"endorse.application.{application_id}"


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


def _ui_v2(ui_base: str) -> str:
    # Prefect serves its current UI under /v2 next to the classic one (server/api/server.py,
    # UI_VERSION_PATH_SEGMENT); a base that already names it is kept as it is.
    base = ui_base.rstrip("/")
    return base if base.endswith("/v2") else f"{base}/v2"
