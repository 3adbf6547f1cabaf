"""After a coordinator's action: get its application reconciled now, whether Prefect is up or not.

The action has already committed with the application marked ``needs_reconcile`` (same
transaction), so nothing here can lose work: if Prefect cannot take the reconcile, the next sweep
does it (the sweep reconciles every marked application and clears the mark in that reconcile's
transaction). Without a Prefect API configured the reconcile runs here, as plain functions: no
temporary Prefect server is started on this path.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from endorse.errors import one_line

HEALTH_TIMEOUT_SECONDS = 5.0


def prefect_api_url() -> str | None:
    """PREFECT_API_URL from the environment (read now, not when Prefect was imported), else the profile's."""
    import os

    from prefect.settings import PREFECT_API_URL

    return os.environ.get("PREFECT_API_URL") or PREFECT_API_URL.value() or None


def shown(url: str) -> str:
    """The URL without any user:password, for a message or a log."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else ""))) \
        if parts.hostname else url


def prefect_problem(api: str, timeout: float = HEALTH_TIMEOUT_SECONDS) -> str | None:
    """None when the Prefect API answers its health check in time, else why not (one line).

    A client of our own on that URL: Prefect's get_client() falls back to starting a temporary
    server when it has no URL, which this path must never do."""
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_KEY

    with SyncPrefectClient(api, auth_string=PREFECT_API_AUTH_STRING.value(), api_key=PREFECT_API_KEY.value(),
                           httpx_settings={"timeout": timeout}) as client:
        exc = client.api_healthcheck()
    return None if exc is None else one_line(exc)


def reconcile_after_event(application_id: str, as_of: str | None = None) -> tuple[str, dict | None]:
    """Reconcile the application (here, or on Prefect when an API is configured).

    Returns the line to show the coordinator and, for a reconcile run here, its outcome. Never
    raises because Prefect is down: the application stays marked and the sweep catches up."""
    api = prefect_api_url()
    if not api:
        from tasks.pipeline import parse_as_of, reconcile_application_state

        # The flow's own task function, run without Prefect (the artifact is the sweep's to publish).
        outcome = reconcile_application_state.fn(application_id, parse_as_of(as_of))
        return f"{application_id} reconciled here: stage {outcome['stage']}", outcome
    problem = prefect_problem(api)
    if problem is None:
        from prefect.settings import PREFECT_API_URL, temporary_settings

        from tasks.pipeline import trigger_reconcile

        try:
            with temporary_settings({PREFECT_API_URL: api}):  # the URL read above, whatever Prefect loaded at import
                trigger_reconcile(application_id, as_of=as_of)
            return f"reconcile of {application_id} submitted to Prefect", None
        except Exception as exc:  # noqa: BLE001 - whatever Prefect says, the action stands and the sweep catches up
            problem = one_line(exc)
    return (f"Prefect at {shown(api)} could not take the reconcile of {application_id} ({problem}); "
            f"it is marked and the next sweep will reconcile it"), None
