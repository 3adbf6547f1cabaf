"""The deployments `endorse serve` serves (the same ones prefect.yaml declares for a work pool)."""

from __future__ import annotations

SWEEP_CRON = "*/15 * * * *"
OUTBOX_INTERVAL_SECONDS = 60
RENEWAL_CRON = "0 6 * * *"


def build_deployments() -> list:
    from flows.deliver_outbox import deliver_outbox
    from flows.reconcile import reconcile_application
    from flows.renewal import renewal
    from flows.sweep import sweep

    return [
        sweep.to_deployment(name="sweep", cron=SWEEP_CRON, tags=["endorse", "sweep"]),
        deliver_outbox.to_deployment(name="deliver-outbox", interval=OUTBOX_INTERVAL_SECONDS, tags=["endorse", "outbox"]),
        reconcile_application.to_deployment(name="reconcile-application", tags=["endorse", "reconcile"]),
        renewal.to_deployment(name="renewal", cron=RENEWAL_CRON, tags=["endorse", "renewal"]),
    ]


def serve_deployments(limit: int | None = None, pause_on_shutdown: bool = True) -> None:
    from prefect import serve

    serve(*build_deployments(), limit=limit, pause_on_shutdown=pause_on_shutdown)
