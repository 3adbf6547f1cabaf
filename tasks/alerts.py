"""Orchestration alerts to the coordinators, by email through the outbox.

Prefect automations (automations.yaml) run the ``alert-coordinators`` deployment when a sweep or
outbox run fails or crashes, or when no sweep has completed for twice its interval. Whoever can
reach the Prefect API can run that deployment, so nothing it passes becomes free text in an email:
the kind of alert picks our wording, and the run it names must look like a Prefect run (flow name
from our scheduled flows, a UUID, a state name).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from endorse.db import transaction
from models import Association, record_audit
from tasks.orchestration import SCHEDULED_EVERY_SECONDS, SCHEDULED_FLOWS
from tasks.outbox import queue_email

ALERTS = ("run-failed", "sweep-missing")
STATES = ("Failed", "Crashed", "TimedOut")
_RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class BadAlert(ValueError):
    """The alert's parameters are not what our automations send: nothing is queued."""


@dataclass(frozen=True)
class Alert:
    kind: str  # run-failed | sweep-missing
    key: str  # one email per coordinator per key (a re-run of the alert flow sends nothing new)
    flow_name: str = ""
    state: str = ""
    flow_run_name: str = ""
    flow_run_id: str = ""


def checked_alert(kind: str, *, flow_name: str = "", event: str = "", flow_run_name: str = "", flow_run_id: str = "",
                  alert_run_id: str = "") -> Alert:
    """The alert as our automations describe it, or BadAlert naming the parameter that is not."""
    if kind not in ALERTS:
        raise BadAlert(f"alert: {kind!r} is not one of {', '.join(ALERTS)}")
    if kind == "sweep-missing":
        return Alert(kind, key=f"sweep-missing:{_uuid('alert_run_id', alert_run_id)}", flow_name="sweep")
    if flow_name not in SCHEDULED_FLOWS:
        raise BadAlert(f"flow_name: {flow_name!r} is not one of {', '.join(SCHEDULED_FLOWS)}")
    state = event.rsplit(".", 1)[-1]
    if state not in STATES:
        raise BadAlert(f"event: {event!r} is not a failed, crashed or timed-out flow run")
    if not _RUN_NAME.match(flow_run_name):
        raise BadAlert(f"flow_run_name: {flow_run_name!r} is not a flow run name")
    run_id = _uuid("flow_run_id", flow_run_id)
    return Alert(kind, key=f"run-failed:{run_id}", flow_name=flow_name, state=state, flow_run_name=flow_run_name,
                 flow_run_id=run_id)


def _uuid(field: str, value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise BadAlert(f"{field}: {value!r} is not a run id") from None


def queue_coordinator_alert(sessions: sessionmaker[Session], alert: Alert, *, prefect_ui_url: str | None) -> int:
    """One email to each association's coordinator, in one transaction with its audit entry.
    Returns how many were newly queued (0 when this alert was sent before)."""
    with transaction(sessions) as s:
        queued = 0
        for assoc in s.scalars(select(Association).order_by(Association.code)):
            queued += queue_email(
                s, role="coordinator.orchestration_alert", to_email=assoc.coordinator_email,
                to_name=assoc.coordinator_name, association=assoc.code,
                idempotency_key=f"alert:{alert.key}:{assoc.code}",
                context={"alert": alert.kind, "flow_name": alert.flow_name, "state": alert.state,
                         "flow_run_name": alert.flow_run_name, "flow_run_id": alert.flow_run_id,
                         "minutes": 2 * SCHEDULED_EVERY_SECONDS["sweep"] // 60,
                         "runs_url": _runs_url(prefect_ui_url, alert)}).new
        if queued:
            record_audit(s, actor="system:automation", action="orchestration.alerted", entity_type="alert",
                         entity_id=alert.key, alert=alert.kind, flow_name=alert.flow_name, state=alert.state,
                         emails=queued)
    return queued


def _runs_url(ui: str | None, alert: Alert) -> str:
    if not ui:
        return ""
    base = ui.rstrip("/")
    return f"{base}/runs/flow-run/{alert.flow_run_id}" if alert.flow_run_id else f"{base}/runs"
