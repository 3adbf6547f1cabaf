"""Deliver what is due in the outbox."""

from __future__ import annotations

from prefect import flow

from tasks.flow_tasks import deliver_queued_email


@flow(name="deliver-outbox", log_prints=True)
def deliver_outbox(limit: int = 10_000) -> dict:
    return deliver_queued_email(limit)
