"""What a reconcile tells Prefect once its transactions have committed: an event per transition and a
log line per transition; and each application's artifact, published again only when what it shows
changed (``Application.artifact_due``, set in the reconcile's own transaction).

The Prefect server has no sign-in of its own, so nothing here carries more than ids, stages, the
category and the association: no names, emails or checklist details (a transition's reason can quote
a rater or an institution, so it stays in our audit log). Reporting never undoes or fails a
transition: it runs after the commit, and a Prefect that cannot take an event or an artifact is
logged and left (an artifact not published stays due: the next sweep publishes it).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterable
from datetime import date

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session, sessionmaker

from endorse.db import transaction
from models import Application
from tasks.coordination.reports import application_markdown
from endorse.prefect_links import application_resource_id, artifact_key
from tasks.pipeline.prefect_glue import transition_event_name
from tasks.pipeline.reconcile import MAX_STEPS, ReconcileOutcome

# Artifacts are one API call each (Prefect has no bulk endpoint): a few at a time rather than one after
# the other.
ARTIFACTS_AT_ONCE = 8
# At most this many per sweep, after its batches: the first sweep after importing 10,000 applications
# moves every one of them, and 10,000 uploads cost more than the reconciles. Later sweeps catch up,
# the most recently moved first (our own dashboard, the source of truth, is current all along).
ARTIFACTS_PER_SWEEP = 500
# At most this many transition events per sweep; the rest are counted in one summary event. A Prefect
# server without Redis holds 10,000 messages in its in-memory queue and drops the rest without a word
# (the first sweep after a 10,000-application import makes ~22,000 transitions); our audit log and
# dashboard hold every transition, so the events are a window on them, never the record.
EVENTS_PER_SWEEP = 1000
SUMMARY_EVENT = "endorse.sweep.transitions-summarized"

_log = logging.getLogger(__name__)


def under_prefect() -> bool:
    """Inside a flow or task run. Outside one (a reconcile run here without PREFECT_API_URL), nothing
    is sent: Prefect's events worker would otherwise start a temporary server to send it to."""
    from prefect.context import FlowRunContext, TaskRunContext

    return FlowRunContext.get() is not None or TaskRunContext.get() is not None


def _run_logger() -> logging.Logger | logging.LoggerAdapter:
    from prefect.logging import get_run_logger

    return get_run_logger() if under_prefect() else _log


def _transitions_logger() -> logging.Logger | logging.LoggerAdapter:
    """The run's logger for its transitions, at INFO. The CLI and ``endorse serve`` keep Prefect's
    console quiet (PREFECT_LOGGING_LEVEL=WARNING), which would drop them from the run's logs too:
    then they go to the run's logs on the Prefect server only, not to the console."""
    if not under_prefect() or logging.getLogger("prefect").isEnabledFor(logging.INFO):
        return _run_logger()
    logger = logging.getLogger("endorse.flow_runs")
    if not logger.handlers:
        from prefect.logging.handlers import APILogHandler

        logger.addHandler(APILogHandler())
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


def transition_events(outcomes: Iterable[ReconcileOutcome], labels: dict[str, tuple[str, str]],
                      as_of: date) -> list[dict]:
    """The events of these outcomes' transitions (keyword arguments of ``emit_event``), in order.

    ``labels`` gives each application's (category, association). Pure: tested without Prefect."""
    events = []
    for out in outcomes:
        category, association = labels[out.application_id]
        for t in out.transitions:
            events.append({
                "event": transition_event_name(t.to_stage),
                "resource": {"prefect.resource.id": application_resource_id(out.application_id),
                             "prefect.resource.name": out.application_id,
                             "endorse.stage": t.to_stage, "endorse.from-stage": t.from_stage,
                             "endorse.category": category, "endorse.association": association},
                "related": [{"prefect.resource.id": f"endorse.association.{association}",
                             "prefect.resource.role": "association", "prefect.resource.name": association},
                            {"prefect.resource.id": f"endorse.category.{category}",
                             "prefect.resource.role": "category", "prefect.resource.name": category}],
                "payload": {"from_stage": t.from_stage, "to_stage": t.to_stage, "as_of": as_of.isoformat()},
            })
    return events


def application_labels(s: Session, ids: Iterable[str]) -> dict[str, tuple[str, str]]:
    ids = list(ids)
    if not ids:
        return {}
    return {i: (c, a) for i, c, a in s.execute(select(Application.id, Application.category,
                                                      Application.association_code).where(Application.id.in_(ids)))}


def within_event_cap(outcomes: list[ReconcileOutcome], cap: int | None) -> tuple[list[ReconcileOutcome], Counter]:
    """The outcomes whose transitions fit in ``cap`` events (in order; the last one cut short if need
    be), and the stages entered by the transitions left over. Pure: tested without Prefect."""
    kept, left, room = [], Counter(), len(outcomes) * MAX_STEPS if cap is None else max(cap, 0)
    for out in outcomes:
        if not out.transitions:
            continue
        sent, rest = out.transitions[:room], out.transitions[room:]
        room -= len(sent)
        if sent:
            kept.append(ReconcileOutcome(out.application_id, out.stage, sent, out.eligible))
        left.update(t.to_stage for t in rest)
    return kept, left


def report_reconciled(sessions: sessionmaker[Session], outcomes: list[ReconcileOutcome], as_of: date,
                      cap: int | None = None) -> Counter:
    """Log each transition at INFO and, under Prefect, emit its event, for the first ``cap``
    transitions (all without one). Returns the stages entered by those left over, for the sweep's
    summary event. (Artifacts are published apart: ``publish_due_artifacts``.)"""
    outcomes, left = within_event_cap(outcomes, cap)
    logger = _transitions_logger()
    for out in outcomes:
        for t in out.transitions:
            logger.info("%s: %s → %s", out.application_id, t.from_stage, t.to_stage)
    if not under_prefect():
        return left
    try:
        emit_transition_events(sessions, outcomes, as_of)
    except Exception as exc:  # noqa: BLE001 - committed already: the report must not fail the run that moved them
        _warn_stopped(len(outcomes), exc)
    return left


def summary_event(left: dict[str, int], sent: int, as_of: date, run_id: str | None) -> dict:
    """The one event that stands for the transitions a sweep did not send one by one (keyword
    arguments of ``emit_event``). Pure: tested without Prefect."""
    total = sum(left.values())
    return {"event": SUMMARY_EVENT,
            "resource": {"prefect.resource.id": f"endorse.sweep.{run_id or as_of.isoformat()}",
                         "prefect.resource.name": f"sweep {as_of.isoformat()}"},
            "payload": {"as_of": as_of.isoformat(), "transitions_sent_as_events": sent,
                        "transitions_summarized": total, "stages_entered": dict(sorted(left.items())),
                        "see": "every transition is in the audit log (action stage.changed) and on the "
                               "coordinator's dashboard"}}


def report_summarized(left: dict[str, int], sent: int, as_of: date) -> int:
    """Emit the summary event and log one line for the transitions over the cap. Returns how many it
    stands for (0: nothing was over the cap, no event)."""
    total = sum(left.values())
    if not total:
        return 0
    _run_logger().info("%d more transitions (%s) not sent one by one (at most %d events a sweep): "
                       "they are in the audit log and on the dashboard", total,
                       ", ".join(f"{n} to {stage}" for stage, n in sorted(left.items())), EVENTS_PER_SWEEP)
    if under_prefect():
        from prefect.events import emit_event
        from prefect.runtime import flow_run

        try:
            emit_event(**summary_event(left, sent, as_of, flow_run.id))
        except Exception as exc:  # noqa: BLE001 - the transitions have committed and are in our audit log
            _run_logger().warning("the summary event was not sent: %s", type(exc).__name__)
    return total


def _warn_stopped(count: int, exc: Exception) -> None:
    _run_logger().warning("reporting %d reconciled application(s) to Prefect stopped: %s", count, type(exc).__name__)


def emit_transition_events(sessions: sessionmaker[Session], outcomes: list[ReconcileOutcome], as_of: date) -> int:
    """Hand the events to Prefect's events worker (a queue: sending happens in its own thread)."""
    from prefect.events import emit_event

    moved = [o for o in outcomes if o.transitions]
    if not moved:
        return 0
    with sessions() as s:
        labels = application_labels(s, [o.application_id for o in moved])
    emitted, previous = 0, None
    for kwargs in transition_events(moved, labels, as_of):
        # Successive transitions of one application say which came first (they share a timestamp's
        # resolution often enough to be shown out of order otherwise).
        same_app = previous is not None and previous.resource.id == kwargs["resource"]["prefect.resource.id"]
        try:
            previous = emit_event(**kwargs, follows=previous if same_app else None)
        except Exception as exc:  # noqa: BLE001 - the transition has committed; an event is not worth failing it
            _run_logger().warning("event %s of %s not sent: %s", kwargs["event"],
                                  kwargs["resource"]["prefect.resource.id"], type(exc).__name__)
            previous = None
            continue
        emitted += previous is not None
    return emitted


def pipeline_table(summary) -> list[dict]:
    """The pipeline summary as the rows of the ``pipeline`` table artifact, in columns that fit the
    Prefect UI's artifact page: short headers, and time in stage as one column ("median (max)")."""
    return [{"stage": r.stage, "category": r.category, "association": r.association,
             "applications": int(r.applications),
             "days in stage": f"{r.median_days_in_stage:g} (max {r.max_days_in_stage:g})",
             "overdue ratings": int(r.overdue_ratings), "awaited transcripts": int(r.awaited_transcripts)}
            for r in summary.itertuples(index=False)]


def due_artifact_ids(s: Session, limit: int) -> list[str]:
    """Applications whose artifact is behind, the most recently moved first."""
    return list(s.scalars(select(Application.id).where(Application.artifact_due.is_(True))
                          .order_by(Application.stage_entered_at.desc(), Application.id).limit(limit)))


def publish_due_artifacts(sessions: sessionmaker[Session], limit: int = ARTIFACTS_PER_SWEEP) -> dict[str, int]:
    """The sweep's last reporting step: publish up to ``limit`` artifacts that are behind. Returns how
    many were published and how many stay due for the next sweep. Never fails the sweep."""
    with sessions() as s:
        ids = due_artifact_ids(s, limit)
    published = 0
    if ids:
        try:
            published = publish_application_artifacts(sessions, ids)
        except Exception as exc:  # noqa: BLE001 - they stay due: the next sweep tries again
            _warn_stopped(len(ids), exc)
    with sessions() as s:
        left = s.scalar(select(func.count()).select_from(Application).where(Application.artifact_due.is_(True)))
    return {"artifacts_published": published, "artifacts_due": int(left or 0)}


def publish_application_artifacts(sessions: sessionmaker[Session], ids: list[str]) -> int:
    """Each application's markdown artifact (its key keeps only the latest in the Prefect UI's list);
    those published are no longer due unless the application changed while this ran."""
    if not ids:
        return 0
    with sessions() as s:
        pages = [(app.id, app.version_id, application_markdown(s, app.id), _where_it_is(app))
                 for app in (s.get(Application, app_id) for app_id in ids) if app is not None]
    done = asyncio.run(_publish([(app_id, md, description) for app_id, _, md, description in pages]))
    published = [{"b_id": app_id, "b_version": version} for (app_id, version, _, _), ok in zip(pages, done) if ok]
    if published:
        clear_artifact_due(sessions, published)
    return len(published)


def clear_artifact_due(sessions: sessionmaker[Session], published: list[dict]) -> None:
    # Bookkeeping of what Prefect holds, not a state change of the application (no audit, no version
    # bump); a row whose version moved since it was read changed after its page was made: still due.
    table = Application.__table__
    stmt = (table.update().where(table.c.id == bindparam("b_id"), table.c.version_id == bindparam("b_version"))
            .values(artifact_due=False))
    with transaction(sessions) as s:
        s.connection().execute(stmt, published)


def _where_it_is(app: Application) -> str:
    # The description heads the Prefect UI's page of the key: where the application is, at a glance.
    return f"{app.id}: {app.stage.replace('_', ' ')} ({app.category}, {app.association_code})"


async def _publish(pages: list[tuple[str, str, str]]) -> list[bool]:
    from prefect.artifacts import MarkdownArtifact
    from prefect.client.orchestration import get_client

    gate = asyncio.Semaphore(ARTIFACTS_AT_ONCE)

    async def one(client, app_id: str, md: str, description: str) -> bool:
        async with gate:
            try:
                await MarkdownArtifact(key=artifact_key(app_id), markdown=md,
                                       description=description).acreate(client=client)
                return True
            except Exception as exc:  # noqa: BLE001 - it stays due: the next sweep publishes it
                _run_logger().warning("artifact %s not published: %s", artifact_key(app_id), type(exc).__name__)
                return False

    async with get_client() as client:
        return list(await asyncio.gather(*(one(client, *page) for page in pages)))


__all__ = ["ARTIFACTS_PER_SWEEP", "EVENTS_PER_SWEEP", "SUMMARY_EVENT", "application_labels", "clear_artifact_due", "due_artifact_ids", "emit_transition_events", "pipeline_table",
           "publish_application_artifacts", "publish_due_artifacts", "report_reconciled", "report_summarized", "summary_event",
           "transition_events", "within_event_cap",
           "under_prefect"]
