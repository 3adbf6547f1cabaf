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
    advance_application_batch,
    escalate_overdue_ratings,
    expire_stale_links,
    parse_as_of,
    plan_sweep,
    publish_due_application_artifacts,
    publish_pipeline_artifact,
    reassign_overdue_application_reviews,
    reassign_overdue_essays,
    record_completed_run,
    record_full_sweep,
    remind_missing_transcripts,
    remind_application_reviewers,
    remind_reviewers,
    scheduled_run_name,
    send_due_reminders,
    summarize_transitions,
)

# After the batches, in this order; every step is safe while another sweep runs it too (the
# database decides which run changes a row, and only that run audits or emails it).
FOLLOW_UPS = (
    ("reminders", send_due_reminders),
    ("transcript_reminders", remind_missing_transcripts),
    ("expired_links", expire_stale_links),
    ("escalated", escalate_overdue_ratings),
    ("essay_reviews_reassigned", reassign_overdue_essays),
    ("reviewer_reminders", remind_reviewers),
    ("application_reviews_reassigned", reassign_overdue_application_reviews),
    ("application_reviewer_reminders", remind_application_reviewers),
)


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
    for key, step in FOLLOW_UPS:
        moved[key] = step(day)
    # Last, off the path of the moves and emails: the artifacts behind what changed, ``artifacts`` at most.
    moved.update(publish_due_application_artifacts(artifacts))
    moved.update(publish_pipeline_artifact(day))
    record_completed_run("sweep", moved)
    return moved
