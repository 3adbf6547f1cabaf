"""Coordinator actions never depend on Prefect being up (issue 11, item 3).

The action commits with its application marked for a reconcile; then, with Prefect down, one line
says so (exit 0, no traceback) and the next sweep reconciles it and clears the mark; without a
Prefect API the reconcile runs in the same process and no Prefect server is started; `--as-of`
travels to the reconcile flow's parameters; a retried action is not audited twice.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
from datetime import date

import pytest
from sqlalchemy import func, select

from endorse.db import transaction
from endorse.documents import load_document
from endorse.rulebook import default_library
from endorse.settings import PROJECT_ROOT
from models import Application, AuditLog
from tasks.pipeline import reconcile as pipeline
from tasks.transcripts.transcripts import record_transcript
from tasks.intake.records import ensure_associations, save_document

APPLICATION = "CT-2026-107"  # its transcript from the University of Michigan is awaited
RECORD_TRANSCRIPT = ["transcript", "record", APPLICATION, "--institution", "University of Michigan",
                     "--received-on", "2026-11-20", "--by", "coordinator@example.org"]
# Runs the CLI, then says whether any part of Prefect's server (the temporary one included) was loaded.
CLI = """
import sys
from endorse_cli.main import main
rc = main(sys.argv[1:])
loaded = sorted(m for m in sys.modules if m.startswith("prefect.server"))
print("prefect server modules: " + (", ".join(loaded) or "none"))
sys.exit(rc)
"""


def _nobody_listens() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/api"  # closed again: connections are refused


@pytest.fixture
def transcript_awaited(sessions):
    with transaction(sessions) as s:
        ensure_associations(s, default_library())
        save_document(s, load_document(PROJECT_ROOT / "cohort" / "ct-aimh-imhs-transcript-awaited.json"), actor="test")
    cfg = pipeline.PipelineConfig(library=default_library(), as_of=date.today(), secret_key="k", actor="system:test")
    pipeline.reconcile_one(sessions, APPLICATION, cfg)
    with sessions() as s:
        app = s.get(Application, APPLICATION)
        assert (app.stage, app.needs_reconcile) == ("transcripts", False)
    return sessions


def _endorse(database_url: str, *args: str, prefect_api_url: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"} | {"DATABASE_URL": database_url}
    if prefect_api_url:
        env["PREFECT_API_URL"] = prefect_api_url
    return subprocess.run([sys.executable, "-c", CLI, *args], cwd=PROJECT_ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def _audited(sessions, action: str) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.application_id == APPLICATION,
                                                                         AuditLog.action == action))


def test_prefect_down_the_action_stands_one_line_says_so_and_the_next_sweep_catches_up(database_url,
                                                                                       transcript_awaited):
    sessions, down = transcript_awaited, _nobody_listens()
    run = _endorse(database_url, *RECORD_TRANSCRIPT, prefect_api_url=down)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr and "Traceback" not in run.stdout
    said = [line for line in run.stdout.splitlines() if "Prefect" in line and "server modules" not in line]
    assert len(said) == 1 and said[0].startswith(f"Prefect at {down} could not take the reconcile of {APPLICATION}")
    assert "next sweep" in said[0]
    with sessions() as s:
        app = s.get(Application, APPLICATION)
        assert (app.stage, app.needs_reconcile) == ("transcripts", True)  # committed, and marked

    # The coordinator runs it again (they saw an error before this fix): same result, audited once.
    again = _endorse(database_url, *RECORD_TRANSCRIPT, prefect_api_url=down)
    assert again.returncode == 0, again.stderr
    assert _audited(sessions, "transcript.recorded") == 1

    cfg = pipeline.PipelineConfig(library=default_library(), as_of=date.today(), secret_key="k", actor="system:test")
    with sessions() as s:
        ids = pipeline.open_application_ids(s)
    assert APPLICATION in ids
    pipeline.advance_batch(sessions, ids, cfg)
    with sessions() as s:
        app = s.get(Application, APPLICATION)
        assert app.needs_reconcile is False and app.stage != "transcripts"
    assert _audited(sessions, "stage.changed") >= 1


def test_without_a_prefect_api_the_action_reconciles_here_and_starts_no_prefect_server(database_url,
                                                                                       transcript_awaited):
    run = _endorse(database_url, *RECORD_TRANSCRIPT, prefect_api_url=None)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[-1] == "prefect server modules: none"
    # The coordinator's one line: where the application stands now and what moved it (endorse/output.py).
    assert lines[-2].startswith(f"{APPLICATION}: now in ") and "transcripts → " in lines[-2], lines[-2]
    with transcript_awaited() as s:
        assert s.get(Application, APPLICATION).needs_reconcile is False


def test_reconcile_as_of_travels_to_the_flow_parameters(monkeypatch, database_url, transcript_awaited):
    import prefect.deployments

    from endorse_cli.main import main
    from endorse.settings import get_settings
    from flows import after_event

    submitted = {}
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:1/api")
    monkeypatch.setattr(after_event, "prefect_problem", lambda api, timeout=0: None)  # as if Prefect answered
    monkeypatch.setattr(prefect.deployments, "run_deployment", lambda name, **kw: submitted.update(kw, name=name))
    get_settings.cache_clear()
    try:
        assert main(["reconcile", APPLICATION, "--as-of", "2026-11-22"]) == 0
    finally:
        from endorse.db import default_session_factory

        default_session_factory().kw["bind"].dispose()
        default_session_factory.cache_clear()
        get_settings.cache_clear()
    assert submitted["name"] == "reconcile-application/reconcile-application"
    assert submitted["parameters"] == {"application_id": APPLICATION, "as_of": "2026-11-22"}


def test_a_web_event_with_prefect_down_logs_one_line_and_leaves_the_mark(monkeypatch, caplog):
    from web.app import _reconcile_on_prefect

    down = _nobody_listens()
    monkeypatch.setenv("PREFECT_API_URL", down)
    with caplog.at_level(logging.INFO, logger="endorse.web"):
        _reconcile_on_prefect(APPLICATION).join(60)
    lines = [r.getMessage() for r in caplog.records if r.name == "endorse.web"]
    assert len(lines) == 1 and lines[0].startswith(f"Prefect at {down} could not take the reconcile")
    assert not any(r.exc_info for r in caplog.records)


def test_a_web_event_without_a_prefect_api_reconciles_in_the_web_process(monkeypatch, database_url,
                                                                         transcript_awaited):
    from endorse.db import default_session_factory
    from endorse.settings import get_settings
    from web.app import _reconcile_on_prefect

    record_transcript(transcript_awaited, APPLICATION, institution="University of Michigan", official=True,
                               received_on=date(2026, 11, 20), actor="coordinator:coordinator@example.org")
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    default_session_factory.cache_clear()
    try:
        _reconcile_on_prefect(APPLICATION).join(120)
    finally:
        default_session_factory().kw["bind"].dispose()
        default_session_factory.cache_clear()
        get_settings.cache_clear()
    with transcript_awaited() as s:
        app = s.get(Application, APPLICATION)
        assert app.needs_reconcile is False and app.stage != "transcripts"
