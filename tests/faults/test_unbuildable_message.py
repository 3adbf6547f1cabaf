"""One bad message cannot stop the mail (issue #13 · 2), and subjects and plain text read as typed
(issue #13 · 13).

A message that cannot be built (a line break in a header) fails alone, with its reason recorded and
shown on the dashboard; every other message of the batch goes out. Names and subjects with control
characters are refused where they enter: the document, the coordinator's form, the command line.
"""

from __future__ import annotations

import email
import json
from datetime import date
from pathlib import Path

import markupsafe
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from endorse_cli.main import main
from endorse.db import transaction
from endorse.documents import DocumentError, parse_document
from endorse.mail import render
from endorse.rulebook import default_library
from endorse.settings import PROJECT_ROOT
from endorse_cli.smtp_sink import SaveToFolder
from models import AuditLog, OutboxMessage
from tasks.coordination import dashboard
from tasks.mail.outbox import queue_email
from tasks.references.raters import ProposedRater
from tests.faults.test_smtp_faults import _deliver, _free_port, _queue

def _deliver_to_sink(sessions, tmp_path: Path):
    handler = SaveToFolder(tmp_path / "mail")
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        return handler, _deliver(sessions, controller.port)
    finally:
        controller.stop()


BAD_HEADERS = [
    pytest.param("recipient_name", "Eve\r\nBcc: everyone@example.org", id="CR LF in a recipient name"),
    pytest.param("recipient_name", "Eve\nSmith", id="LF in a recipient name"),
    pytest.param("subject", "Your rating\rX-Injected: 1", id="CR in a subject"),
]


@pytest.mark.parametrize(("column", "value"), BAD_HEADERS)
def test_a_message_that_cannot_be_built_fails_alone_and_the_rest_go_out(sessions, tmp_path: Path, column, value):
    _queue(sessions, n=5)
    with transaction(sessions) as s:  # as if it had been queued before names were checked on the way in
        bad_id = s.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id)).first()
        s.execute(update(OutboxMessage).where(OutboxMessage.id == bad_id).values({column: value}))
    handler, report = _deliver_to_sink(sessions, tmp_path)
    assert (report.sent, report.failed) == (4, 1)
    assert handler.received == 4
    with sessions() as s:
        bad = s.get(OutboxMessage, bad_id)
        assert bad.status == "failed" and "cannot build the message" in bad.last_error
        assert s.scalars(select(AuditLog).where(AuditLog.action == "email.failed",
                                                AuditLog.entity_id == str(bad_id))).one()
        board = dashboard.dashboard(s, "MI-AIMH", default_library(), date(2026, 11, 22))
    assert [m["error"] for m in board.problem_emails if m["id"] == bad_id][0].startswith("permanent: cannot build")
    # A re-run has nothing left to do: the bad message is not retried for ever.
    assert _deliver_to_sink(sessions, tmp_path)[1].claimed == 0


NAME_FIELDS = ["Eve\r\nBcc: x@example.org", "Eve\nSmith", "Eve\x00", "Eve\u2028Smith", "Eve\tSmith"]


@pytest.mark.parametrize("name", NAME_FIELDS)
def test_a_name_with_control_characters_is_refused_in_a_document_naming_the_field(name):
    doc = json.loads((PROJECT_ROOT / "cohort" / "ct-aimh-imhm-rf-rating-requested.json").read_text())
    doc["references"][0]["rater"]["name"] = name
    with pytest.raises(DocumentError) as err:
        parse_document(json.dumps(doc), "app.json")
    assert "references" in str(err.value) and "rater" in str(err.value) and "name" in str(err.value)


@pytest.mark.parametrize("name", NAME_FIELDS)
def test_a_rater_name_with_control_characters_is_refused_on_the_form_and_command_line(name):
    with pytest.raises(ValueError, match="^name: must be one line"):
        ProposedRater(name=name, email="eve@example.org", role="colleague")
    with pytest.raises(ValueError, match="^email: "):
        ProposedRater(name="Eve", email="eve@example.org\r\nBcc: x@example.org", role="colleague")


def test_the_command_line_refuses_a_reviewer_name_with_a_line_break(sessions, database_url, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", database_url)
    from endorse.settings import get_settings

    get_settings.cache_clear()
    try:
        code = main(["exam", "reviewer", "--name", "Eve\r\nBcc: x", "--email", "eve@example.org", "--by", "c@example.org"])
    finally:
        get_settings.cache_clear()
    assert code == 2 and "--name: must be one line" in capsys.readouterr().err


SUBJECT_CASES = [
    pytest.param("O'Brien & Co", id="apostrophe and ampersand"),
    pytest.param('Ana "Annie" <Ruiz>', id="quotes and angle brackets"),
]


@pytest.mark.parametrize("name", SUBJECT_CASES)
def test_subjects_and_plain_text_read_as_typed_and_only_html_is_escaped(name):
    from tasks.mail.outbox import profile_context

    mail = render("reference.reminder", {
        **profile_context(None), "rater_name": name, "applicant_name": name, "category_name": "IMHS",
        "due_on": "2026-12-01", "association_name": "MI-AIMH", "coordinator_name": "C", "coordinator_email": "c@x"},
        association="MI-AIMH",
        templates_dir=str(PROJECT_ROOT / "templates"))
    assert name in mail.subject and "&#39;" not in mail.subject and "&amp;" not in mail.subject
    assert name in mail.text and "&amp;" not in mail.text
    assert name not in mail.html and str(markupsafe.escape(name)) in mail.html


def test_a_queued_email_keeps_the_subject_as_typed_through_delivery(sessions, tmp_path: Path):
    with transaction(sessions) as s:
        from tasks.intake.records import ensure_associations

        ensure_associations(s, default_library())
        queue_email(s, role="reference.reminder", to_email="r@example.org", to_name="O'Brien & Co",
                    association="MI-AIMH", idempotency_key="subject:1",
                    context={"rater_name": "O'Brien & Co", "applicant_name": "O'Brien & Co", "category_name": "IMHS",
                             "due_on": "2026-12-01"})
    assert _deliver_to_sink(sessions, tmp_path)[1].sent == 1
    [eml] = list((tmp_path / "mail").glob("*.eml"))
    msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert "O'Brien & Co" in msg["Subject"]
    assert "O'Brien & Co" in msg.get_body(("plain",)).get_content()
