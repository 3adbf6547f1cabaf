"""Deliver what is due in the outbox."""

from __future__ import annotations

from prefect import flow

from tasks.pipeline import deliver_queued_email, record_completed_run, scheduled_run_name


# SMTP retries are the task's (with backoff); the flow retries once more after a crash of its own,
# and gives up after 10 minutes so a hung connection cannot hold the outbox's slot for ever.
@flow(name="deliver-outbox", flow_run_name=scheduled_run_name, log_prints=True,
      timeout_seconds=10 * 60, retries=1, retry_delay_seconds=30)
def deliver_outbox(limit: int = 10_000) -> dict:
    report = deliver_queued_email(limit)
    record_completed_run("deliver-outbox", report)
    return report
