"""Coordinator commands print one clear line in a coordinator's words: what happened, and when
nothing did, why and what to do next (issue 20, item 3)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from endorse_cli import output
from endorse_cli.main import EXIT_INVALID, main, quiet_environment
from endorse.db import transaction
from endorse.rulebook import default_library
from endorse.settings import PROJECT_ROOT
from tasks.mail.outbox import SmtpConfig, deliver_due, queue_email
from tasks.intake.records import ensure_associations

ENDORSE = [str(Path(sys.executable).parent / "endorse")]  # the console script, as people run it


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- each message, from what the command got back ---------------------------------------------------

LINES = [  # (case, function, arguments, the line printed)
    ("reconcile moved", output.reconcile_line,
     ("CT-2026-137", {"stage": "eligibility_review", "transitions": ["references → eligibility_review: 3 ratings in"]}),
     "CT-2026-137: now in eligibility review (references → eligibility_review: 3 ratings in)"),
    ("reconcile stayed", output.reconcile_line, ("MI-2026-103", {"stage": "references", "transitions": []}),
     "MI-2026-103: stays in references (its checklist does not let it move yet)"),
    ("reconcile of a decided application", output.reconcile_line, ("CT-2026-137", {"stage": "endorsed",
                                                                                    "transitions": []}),
     "CT-2026-137: endorsed (decided: nothing more moves it)"),
    ("sweep with moves", output.sweep_line,
     ({"evaluated": 42, "reconciled": 42, "transitions": 7, "reminders": 3, "expired_links": 0}, "2026-11-22"),
     "sweep as of 2026-11-22: 42 open application(s) evaluated, 7 stage change(s); 3 rating reminder(s)"),
    ("sweep that moved nothing", output.sweep_line, ({"evaluated": 5, "transitions": 0}, None),
     "sweep: 5 open application(s) evaluated, 0 stage change(s) (no checklist changed enough to move an application)"),
    ("sweep of nothing", output.sweep_line, ({"evaluated": 0, "transitions": 0}, None),
     "sweep: 0 applications evaluated: no application is open (endorse import FOLDER loads some)"),
    ("incremental sweep (issue 17)", output.sweep_line, ({"full": False, "evaluated": 3, "transitions": 1}, None),
     "sweep: 3 due or marked application(s) evaluated, 1 stage change(s)"),
    ("incremental sweep with nothing due", output.sweep_line, ({"full": False, "evaluated": 0}, None),
     "sweep: 0 applications evaluated: none is due or marked today (endorse sweep --full looks at every open "
     "application)"),
    ("nothing due", output.delivery_line, ({"claimed": 0, "sent": 0, "retried": 0, "failed": 0}, "mail:25", 0),
     ("0 emails sent: nothing is due in the outbox", True)),
    ("nothing due, some later", output.delivery_line, ({"claimed": 0}, "mail:25", 4),
     ("0 emails sent: nothing is due in the outbox (4 queued for a later retry: endorse outbox list shows them)", True)),
    ("all sent", output.delivery_line, ({"claimed": 24, "sent": 24, "retried": 0, "failed": 0}, "mail:25", 0),
     ("24 email(s) sent through mail:25", True)),
    ("some refused", output.delivery_line, ({"claimed": 24, "sent": 20, "retried": 3, "failed": 1}, "mail:25", 3),
     ("20 email(s) sent through mail:25; 3 will be retried (endorse outbox list shows the server's answer); "
      "1 failed for good (endorse outbox list --status failed)", False)),
    ("enrolled", output.enrolment_line, (3, None), "3 enrolled"),
    ("nobody approved", output.enrolment_line, (0, "no applicant of MI-AIMH is approved for the exam"),
     "0 enrolled: no applicant of MI-AIMH is approved for the exam"),
    ("no application, demo elsewhere", output.no_application, ("CT-2026-137", "/srv/endorse/var", "var/demo"),
     "no application 'CT-2026-137' in /srv/endorse/var (the demo's data is in var/demo: "
     "endorse --data var/demo show CT-2026-137)"),
    ("raters to vet", output.vetting_count_line, (2,), "2 rater(s) to vet"),
    ("no rater to vet", output.vetting_count_line, (0,),
     "0 raters to vet: every proposed rater is endorsed or already vetted"),
    ("outbox empty", output.outbox_count_line, (0, ["failed", "queued"]),
     "0 messages failed/queued: every email in the outbox has another status "
     "(endorse outbox list --status sent lists those sent)"),
    ("no application, no demo", output.no_application, ("CT-2026-137", "/srv/endorse/var", None),
     "no application 'CT-2026-137' in /srv/endorse/var (endorse import FOLDER loads applications)"),
]


@pytest.mark.parametrize("case,fn,args,expected", LINES, ids=[c[0] for c in LINES])
def test_each_command_prints_one_clear_line(case, fn, args, expected):
    got = fn(*args)
    assert got == expected
    text = got[0] if isinstance(got, tuple) else got
    assert "\n" not in text and "{" not in text and "\\u" not in text  # no raw dict, no escapes


def test_no_mail_server_says_where_it_looked_and_what_to_set():
    line, ok = output.delivery_line({"claimed": 24, "sent": 0, "retried": 24, "failed": 0,
                                     "unreachable": "Error connecting to 127.0.0.1 on port 8025"}, "127.0.0.1:8025", 24)
    assert not ok
    assert line.startswith("cannot reach SMTP at 127.0.0.1:8025 (Error connecting")
    assert "set ENDORSE_SMTP_HOST and ENDORSE_SMTP_PORT" in line and "24 email(s) wait in the outbox" in line
    assert "retried: 24" not in line


def _queue_reminders(sessions, n: int) -> None:
    with transaction(sessions) as s:
        ensure_associations(s, default_library())
        for i in range(n):
            queue_email(s, role="reference.reminder", to_email=f"r{i}@rater.org", to_name="R", association="MI-AIMH",
                        idempotency_key=f"u{i}", context={"rater_name": "R", "applicant_name": "A",
                                                           "category_name": "IMHS", "due_on": "2026-12-01"})


def test_delivery_reports_an_unreachable_server(sessions):
    _queue_reminders(sessions, 3)
    port = _free_port()  # nothing listens there
    report = asyncio.run(deliver_due(sessions, SmtpConfig("127.0.0.1", port, timeout=2), secret_key="k",
                                     base_url="http://x"))
    assert (report.sent, report.retried) == (0, 3)
    assert report.unreachable and str(port) in report.unreachable


@pytest.mark.parametrize("waiting", [False, True], ids=["nobody waiting", "one waiting for approval"])
def test_exam_enrol_with_nobody_approved_says_why(sessions, waiting):
    from models import Application
    from tasks.exam.intake import enrol_candidates, open_sitting
    from tests.profiles.helpers import rating_request

    lib = default_library()
    with transaction(sessions) as s:
        ensure_associations(s, lib)
        if waiting:
            rating_request(s, association="MI-AIMH")
            s.get(Application, "MI-AIMH-T1").stage = "eligibility_review"
    sitting = open_sitting(sessions, lib, association="MI-AIMH", name="Spring 2027", opens_on=date(2027, 3, 1),
                           closes_on=date(2027, 3, 15), actor="coordinator:c@mi-aimh.org")
    out = enrol_candidates(sessions, sitting, lib, as_of=date(2027, 3, 1), actor="coordinator:c@mi-aimh.org")
    hint = (" (1 in eligibility review, waiting for approval: endorse exam approve APPLICATION --on DATE --by EMAIL)"
            if waiting else "")
    assert output.enrolment_line(len(out.enrolled), out.nobody_because) == \
        "0 enrolled: no applicant of MI-AIMH is approved for the exam" + hint


def test_the_cli_silences_prefect_and_telemetry_but_an_explicit_setting_wins(monkeypatch):
    for name in ("PREFECT_LOGGING_LEVEL", "PREFECT_SERVER_ANALYTICS_ENABLED", "DO_NOT_TRACK"):
        monkeypatch.delenv(name, raising=False)
    quiet_environment()
    assert (os.environ["PREFECT_LOGGING_LEVEL"], os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"],
            os.environ["DO_NOT_TRACK"]) == ("WARNING", "false", "1")
    monkeypatch.setenv("PREFECT_LOGGING_LEVEL", "DEBUG")
    quiet_environment()
    assert os.environ["PREFECT_LOGGING_LEVEL"] == "DEBUG"


def test_a_password_typed_differently_twice_is_refused_before_anything_is_written(monkeypatch, capsys):
    answers = iter(["correct horse battery", "correct horse batery"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    code = main(["coordinator", "add", "--association", "MI-AIMH", "--name", "Mia Lopez", "--email", "m@mi-aimh.org"])
    assert code == EXIT_INVALID
    assert "the two passwords differ: nothing was changed" in capsys.readouterr().err


def test_a_password_typed_the_same_twice_is_taken():
    from endorse_cli.setup import new_password

    answers = iter(["correct horse battery", "correct horse battery"])
    assert new_password(False, ask=lambda prompt: next(answers)) == "correct horse battery"


def _run(args, env_extra: dict, **kw) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_LOGGING", "DO_NOT_TRACK"))}
    env.pop("PREFECT_SERVER_ANALYTICS_ENABLED", None)  # the CLI must quiet itself, not rely on the caller
    env.pop("PREFECT_API_URL", None)
    return subprocess.run([*ENDORSE, *args], env={**env, **env_extra}, capture_output=True, text=True,
                          cwd=PROJECT_ROOT, timeout=300, **kw)


@pytest.mark.parametrize("where", ["before", "after"], ids=["--data first", "--data after the command"])
def test_show_names_the_data_it_searched(tmp_path, where):
    args = ["show", "CT-2026-137"]
    out = _run(["--data", str(tmp_path), *args] if where == "before" else [*args, "--data", str(tmp_path)], {})
    assert out.returncode == EXIT_INVALID
    assert out.stderr.startswith(f"endorse: no application 'CT-2026-137' in {tmp_path} (")
    assert out.stdout == ""


def test_deliver_with_no_mail_server_prints_one_line_and_no_prefect_logs(database_url, tmp_path):
    from endorse.db import make_engine, session_factory

    engine = make_engine(database_url)
    _queue_reminders(session_factory(engine), 24)
    engine.dispose()
    port = _free_port()
    out = _run(["outbox", "deliver"], {"DATABASE_URL": database_url, "ENDORSE_SMTP_PORT": str(port),
                             "ENDORSE_SMTP_TIMEOUT_SECONDS": "2", "PREFECT_HOME": str(tmp_path / "prefect")})
    assert out.returncode == 1
    lines = out.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"cannot reach SMTP at 127.0.0.1:{port} (")
    assert "set ENDORSE_SMTP_HOST" in lines[0] and "24 email(s) wait in the outbox" in lines[0]
    assert " INFO " not in out.stdout + out.stderr and "| INFO" not in out.stdout + out.stderr
    assert "telemetry" not in (out.stdout + out.stderr).lower()
    # With no Prefect API configured, the flow ran against a local server this command started and
    # waited for (Prefect's temporary server gives up after 20 s: on a busy machine the command ended
    # in a traceback, stdout empty).
    assert "Prefect server ready at http://127.0.0.1:" in out.stderr
