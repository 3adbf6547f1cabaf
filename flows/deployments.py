"""The deployments `endorse serve` serves (the same ones prefect.yaml declares for a work pool)."""

from __future__ import annotations

SWEEP_CRON = "*/15 * * * *"
OUTBOX_INTERVAL_SECONDS = 60
RENEWAL_CRON = "0 6 * * *"


def build_deployments() -> list:
    from flows.alert import alert_coordinators
    from flows.deliver_outbox import deliver_outbox
    from flows.reconcile import reconcile_application
    from flows.renewal import renewal
    from flows.sweep import sweep

    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy

    # As in prefect.yaml: one run of each scheduled deployment at a time, a new one while it runs is cancelled.
    one = ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW)
    return [
        sweep.to_deployment(name="sweep", cron=SWEEP_CRON, tags=["endorse", "sweep"], concurrency_limit=one),
        deliver_outbox.to_deployment(name="deliver-outbox", interval=OUTBOX_INTERVAL_SECONDS, tags=["endorse", "outbox"],
                                     concurrency_limit=one),
        reconcile_application.to_deployment(name="reconcile-application", tags=["endorse", "reconcile"]),
        renewal.to_deployment(name="renewal", cron=RENEWAL_CRON, tags=["endorse", "renewal"], concurrency_limit=one),
        alert_coordinators.to_deployment(name="alert-coordinators", tags=["endorse", "alert"]),
    ]


def serve_deployments(limit: int | None = None) -> None:
    from prefect import serve

    serve(*build_deployments(), limit=limit)
