"""The scheduled sweep, in batches (one task per batch, never per application).

Incremental: only applications due (a day their checklist can change by time alone has come) or
marked (an event, an import, a coordinator action). A full pass over every open application runs
when asked (``full=True``, ``endorse sweep --full``) and when the rule files changed since the last
full pass."""

from __future__ import annotations

from collections import Counter

from prefect import flow

from tasks.pipeline import (
    ARTIFACTS_PER_SWEEP,
    EVENTS_PER_SWEEP,
    FOLLOW_UPS,
    advance_application_batch,
    follow_up_sweep,
    parse_as_of,
    plan_sweep,
    publish_sweep_artifacts,
    record_completed_run,
    record_full_sweep,
    scheduled_run_name,
    summarize_transitions,
)

__all__ = ["FOLLOW_UPS", "sweep"]


# A sweep of 10 000 applications takes a few minutes; one hung on a lock must not hold the slot
# of the next 15-minute run. A failed sweep retries once: every step is safe to run again.
@flow(name="sweep", flow_run_name=scheduled_run_name, log_prints=True,
      timeout_seconds=12 * 60, retries=1, retry_delay_seconds=60)
def sweep(batch_size: int = 1000, as_of: str | None = None, full: bool = False,
          artifacts: int = ARTIFACTS_PER_SWEEP, events: int = EVENTS_PER_SWEEP) -> dict:
    day = parse_as_of(as_of)
    plan = plan_sweep(batch_size, day, full)
    moved = {"full": plan["full"], "evaluated": 0, "reconciled": 0, "transitions": 0, "rescheduled": 0,
             "transition_events": 0}
    over_cap = Counter()
    for batch in plan["batches"]:
        counts = advance_application_batch(batch, day, plan["rules_changed"], events - moved["transition_events"])
        over_cap.update(counts.pop("over_cap"))
        for k, v in counts.items():
            moved[k] += v
    # Past the cap of events a sweep sends one by one: one event that stands for the rest.
    moved["transitions_summarized"] = summarize_transitions(dict(over_cap), moved["transition_events"], day) \
        if over_cap else 0
    if plan["full"]:
        record_full_sweep(day)
    # A task run costs more than a step with nothing to do: the follow-ups are one task, the
    # artifacts another (last, off the path of the moves and emails: ``artifacts`` at most).
    moved.update(follow_up_sweep(day))
    moved.update(publish_sweep_artifacts(artifacts, day))
    record_completed_run("sweep", moved)
    return moved
