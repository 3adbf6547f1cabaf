"""The daily renewal run: notices before the deadline, lapses after the grace period."""

from __future__ import annotations

from prefect import flow

from tasks.pipeline import (
    lapse_unrenewed_endorsements,
    parse_as_of,
    record_completed_run,
    scheduled_run_name,
    send_renewal_notices,
)


@flow(name="renewal", flow_run_name=scheduled_run_name, log_prints=True,
      timeout_seconds=30 * 60, retries=2, retry_delay_seconds=300)
def renewal(as_of: str | None = None) -> dict:
    day = parse_as_of(as_of)
    done = {"notices": send_renewal_notices(day), "lapsed": lapse_unrenewed_endorsements(day)}
    record_completed_run("renewal", done)
    return done
