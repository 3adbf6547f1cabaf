"""What a reconcile tells Prefect once its transactions have committed: an event per transition, a log
line per transition, and the application's artifact.

The Prefect server has no sign-in of its own, so nothing here carries more than ids, stages, the
category and the association: no names, emails or checklist details (a transition's reason can quote
a rater or an institution, so it stays in our audit log). Reporting never undoes or fails a
transition: it runs after the commit, and a Prefect that cannot take an event or an artifact is
logged and left (the next change of the application publishes its artifact again).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import Application
from tasks.coordination.reports import application_markdown
from endorse.prefect_links import application_resource_id, artifact_key
from tasks.pipeline.prefect_glue import transition_event_name
from tasks.pipeline.reconcile import ReconcileOutcome

# Artifacts are one API call each: a sweep that moved thousands of applications sends them a few at a
# time rather than one after the other.
ARTIFACTS_AT_ONCE = 8

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


def report_reconciled(sessions: sessionmaker[Session], outcomes: list[ReconcileOutcome], as_of: date, *,
                      artifacts: bool) -> int:
    """Log each transition at INFO and, under Prefect, emit its event (and, with ``artifacts``, publish
    the artifact of every application reconciled). Returns the number of events emitted."""
    logger = _transitions_logger()
    for out in outcomes:
        for t in out.transitions:
            logger.info("%s: %s → %s", out.application_id, t.from_stage, t.to_stage)
    if not under_prefect():
        return 0
    try:
        emitted = emit_transition_events(sessions, outcomes, as_of)
        if artifacts:
            publish_application_artifacts(sessions, [o.application_id for o in outcomes])
    except Exception as exc:  # noqa: BLE001 - committed already: the report must not fail the run that moved them
        _run_logger().warning("reporting %d reconciled application(s) to Prefect stopped: %s", len(outcomes),
                              type(exc).__name__)
        return 0
    return emitted


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


def publish_application_artifacts(sessions: sessionmaker[Session], ids: list[str]) -> int:
    """Each application's markdown artifact (its key keeps only the latest in the Prefect UI's list)."""
    if not ids:
        return 0
    with sessions() as s:
        pages = [(app_id, application_markdown(s, app_id), _where_it_is(s.get(Application, app_id))) for app_id in ids]
    return asyncio.run(_publish(pages))


def _where_it_is(app: Application) -> str:
    # The description heads the Prefect UI's page of the key: where the application is, at a glance.
    return f"{app.id}: {app.stage.replace('_', ' ')} ({app.category}, {app.association_code})"


async def _publish(pages: list[tuple[str, str, str]]) -> int:
    from prefect.artifacts import MarkdownArtifact
    from prefect.client.orchestration import get_client

    gate = asyncio.Semaphore(ARTIFACTS_AT_ONCE)

    async def one(client, app_id: str, md: str, description: str) -> bool:
        async with gate:
            try:
                await MarkdownArtifact(key=artifact_key(app_id), markdown=md,
                                       description=description).acreate(client=client)
                return True
            except Exception as exc:  # noqa: BLE001 - the next change of the application publishes it again
                _run_logger().warning("artifact %s not published: %s", artifact_key(app_id), type(exc).__name__)
                return False

    async with get_client() as client:
        done = await asyncio.gather(*(one(client, *page) for page in pages))
    return sum(done)


__all__ = ["application_labels", "emit_transition_events", "pipeline_table", "publish_application_artifacts",
           "report_reconciled", "transition_events", "under_prefect"]
