"""The daily renewal run: notices before the deadline, lapses after the grace period."""

from __future__ import annotations

from prefect import flow

from flows.prefect_glue import parse_as_of
from tasks.flow_tasks import lapse_unrenewed_endorsements, record_completed_run, send_renewal_notices


@flow(name="renewal", log_prints=True, timeout_seconds=30 * 60, retries=2, retry_delay_seconds=300)
def renewal(as_of: str | None = None) -> dict:
    day = parse_as_of(as_of)
    done = {"notices": send_renewal_notices(day), "lapsed": lapse_unrenewed_endorsements(day)}
    record_completed_run("renewal", done)
    return done
