"""Prefect tasks: thin wrappers over the pipeline's plain functions (only I/O tasks retry)."""

from __future__ import annotations

import asyncio
from datetime import date

from prefect import task
from prefect.artifacts import create_table_artifact

from endorse.db import default_session_factory
from endorse.rulebook import default_library
from endorse.settings import get_settings
from tasks.config import PipelineConfig
from tasks.coordination.reports import pipeline_frame, pipeline_summary
from tasks.mail.outbox import SmtpConfig, deliver_due
from tasks.pipeline import reconcile as pipeline
from tasks.pipeline.prefect_report import (
    ARTIFACTS_PER_SWEEP,
    EVENTS_PER_SWEEP,
    pipeline_table,
    publish_application_artifacts,
    publish_due_artifacts,
    report_reconciled,
    report_summarized,
)
from tasks.references import requests as reference_requests
from tasks.transcripts import transcripts


def _config(as_of: date) -> PipelineConfig:
    settings = get_settings()
    return PipelineConfig(library=default_library(), as_of=as_of,
                                   secret_key=settings.secret_key.get_secret_value(), actor="system:pipeline")


@task
def reconcile_application_state(application_id: str, as_of: date) -> dict:
    """Evaluate one application and move it as far as its checklist allows (each transition logged
    and, under Prefect, sent as an event once committed)."""
    sessions = default_session_factory()
    out = pipeline.reconcile_one(sessions, application_id, _config(as_of))
    report_reconciled(sessions, [out], as_of)
    return {"stage": out.stage, "eligible": out.eligible,
            "transitions": [f"{t.from_stage} → {t.to_stage}: {t.reason}" for t in out.transitions]}


@task
def publish_application_artifact(application_id: str) -> None:
    """The application's live checklist and timeline, keyed so the dashboard shows the latest."""
    publish_application_artifacts(default_session_factory(), [application_id])


@task
def publish_due_application_artifacts(limit: int = ARTIFACTS_PER_SWEEP) -> dict:
    """The artifacts that are behind what changed (up to ``limit``; the next sweep takes the rest)."""
    return publish_due_artifacts(default_session_factory(), limit)


@task
def list_open_batches(batch_size: int) -> list[list[str]]:
    """Open applications in batches (ids only)."""
    with default_session_factory()() as s:
        ids = pipeline.open_application_ids(s)
    return [ids[i:i + batch_size] for i in range(0, len(ids), batch_size)]


@task
def plan_sweep(batch_size: int, as_of: date, full: bool = False) -> dict:
    """Which applications this sweep looks at: all open ones (asked for, or the rule files changed
    since the last full pass) or only those due or marked."""
    with default_session_factory()() as s:
        rules_changed = pipeline.full_sweep_needed(s, default_library())
        full = full or rules_changed
        ids = pipeline.open_application_ids(s) if full else pipeline.due_application_ids(s, as_of)
    return {"full": full, "rules_changed": rules_changed,
            "batches": [ids[i:i + batch_size] for i in range(0, len(ids), batch_size)]}


@task
def record_full_sweep(as_of: date) -> None:
    """Every batch of a full pass is done: later sweeps may be incremental under these rule files."""
    pipeline.record_full_sweep(default_session_factory(), _config(as_of))


@task
def advance_application_batch(ids: list[str], as_of: date, rules_changed: bool = False,
                              events: int = EVENTS_PER_SWEEP) -> dict:
    """One task for a whole batch: evaluate all, move the ones that can move. Then, after the
    commits, the first ``events`` transitions are logged and sent as events; the stages entered by
    the rest come back as ``over_cap`` for the sweep's summary event (the artifacts are its last step)."""
    sessions, reconciled = default_session_factory(), []
    counts = pipeline.advance_batch(sessions, ids, _config(as_of), rules_changed, reconciled=reconciled)
    left = report_reconciled(sessions, reconciled, as_of, cap=events)
    return counts | {"transition_events": counts["transitions"] - sum(left.values()), "over_cap": dict(left)}


@task
def summarize_transitions(over_cap: dict[str, int], sent: int, as_of: date) -> int:
    """One event (and one log line) for the transitions over the sweep's cap of events."""
    return report_summarized(over_cap, sent, as_of)


@task
def send_due_reminders(as_of: date) -> int:
    """Rating reminders due today (set-based)."""
    return reference_requests.send_due_reminders(default_session_factory(), _config(as_of))


@task
def remind_missing_transcripts(as_of: date) -> int:
    """Weekly reminder to applicants still missing transcripts."""
    return transcripts.remind_missing_transcripts(default_session_factory(), _config(as_of))


@task
def expire_stale_links(as_of: date) -> int:
    """Links past their expiry stop working."""
    return reference_requests.expire_stale_links(default_session_factory(), _config(as_of))


@task
def reassign_overdue_essays(as_of: date) -> int:
    """Essay reviews past their due date go to other reviewers (only the essays affected)."""
    from tasks.exam.review import expire_overdue_reviews

    cfg = _config(as_of)
    return expire_overdue_reviews(default_session_factory(), cfg.library, as_of=as_of, secret_key=cfg.secret_key)


@task
def remind_reviewers(as_of: date) -> int:
    """Reviewers with essays still to review, on the reminder days before their due date (one email each)."""
    from tasks.exam.review import remind_reviewers as remind

    return remind(default_session_factory(), _config(as_of).library, as_of=as_of)


@task
def reassign_overdue_application_reviews(as_of: date) -> int:
    """Application reviews past their due date go to other reviewers (only the applications affected)."""
    from tasks.application_review.rounds import expire_overdue_reviews

    cfg = _config(as_of)
    return expire_overdue_reviews(default_session_factory(), cfg.library, as_of=as_of, secret_key=cfg.secret_key)


@task
def remind_application_reviewers(as_of: date) -> int:
    """Application reviewers with applications still to review, on the reminder days before the due date."""
    from tasks.application_review.rounds import remind_reviewers as remind

    return remind(default_session_factory(), _config(as_of).library, as_of=as_of)


@task
def escalate_overdue_ratings(as_of: date) -> int:
    """Overdue ratings surface to the coordinator once."""
    return reference_requests.escalate_overdue(default_session_factory(), _config(as_of))


@task
def publish_pipeline_artifact(as_of: date) -> dict:
    """The whole pipeline as a table: stage × category × association, time in stage, what waits."""
    with default_session_factory()() as s:
        frame = pipeline_frame(s, as_of)
    summary = pipeline_summary(frame)
    create_table_artifact(pipeline_table(summary), key="pipeline",
                          description=f"Pipeline as of {as_of.isoformat()}")
    return {"applications": int(len(frame)), "overdue_ratings": int(frame["overdue_ratings"].sum()) if len(frame) else 0}


# The sweep's steps after its batches, in this order; every step is safe while another sweep runs it
# too (the database decides which run changes a row, and only that run audits or emails it).
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


@task
def follow_up_sweep(as_of: date) -> dict:
    """The sweep's steps after its batches, in order, as one task run: on most sweeps none has
    anything to do (each is one indexed query then), and a task run each cost more than all of them."""
    return {key: step.fn(as_of) for key, step in FOLLOW_UPS}


@task
def publish_sweep_artifacts(limit: int, as_of: date) -> dict:
    """The sweep's last reporting step, one task run: the application artifacts that are behind
    (``limit`` at most), then the pipeline table."""
    return publish_due_application_artifacts.fn(limit) | publish_pipeline_artifact.fn(as_of)


@task(retries=3, retry_delay_seconds=[10, 30, 90])
def deliver_queued_email(limit: int = 10_000) -> dict:
    """Send what is due in the outbox (SMTP is I/O: this task retries)."""
    settings = get_settings()
    smtp = SmtpConfig.from_settings(settings)
    report = asyncio.run(deliver_due(default_session_factory(), smtp, secret_key=settings.secret_key.get_secret_value(),
                                     base_url=settings.public_base_url, concurrency=settings.outbox_concurrency,
                                     max_attempts=settings.outbox_max_attempts, limit=limit))
    return report.__dict__


@task
def send_renewal_notices(as_of: date) -> int:
    """Renewal notices due today (set-based)."""
    from tasks.renewal import renewals as renewal

    return renewal.send_renewal_notices(default_session_factory(), _config(as_of))


@task
def lapse_unrenewed_endorsements(as_of: date) -> int:
    """Endorsements past their grace period without an accepted renewal lapse (audited, never silently)."""
    from tasks.renewal import renewals as renewal

    return renewal.lapse_unrenewed(default_session_factory(), _config(as_of))


@task
def record_completed_run(flow_name: str, summary: dict) -> None:
    """A scheduled flow's last step: the dashboard shows when it last completed, without asking Prefect."""
    from prefect.runtime import flow_run

    from tasks.coordination.runs import record_completed_run as record

    record(default_session_factory(), flow_name, summary, flow_run_id=flow_run.id)


@task
def queue_orchestration_alert(alert: str, *, flow_name: str, event: str, flow_run_name: str, flow_run_id: str) -> int:
    """Check what the automation passed (no free text reaches an email), then queue one email per coordinator."""
    from prefect.runtime import flow_run

    from tasks.coordination.alerts import checked_alert, queue_coordinator_alert

    checked = checked_alert(alert, flow_name=flow_name, event=event, flow_run_name=flow_run_name,
                            flow_run_id=flow_run_id, alert_run_id=flow_run.id or "")
    return queue_coordinator_alert(default_session_factory(), checked, prefect_ui_url=get_settings().prefect_ui_url)
