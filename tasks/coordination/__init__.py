"""Coordination: what a coordinator sees and keeps (dashboard queries, charts, exports, reports, the
scheduled runs' record, alerts about failed runs) and the accounts that may sign in."""

from tasks.coordination.accounts import set_coordinator
from tasks.coordination.alerts import checked_alert, queue_coordinator_alert
from tasks.coordination.charts import pipeline_chart, reviewer_load_chart
from tasks.coordination.dashboard import application_page
from tasks.coordination.exports import to_csv_bytes, to_xlsx_bytes
from tasks.coordination.reports import application_markdown, pipeline_frame, pipeline_summary
from tasks.coordination.runs import record_completed_run, scheduled_runs_view

__all__ = [
    "application_markdown",
    "application_page",
    "checked_alert",
    "pipeline_chart",
    "pipeline_frame",
    "pipeline_summary",
    "queue_coordinator_alert",
    "record_completed_run",
    "reviewer_load_chart",
    "scheduled_runs_view",
    "set_coordinator",
    "to_csv_bytes",
    "to_xlsx_bytes",
]
