"""The pipeline: moves each application through the stages (reconcile one, advance a batch) and holds
the Prefect tasks and naming that the flows call. The top of tasks/: it may use every stage."""

from tasks.pipeline.prefect_glue import artifact_key, describe, parse_as_of, trigger_reconcile, ui_runs_url
from tasks.pipeline.prefect_tasks import (
    advance_application_batch,
    deliver_queued_email,
    escalate_overdue_ratings,
    expire_stale_links,
    lapse_unrenewed_endorsements,
    list_open_batches,
    plan_sweep,
    publish_application_artifact,
    publish_pipeline_artifact,
    queue_orchestration_alert,
    reassign_overdue_essays,
    reconcile_application_state,
    record_completed_run,
    record_full_sweep,
    remind_missing_transcripts,
    remind_reviewers,
    send_due_reminders,
    send_renewal_notices,
)
from tasks.pipeline.reconcile import open_application_ids, reconcile_one

__all__ = [
    "artifact_key",
    "describe",
    "parse_as_of",
    "trigger_reconcile",
    "ui_runs_url",
    "advance_application_batch",
    "deliver_queued_email",
    "escalate_overdue_ratings",
    "expire_stale_links",
    "lapse_unrenewed_endorsements",
    "list_open_batches",
    "plan_sweep",
    "open_application_ids",
    "publish_application_artifact",
    "publish_pipeline_artifact",
    "queue_orchestration_alert",
    "reassign_overdue_essays",
    "reconcile_application_state",
    "reconcile_one",
    "record_completed_run",
    "record_full_sweep",
    "remind_missing_transcripts",
    "remind_reviewers",
    "send_due_reminders",
    "send_renewal_notices",
]
