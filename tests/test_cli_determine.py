"""`endorse determination record APP --question KEY --decision accepted|not_accepted --on DATE --by EMAIL`: a coordinator's
determination from the command line, on SQLite and PostgreSQL; a bad question exits 2 naming it and writes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from sqlalchemy import select

from endorse.db import transaction
from endorse.documents import parse_document
from endorse.rulebook import default_library
from endorse.settings import PROJECT_ROOT
from models import Application, AuditLog, CoordinatorDetermination
from tasks.intake.records import ensure_associations, save_document


def _run(database_url: str, *args: str):
    env = {**os.environ, "DATABASE_URL": database_url, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    return subprocess.run([sys.executable, "-m", "endorse_cli.main", *args], capture_output=True, text=True,
                          cwd=PROJECT_ROOT, env=env)


def _volunteer_ifa(sessions) -> str:
    raw = json.loads((PROJECT_ROOT / "tests" / "rules" / "bases" / "IFA.json").read_text())
    raw.update(id="CLI-IFA-1", association="MI-AIMH", education=[])
    raw["work"][0].update(start_on="2022-09-01", end_on="2024-08-31", paid=False)
    with transaction(sessions) as s:
        ensure_associations(s, default_library())
        save_document(s, parse_document(json.dumps(raw), "cli.json"), actor="test")
    return raw["id"]


def test_a_determination_recorded_from_the_cli_is_audited_and_reconciled(sessions, database_url):
    app_id = _volunteer_ifa(sessions)
    out = _run(database_url, "determination", "record", app_id, "--question", "ifa_volunteer_experience", "--decision", "accepted",
               "--on", "2026-11-20", "--by", "coord@mi-aimh.example", "--note", "CASA volunteer")
    assert out.returncode == 0, out.stderr
    assert "ifa_volunteer_experience accepted" in out.stdout
    with sessions() as s:
        d = s.scalars(select(CoordinatorDetermination)).one()
        assert (d.decided_by, d.accepted, d.note, d.recorded_by) == ("coord@mi-aimh.example", True, "CASA volunteer",
                                                                      "coordinator:coord@mi-aimh.example")
        assert s.scalars(select(AuditLog).where(AuditLog.action == "determination.recorded")).one()
        checklist = {r["id"]: r for r in s.get(Application, app_id).last_checklist}
    assert checklist["education"]["status"] == "met"  # reconciled at once
    shown = _run(database_url, "show", app_id, "--as-of", "2026-11-22")
    assert shown.returncode == 0, shown.stderr
    assert "ifa_volunteer_experience (education): accepted by coord@mi-aimh.example on 2026-11-20: CASA volunteer" \
        in shown.stdout


def test_a_question_the_rules_do_not_ask_exits_2_and_writes_nothing(sessions, database_url):
    app_id = _volunteer_ifa(sessions)
    out = _run(database_url, "determination", "record", app_id, "--question", "rsc_provider_approved", "--decision", "accepted",
               "--on", "2026-11-20", "--by", "coord@mi-aimh.example")
    assert out.returncode == 2 and "rsc_provider_approved" in out.stderr and "ifa_volunteer_experience" in out.stderr
    with sessions() as s:
        assert s.scalars(select(CoordinatorDetermination)).all() == []


def test_evaluate_refuses_a_document_naming_a_question_its_association_does_not_ask(tmp_path):
    raw = json.loads((PROJECT_ROOT / "tests" / "rules" / "bases" / "IFA.json").read_text())
    raw["determinations"] = [{"question": "rsc_provider_approved", "by": "c@example.org", "decided_on": "2026-11-01",
                              "accepted": True}]
    bad = tmp_path / "bad-determination.json"
    bad.write_text(json.dumps(raw))
    out = subprocess.run([sys.executable, "-m", "endorse_cli.main", "evaluate", str(bad), "--as-of", "2026-11-22", "--json"],
                         capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert out.returncode == 2 and out.stdout == ""
    assert "bad-determination.json" in out.stderr and "determinations[0].question" in out.stderr
    raw["association"] = "LEVELS-AIMH"
    bad.write_text(json.dumps(raw))
    out = subprocess.run([sys.executable, "-m", "endorse_cli.main", "evaluate", str(bad), "--as-of", "2026-11-22", "--json"],
                         capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert out.returncode == 0, out.stderr  # LEVELS-AIMH defines the question (its IMHM-C rules ask it)
