"""Coordinators are alerted by email, through the outbox, when a sweep or outbox run fails or no sweep
completes (issue 11, item 6). The alert flow takes only what our automations send: whoever reaches the
Prefect API cannot put words of their own in an email to the coordinators."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from endorse.db import transaction
from endorse.rulebook import default_library
from models import Association, AuditLog, OutboxMessage
from tasks.alerts import BadAlert, checked_alert, queue_coordinator_alert
from tasks.records import ensure_associations

RUN_ID = str(uuid.uuid4())
FAILED_SWEEP = dict(flow_name="sweep", event="prefect.flow-run.Crashed", flow_run_name="brave-otter", flow_run_id=RUN_ID)

REFUSED = [
    ("an alert kind we do not send", dict(kind="anything", **FAILED_SWEEP), "alert"),
    ("a flow that is not scheduled", dict(kind="run-failed", **{**FAILED_SWEEP, "flow_name": "reconcile-application"}),
     "flow_name"),
    ("a state that is not a failure", dict(kind="run-failed", **{**FAILED_SWEEP, "event": "prefect.flow-run.Completed"}),
     "event"),
    ("words in place of a run name", dict(kind="run-failed", **{**FAILED_SWEEP, "flow_run_name": "Click <a href=x>here</a>"}),
     "flow_run_name"),
    ("a run id that is not one", dict(kind="run-failed", **{**FAILED_SWEEP, "flow_run_id": "1; reset password"}),
     "flow_run_id"),
    ("a missing-sweep alert without its own run id", dict(kind="sweep-missing"), "alert_run_id"),
]


@pytest.mark.parametrize("case,params,field", REFUSED, ids=[c[0] for c in REFUSED])
def test_an_alert_not_as_our_automations_send_it_is_refused_naming_the_parameter(case, params, field):
    kind = params.pop("kind")
    with pytest.raises(BadAlert, match=f"^{field}:"):
        checked_alert(kind, **params)


@pytest.fixture
def associations(sessions):
    with transaction(sessions) as s:
        ensure_associations(s, default_library())
    return sessions


def _emails(sessions) -> list[OutboxMessage]:
    with sessions() as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_a_failed_sweep_emails_every_coordinator_once_through_the_outbox(associations):
    alert = checked_alert("run-failed", **FAILED_SWEEP)
    n = queue_coordinator_alert(associations, alert, prefect_ui_url="http://prefect.example.org")
    with associations() as s:
        coordinators = set(s.scalars(select(Association.coordinator_email)))
    emails = _emails(associations)
    assert n == len(coordinators) == len(emails) and {m.recipient_email for m in emails} == coordinators
    m = emails[0]
    assert m.status == "queued" and m.role == "coordinator.orchestration_alert"
    assert m.subject == "Endorsement pipeline: a sweep run crashed"
    assert "brave-otter" in m.body_text and f"http://prefect.example.org/runs/flow-run/{RUN_ID}" in m.body_text
    # The automation fires again for the same run (or the alert flow retries): nothing new.
    assert queue_coordinator_alert(associations, alert, prefect_ui_url=None) == 0
    assert len(_emails(associations)) == len(coordinators)
    with associations() as s:
        assert s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "orchestration.alerted")) == 1


def test_no_sweep_lately_is_one_email_per_coordinator_per_firing(associations):
    first = checked_alert("sweep-missing", alert_run_id=str(uuid.uuid4()))
    again = checked_alert("sweep-missing", alert_run_id=str(uuid.uuid4()))
    assert queue_coordinator_alert(associations, first, prefect_ui_url=None) > 0
    assert queue_coordinator_alert(associations, first, prefect_ui_url=None) == 0
    assert queue_coordinator_alert(associations, again, prefect_ui_url=None) > 0  # still no sweep 30 minutes on
    m = _emails(associations)[0]
    assert m.subject == "Endorsement pipeline: no sweep has completed for 30 minutes"
    assert "Prefect server and its workers" in m.body_text
