"""Email the coordinators about the pipeline itself, through the outbox (run by Prefect automations)."""

from __future__ import annotations

from prefect import flow

from tasks.flow_tasks import queue_orchestration_alert


@flow(name="alert-coordinators", log_prints=True, timeout_seconds=2 * 60, retries=2, retry_delay_seconds=30)
def alert_coordinators(alert: str, flow_name: str = "", event: str = "", flow_run_name: str = "",
                       flow_run_id: str = "") -> int:
    return queue_orchestration_alert(alert, flow_name=flow_name, event=event, flow_run_name=flow_run_name,
                                     flow_run_id=flow_run_id)
