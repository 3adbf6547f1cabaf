"""``endorse setup``: a first profile, the first coordinator account and a test email through the SMTP
settings, scripted with flags or answered question by question (issue 20, item 1)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from endorse.auth import verify_password
from endorse.db import make_engine, session_factory
from endorse.profiles import load_profile
from endorse.settings import PROJECT_ROOT
from endorse.smtp_sink import SmtpSink, _free_port
from models import Association, AuditLog, CoordinatorAccount, Person

ENDORSE = str(Path(sys.executable).parent / "endorse")
PASSWORD = "correct horse battery"
FLAGS = ["setup", "--yes", "--association", "MI-AIMH", "--coordinator-name", "Mia Lopez",
         "--coordinator-email", "mlopez@mi-aimh.org", "--sender-email", "endorsement@mi-aimh.org",
         "--signature", "Mia Lopez, Endorsement® coordinator\\nMichigan Association for Infant Mental Health",
         "--public-base-url", "https://endorse.mi-aimh.org", "--time-zone", "America/Detroit"]


def _setup(args, database_url, tmp_path, smtp_port, stdin: str, **env_extra) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url, "ENDORSE_PROFILES_DIR": str(tmp_path / "profiles"),
           "ENDORSE_SMTP_HOST": "127.0.0.1", "ENDORSE_SMTP_PORT": str(smtp_port), "ENDORSE_SMTP_TIMEOUT_SECONDS": "3",
           **env_extra}
    # A session of its own: no terminal, so a password prompt reads standard input like a pipe.
    return subprocess.run([ENDORSE, *args], input=stdin, env=env, capture_output=True, text=True, cwd=PROJECT_ROOT,
                          timeout=120, start_new_session=True,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _accounts(database_url) -> list[tuple[str, str, str]]:
    engine = make_engine(database_url)
    with session_factory(engine)() as s:
        rows = [(p.email, a.association_code, a.password_hash) for a, p in
                s.execute(select(CoordinatorAccount, Person).join(Person, Person.id == CoordinatorAccount.person_id))]
    engine.dispose()
    return rows


def test_a_scripted_setup_writes_the_profile_the_account_and_sends_a_test_email(database_url, tmp_path):
    with SmtpSink(tmp_path / "mail") as sink:
        out = _setup([*FLAGS, "--password-stdin"], database_url, tmp_path, sink.port, PASSWORD + "\n")
        messages = sink.messages()
    assert out.returncode == 0, out.stderr
    profile = load_profile(tmp_path / "profiles" / "MI-AIMH.profile.yaml")
    assert (profile.full_name, profile.sender.email, profile.time_zone) == (
        "Michigan Association for Infant Mental Health", "endorsement@mi-aimh.org", "America/Detroit")
    assert profile.signature == "Mia Lopez, Endorsement® coordinator\nMichigan Association for Infant Mental Health"
    ((email, association, hashed),) = _accounts(database_url)
    assert (email, association) == ("mlopez@mi-aimh.org", "MI-AIMH") and verify_password(PASSWORD, hashed)
    assert PASSWORD not in out.stdout + out.stderr
    (msg,) = messages
    assert msg["To"] == "Mia Lopez <mlopez@mi-aimh.org>"
    assert msg["From"] == "MI-AIMH Endorsement <endorsement@mi-aimh.org>" and msg["Reply-To"] == "mlopez@mi-aimh.org"
    assert "Michigan Association for Infant Mental Health" in msg.get_body(preferencelist=("plain",)).get_content()
    assert f"test email sent to mlopez@mi-aimh.org through 127.0.0.1:{sink.port}" in out.stdout
    assert "endorse serve              then open https://endorse.mi-aimh.org/coordinator/" in out.stdout
    engine = make_engine(database_url)
    with session_factory(engine)() as s:
        assert s.get(Association, "MI-AIMH").sender_email == "endorsement@mi-aimh.org"
        assert {"association.profile_applied", "coordinator.created"} <= set(s.scalars(select(AuditLog.action)))
    engine.dispose()


def test_setup_answered_question_by_question_takes_the_defaults_and_asks_the_password_twice(database_url, tmp_path):
    answers = ["MI-AIMH",  # association
               "",  # full name: the rulebook's
               "",  # short name
               "Mia Lopez", "mlopez@mi-aimh.org",  # coordinator
               "", "",  # sender name, sender address: defaults (the coordinator's address)
               "", "", "America/Detroit",  # signature, public address, time zone
               "", "https://mi-aimh.org",  # phone (none), website
               "", "",  # the account: the coordinator
               PASSWORD, PASSWORD]
    with SmtpSink(tmp_path / "mail") as sink:
        out = _setup(["setup"], database_url, tmp_path, sink.port, "\n".join(answers) + "\n")
        assert len(sink.messages()) == 1
    assert out.returncode == 0, out.stdout + out.stderr
    profile = load_profile(tmp_path / "profiles" / "MI-AIMH.profile.yaml")
    assert profile.full_name == "Michigan Association for Infant Mental Health"
    assert profile.sender.email == "mlopez@mi-aimh.org" and profile.sender.name == "MI-AIMH Endorsement"
    assert profile.signature == "Mia Lopez, Endorsement® coordinator\nMichigan Association for Infant Mental Health"
    assert profile.public_base_url is None  # the deployment's ENDORSE_PUBLIC_BASE_URL
    assert (profile.phone, profile.website) == (None, "https://mi-aimh.org")
    assert [a[0] for a in _accounts(database_url)] == ["mlopez@mi-aimh.org"]


def test_a_typed_answer_the_profile_refuses_is_asked_again(database_url, tmp_path):
    answers = ["MI-AIMH", "", "", "Mia Lopez", "mlopez at mi-aimh", "", "", "", "", "Michigan", "", "",
               "mlopez@mi-aimh.org",  # asked again: not an email address
               "America/Detroit",  # asked again: not a time zone
               "", "", PASSWORD, PASSWORD]
    with SmtpSink(tmp_path / "mail") as sink:
        out = _setup(["setup"], database_url, tmp_path, sink.port, "\n".join(answers) + "\n")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "'mlopez at mi-aimh' is not an email address: please answer again" in out.stdout
    assert "unknown time zone 'Michigan'" in out.stdout
    profile = load_profile(tmp_path / "profiles" / "MI-AIMH.profile.yaml")
    assert (profile.coordinator.email, profile.time_zone) == ("mlopez@mi-aimh.org", "America/Detroit")


def test_two_different_passwords_are_refused_and_nothing_is_written(database_url, tmp_path):
    answers = ["MI-AIMH", "", "", "Mia Lopez", "mlopez@mi-aimh.org", "", "", "", "", "", "", "", "", "",
               PASSWORD, PASSWORD + "!"]
    out = _setup(["setup"], database_url, tmp_path, _free_port(), "\n".join(answers) + "\n")
    assert out.returncode == 2
    assert "the two passwords differ: nothing was changed" in out.stderr
    assert not (tmp_path / "profiles").exists() and _accounts(database_url) == []


BAD = [  # (flag changed, value, what the error names)
    ("--coordinator-email", "mlopez at mi-aimh", "MI-AIMH.profile.yaml: coordinator.email: 'mlopez at mi-aimh' is not an email"),
    ("--time-zone", "Michigan", "MI-AIMH.profile.yaml: time_zone: unknown time zone 'Michigan'"),
    ("--public-base-url", "endorse.mi-aimh.org", "MI-AIMH.profile.yaml: public_base_url: 'endorse.mi-aimh.org' is not an http(s) address"),
    ("--association", "XX-AIMH", "--association: 'XX-AIMH' has no rulebook"),
]


@pytest.mark.parametrize("flag,value,message", BAD, ids=[b[0] for b in BAD])
def test_a_bad_answer_names_the_field_and_writes_nothing(database_url, tmp_path, flag, value, message):
    args = list(FLAGS)
    args[args.index(flag) + 1] = value
    out = _setup([*args, "--password-stdin"], database_url, tmp_path, _free_port(), PASSWORD + "\n")
    assert out.returncode == 2
    assert message in out.stderr
    assert not (tmp_path / "profiles").exists() and _accounts(database_url) == []


def test_production_refuses_a_sample_address(database_url, tmp_path):
    args = list(FLAGS)
    args[args.index("--sender-email") + 1] = "no-reply@mi-aimh.example.org"
    out = _setup([*args, "--password-stdin"], database_url, tmp_path, _free_port(), PASSWORD + "\n",
                 ENDORSE_ENV="production")
    assert out.returncode == 2
    assert "ENDORSE_ENV=production refuses sender: mi-aimh.example.org is a placeholder domain" in out.stderr
    assert not (tmp_path / "profiles").exists()


def test_no_mail_server_keeps_the_profile_and_account_and_says_what_to_set(database_url, tmp_path):
    port = _free_port()
    out = _setup([*FLAGS, "--password-stdin"], database_url, tmp_path, port, PASSWORD + "\n")
    assert out.returncode == 1
    assert f"cannot reach SMTP at 127.0.0.1:{port}" in out.stdout and "set ENDORSE_SMTP_HOST" in out.stdout
    assert "the profile and the account are saved" in out.stdout
    assert (tmp_path / "profiles" / "MI-AIMH.profile.yaml").exists() and len(_accounts(database_url)) == 1
