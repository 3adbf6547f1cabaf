"""Prefect is a window that works (issue 15, item 4): every transition the sweep or a reconcile makes is
a Prefect event on the application's resource, each application's artifact is kept current by the
sweep too, runs log their transitions and are named after what they did.

The flows run in-process against Prefect's test harness (a temporary Prefect server); the events are
caught by Prefect's own asserting events client. tests/integration/test_prefect_events_server.py
checks the same against a real ``prefect server``."""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from datetime import date, datetime, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from endorse.db import default_session_factory, transaction
from endorse.documents import load_document
from endorse.rulebook import default_library
from endorse.settings import PROJECT_ROOT, get_settings
from models import Application, AuditLog, EducationRecord, Person, WorkRecord
from tasks.eligibility.stages import Transition
from tasks.intake.records import ensure_associations, save_document
from endorse.prefect_links import prefect_ui_base, ui_artifact_url, ui_events_url
from tasks.coordination.prefect_links import application_prefect_links
from tasks.pipeline.prefect_report import transition_events
from tasks.pipeline.reconcile import ReconcileOutcome

AS_OF = "2026-11-22"
# Applications that move through several stages on the day (one to a final decision), one in each association.
COHORT = ("ct-aimh-ifs-eligible-01.json", "mi-aimh-ifa-eligible-01.json", "orimha-imhm-rf-eligible-01.json",
          "ct-aimh-imhs-transcript-awaited.json", "mi-aimh-ifs-rater-declined.json")


# --- the events, as data ------------------------------------------------------------------------------------


@pytest.mark.parametrize("from_stage,to_stage,event", [
    ("submitted", "transcripts", "endorse.application.entered.transcripts"),
    ("references", "decision", "endorse.application.entered.decision"),
    ("decision", "endorsed", "endorse.application.entered.endorsed"),
    ("decision", "deferred", "endorse.application.entered.deferred"),
])
def test_a_transition_is_an_event_on_the_application_named_after_the_stage_entered(from_stage, to_stage, event):
    out = ReconcileOutcome("CT-2026-102", to_stage, [Transition(from_stage, to_stage, "Jane Rater declined")])
    (e,) = transition_events([out], {"CT-2026-102": ("IFS", "CT-AIMH")}, date(2026, 11, 22))
    assert e["event"] == event
    assert e["resource"] == {"prefect.resource.id": "endorse.application.CT-2026-102",
                             "prefect.resource.name": "CT-2026-102", "endorse.stage": to_stage,
                             "endorse.from-stage": from_stage, "endorse.category": "IFS",
                             "endorse.association": "CT-AIMH"}
    assert {r["prefect.resource.role"]: r["prefect.resource.id"] for r in e["related"]} == \
        {"association": "endorse.association.CT-AIMH", "category": "endorse.category.IFS"}
    assert e["payload"] == {"from_stage": from_stage, "to_stage": to_stage, "as_of": "2026-11-22"}
    assert "Jane" not in json.dumps(e)  # a reason can quote a person: it stays in our audit log


def test_the_application_page_links_to_the_artifact_and_to_the_event_feed_of_its_life():
    ui = "http://127.0.0.1:4200/"
    assert ui_artifact_url(ui, "CT-2026-102") == "http://127.0.0.1:4200/v2/artifacts/key/application-ct-2026-102"
    since, until = datetime(2026, 9, 1, 12, tzinfo=timezone.utc), datetime(2026, 11, 30, tzinfo=timezone.utc)
    url = urlsplit(ui_events_url(ui, "CT-2026-102", since, until))
    assert url.path == "/v2/events/"
    query = {k: v for k, (v,) in parse_qs(url.query).items()}
    assert json.loads(query.pop("resource")) == ["endorse.application.CT-2026-102"]
    assert query == {"rangeType": "range", "start": "2026-09-01T12:00:00.000Z", "end": "2026-11-30T00:00:00.000Z"}
    assert ui_artifact_url("http://h/prefect/v2", "X-1") == "http://h/prefect/v2/artifacts/key/application-x-1"


# --- the flows under Prefect --------------------------------------------------------------------------------


@pytest.mark.parametrize("ui_url,api_url,base", [
    ("https://prefect.example.org/", "http://127.0.0.1:4200/api", "https://prefect.example.org"),  # PREFECT_UI_URL wins
    (None, "http://127.0.0.1:4200/api", "http://127.0.0.1:4200"),
    (None, "https://ops:s3cret@prefect.example.org/prefect/api/", "https://prefect.example.org/prefect"),  # no password
    (None, None, None),  # no Prefect: no links
])
def test_the_prefect_ui_is_where_settings_say_or_beside_the_api(ui_url, api_url, base):
    assert prefect_ui_base(ui_url, api_url) == base


def test_the_event_feed_link_covers_the_applications_whole_life(sessions):
    with transaction(sessions) as s:
        ensure_associations(s, default_library())
        save_document(s, load_document(PROJECT_ROOT / "cohort" / COHORT[0]), actor="test")
    with transaction(sessions) as s:
        app = s.get(Application, "CT-2026-102")
        app.created_at = datetime(2026, 3, 2, 9, 30)  # imported months ago; its audit entries are later
    now = datetime(2026, 11, 29, 20, 0, tzinfo=timezone.utc)
    with sessions() as s:
        links = application_prefect_links(s, "CT-2026-102", "http://127.0.0.1:4200", now)
    assert links["artifact"] == "http://127.0.0.1:4200/v2/artifacts/key/application-ct-2026-102"
    assert links["runs"] == "http://127.0.0.1:4200/runs?tag=application%3ACT-2026-102"
    query = {k: v for k, (v,) in parse_qs(urlsplit(links["events"]).query).items()}
    assert (query["start"], query["end"]) == ("2026-03-01T09:30:00.000Z", "2026-11-30T20:00:00.000Z")
    with sessions() as s, pytest.raises(LookupError, match="no application 'XX-1'"):
        application_prefect_links(s, "XX-1", "http://127.0.0.1:4200", now)


def test_a_reconcile_here_without_prefect_sends_nothing_and_starts_no_server(cohort, monkeypatch):
    from prefect.events.worker import EventsWorker
    from prefect.server.api.server import SubprocessASGIServer

    from flows.after_event import reconcile_after_event

    def no_worker(*_):
        raise AssertionError("an events worker was asked for outside Prefect")

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setattr(EventsWorker, "instance", no_worker)
    servers = dict(SubprocessASGIServer._instances)
    line, outcome = reconcile_after_event("CT-2026-102", as_of=AS_OF)
    assert outcome["stage"] == "endorsed" and "reconciled here" in line
    assert outcome["transitions"]  # it moved: there was something to send, and nothing was
    assert SubprocessASGIServer._instances == servers


@pytest.fixture(scope="module")
def prefect_api():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        from prefect.settings import PREFECT_API_URL

        yield PREFECT_API_URL.value()


@pytest.fixture
def events(monkeypatch):
    """Every event emitted, caught by Prefect's asserting client (as Prefect's own fixture does)."""
    from prefect.events.clients import AssertingEventsClient
    from prefect.events.worker import EventsWorker

    worker = EventsWorker.instance(AssertingEventsClient)
    monkeypatch.setattr(EventsWorker, "instance", lambda *_: worker)

    def caught() -> list:
        worker.wait_until_empty()
        return [e for e in worker._client.events if e.event.startswith("endorse.")]

    yield caught
    worker.drain()
    AssertingEventsClient.reset()


@pytest.fixture
def cohort(database_url, monkeypatch):
    """The cohort imported (nothing reconciled yet) into the database the flows' tasks use."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    _fresh_settings()
    sessions = default_session_factory()
    with transaction(sessions) as s:
        ensure_associations(s, default_library())
        for f in COHORT:
            save_document(s, load_document(PROJECT_ROOT / "cohort" / f), actor="test")
    yield sessions
    _fresh_settings()


def _fresh_settings() -> None:
    if default_session_factory.cache_info().currsize:
        default_session_factory().kw["bind"].dispose()
    get_settings.cache_clear()
    default_session_factory.cache_clear()


def _stage_changes(sessions) -> list[tuple[str, str, str]]:
    with sessions() as s:
        return [(e.application_id, e.details["from_stage"], e.details["to_stage"])
                for e in s.scalars(select(AuditLog).where(AuditLog.action == "stage.changed").order_by(AuditLog.id))]


def _personal_data(sessions) -> set[str]:
    with sessions() as s:
        found = {p.name for p in s.scalars(select(Person))} | {p.email for p in s.scalars(select(Person))}
        found |= {a.applicant_name for a in s.scalars(select(Application))}
        found |= {e.institution for e in s.scalars(select(EducationRecord))}
        found |= {w.employer for w in s.scalars(select(WorkRecord))}
    return {n for n in found if n}


def _artifacts(api: str, key: str, flow_run_id) -> list:
    """The artifacts of that key a flow run published (the harness is shared by the module's tests)."""
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    async def read():
        async with get_client() as c:
            return await c.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))

    return [a for a in asyncio.run(read()) if a.flow_run_id == flow_run_id]


def _run(flow_run_id):
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as c:
        return c.read_flow_run(flow_run_id)


def _logged(flow_run_id, level: int = logging.INFO) -> list[str]:
    """The lines of a level of a flow run (and its task runs) on the Prefect server: what its page shows."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId, LogFilterLevel
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()
    with get_client(sync_client=True) as c:
        logs = c.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]),
                                     level=LogFilterLevel(ge_=level, le_=level)), limit=200)
    return [log.message for log in logs]


@pytest.fixture
def quiet_console():
    """As the CLI and `endorse serve` run flows: Prefect's own loggers at WARNING."""
    prefect_logger = logging.getLogger("prefect")
    was = prefect_logger.level
    prefect_logger.setLevel(logging.WARNING)
    yield
    prefect_logger.setLevel(was)


def test_the_sweep_emits_an_event_for_every_transition_and_keeps_every_artifact_current(prefect_api, events, cohort,
                                                                                       quiet_console, capsys):
    from flows.sweep import sweep

    state = sweep(batch_size=2, as_of=AS_OF, return_state=True)
    assert state.is_completed(), state
    changes = _stage_changes(cohort)
    assert len(changes) >= 2 * len(COHORT)  # every application moved, some to a decision

    caught = events()
    # One event per transition, in the order each application made them.
    assert [(e.resource["prefect.resource.name"], e.resource["endorse.from-stage"], e.resource["endorse.stage"])
            for e in caught] == changes
    with cohort() as s:
        apps = {a.id: a for a in s.scalars(select(Application))}
    for e in caught:
        app = apps[e.resource.id.removeprefix("endorse.application.")]
        assert e.event == f"endorse.application.entered.{e.resource['endorse.stage']}"
        assert (e.resource["endorse.category"], e.resource["endorse.association"]) == (app.category,
                                                                                      app.association_code)
        # Prefect adds the run it happened in: the sweep's flow run and the batch's task run.
        assert {"flow-run", "task-run"} <= {r.role for r in e.related}
    last = {}
    for e in caught:
        last[e.resource.id] = e.resource["endorse.stage"]
    assert last == {f"endorse.application.{i}": a.stage for i, a in apps.items() if a.stage != "submitted"}
    leaked = sorted(n for n in _personal_data(cohort) if any(n in e.model_dump_json() for e in caught))
    assert not leaked, f"events name {leaked}"

    # Every application the sweep reconciled has its artifact, showing where it is now.
    for app_id, app in apps.items():
        (artifact,) = _artifacts(prefect_api, f"application-{app_id.lower()}", state.state_details.flow_run_id)
        assert f"stage **{app.stage}**" in artifact.data

    # The run logged each transition at INFO (in its logs on the server, not on the quiet console) and
    # is named after the day it acted as of.
    logged = Counter(_logged(state.state_details.flow_run_id))
    for app_id, from_stage, to_stage in changes:
        assert logged[f"{app_id}: {from_stage} → {to_stage}"] == 1
    assert "→" not in capsys.readouterr().err
    assert _run(state.state_details.flow_run_id).name == f"sweep-{AS_OF}"


def test_a_reconcile_run_is_named_after_the_stage_reached_and_emits_its_transitions(prefect_api, events, cohort):
    from flows.reconcile import reconcile_application

    state = reconcile_application("CT-2026-102", as_of=AS_OF, return_state=True)
    assert state.is_completed(), state
    assert state.result()["stage"] == "endorsed"
    assert _run(state.state_details.flow_run_id).name == "application-CT-2026-102-endorsed"
    assert [(e.resource["endorse.from-stage"], e.resource["endorse.stage"]) for e in events()] == \
        [(f, t) for a, f, t in _stage_changes(cohort) if a == "CT-2026-102"]
    (artifact,) = _artifacts(prefect_api, "application-ct-2026-102", state.state_details.flow_run_id)
    assert "stage **endorsed**" in artifact.data


def test_outbox_runs_are_named_after_the_time_they_were_scheduled_for(prefect_api, cohort):
    from flows.deliver_outbox import deliver_outbox

    state = deliver_outbox(return_state=True)
    run = _run(state.state_details.flow_run_id)
    assert re.fullmatch(r"deliver-outbox-\d{4}-\d\d-\d\dT\d\d:\d\dZ", run.name), run.name
    assert run.name == f"deliver-outbox-{run.expected_start_time.astimezone(timezone.utc):%Y-%m-%dT%H:%M}Z"


def test_a_report_that_fails_after_the_commit_does_not_fail_the_sweep(prefect_api, events, cohort, monkeypatch):
    import tasks.pipeline.prefect_report as report
    from flows.sweep import sweep

    def broken(*_):
        raise RuntimeError("the database went away after the commit")

    monkeypatch.setattr(report, "application_markdown", broken)
    state = sweep(batch_size=10, as_of=AS_OF, return_state=True)
    assert state.is_completed(), state
    assert state.result()["transitions"] == len(_stage_changes(cohort)) > 0  # the moves stand
    assert len(events()) == len(_stage_changes(cohort))  # the events went out before the artifacts failed
    assert "reporting 5 reconciled application(s) to Prefect stopped: RuntimeError" in \
        _logged(state.state_details.flow_run_id, level=30)


def test_a_sweep_over_applications_that_did_not_change_uploads_no_artifact(prefect_api, events, cohort):
    from flows.sweep import sweep

    first = sweep(batch_size=10, as_of=AS_OF, return_state=True)
    assert first.result()["artifacts_published"] == len(COHORT) == len(_artifacts_of_run(first))
    # Nothing happened since: a full pass re-evaluates every open one of them and publishes nothing.
    again = sweep(batch_size=10, as_of=AS_OF, full=True, return_state=True)
    assert again.result()["evaluated"] >= 1 and again.result()["transitions"] == 0
    assert (again.result()["artifacts_published"], again.result()["artifacts_due"]) == (0, 0)
    assert _artifacts_of_run(again) == []


def test_artifacts_are_capped_per_sweep_and_later_sweeps_catch_up_most_recently_moved_first(prefect_api, events,
                                                                                            cohort):
    from flows.sweep import sweep

    first = sweep(batch_size=10, as_of=AS_OF, artifacts=2, return_state=True)
    assert first.result()["transitions"] > 0
    assert (first.result()["artifacts_published"], first.result()["artifacts_due"]) == (2, len(COHORT) - 2)
    with cohort() as s:
        by_recency = [a.id for a in s.scalars(select(Application).order_by(Application.stage_entered_at.desc(),
                                                                           Application.id))]
    assert {a.key for a in _artifacts_of_run(first)} == {f"application-{i.lower()}" for i in by_recency[:2]}
    later = [sweep(batch_size=10, as_of=AS_OF, artifacts=2) for _ in range(2)]
    assert [r["artifacts_published"] for r in later] == [2, len(COHORT) - 4]
    assert [r["transitions"] for r in later] == [0, 0] and later[-1]["artifacts_due"] == 0
    with cohort() as s:
        for app in s.scalars(select(Application)):  # each artifact shows where its application is now
            (latest,) = _latest_artifact(f"application-{app.id.lower()}")
            assert f"stage **{app.stage}**" in latest.data


def _artifacts_of_run(state) -> list:
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    async def read():
        async with get_client() as c:
            return await c.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(
                any_=[state.state_details.flow_run_id])))

    return [a for a in asyncio.run(read()) if (a.key or "").startswith("application-")]


def _latest_artifact(key: str) -> list:
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactCollectionFilter, ArtifactCollectionFilterKey

    async def read():
        async with get_client() as c:
            return await c.read_latest_artifacts(artifact_filter=ArtifactCollectionFilter(
                key=ArtifactCollectionFilterKey(any_=[key])))

    return asyncio.run(read())
