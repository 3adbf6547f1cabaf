"""The reviewer's console (issue 15, items 9 and 10): one link lists everything assigned to the
reviewer with their progress, drafts, "save and next", a comment to the coordinator the candidate never
sees, and giving an essay back only with a reason and a confirmation."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from endorse import links
from endorse.rulebook import default_library
from models import AuditLog, Essay, ExamAttempt, OutboxMessage, Review, ReviewAssignment, ReviewerConsoleLink
from tasks import reviewer_console
from tasks.exam import review as essay_review
from tests.exam.conftest import AS_OF, SECRET

LIB = default_library()


def _csrf(text: str) -> str:
    return text.split('name="csrf" value="')[1].split('"')[0]


def _scores(text: str, value: str = "3") -> dict[str, str]:
    return {name: value for name in set(re.findall(r'name="(score:[a-z_]+)"', text))}


def console_with_two_essays(sessions, sitting) -> tuple[str, int, list[ReviewAssignment]]:
    """Apply the plan, give one IMHS reviewer the IMHM-C essay as well (two essays on their list),
    and issue their console link: (token, reviewer id, their assignments in list order)."""
    essay_review.apply_sitting(sessions, sitting.id, LIB, as_of=AS_OF, secret_key=SECRET, actor="coordinator:test")
    with sessions() as s:
        imhs = s.scalars(select(ReviewAssignment).join(Essay).join(ExamAttempt)
                         .where(ExamAttempt.candidate_code == sitting.codes["IMHS"]).order_by(ReviewAssignment.id)).first()
        other = s.scalars(select(Essay).join(ExamAttempt).where(ExamAttempt.candidate_code == sitting.codes["IMHM-C"])).one()
        s.add(ReviewAssignment(essay_id=other.id, reviewer_id=imhs.reviewer_id, status="assigned", due_on=imhs.due_on))
        s.commit()
        reviewer_id = imhs.reviewer_id
    reviewer_console.send_console_link(sessions, reviewer_id, LIB, as_of=AS_OF, secret_key=SECRET,
                                       actor="coordinator:test")
    with sessions() as s:
        row = s.scalars(select(ReviewerConsoleLink).where(ReviewerConsoleLink.reviewer_id == reviewer_id)).one()
        token = links.token_for(row.token_nonce, SECRET, reviewer_console.LINK_PURPOSE)
        mine = list(s.scalars(select(ReviewAssignment).where(ReviewAssignment.reviewer_id == reviewer_id)
                              .order_by(ReviewAssignment.due_on, ReviewAssignment.id)))
    return token, reviewer_id, mine


def test_one_link_lists_every_assignment_with_progress_and_the_link_is_hashed_at_rest(sessions, sitting, exam_web):
    token, reviewer_id, _mine = console_with_two_essays(sessions, sitting)
    page = TestClient(exam_web).get(f"/review/{token}")
    assert page.status_code == 200
    assert "0 of 2 reviewed" in page.text
    for code in sitting.codes.values():
        assert f"Essay {code}" in page.text
    with sessions() as s:
        row = s.scalars(select(ReviewerConsoleLink).where(ReviewerConsoleLink.reviewer_id == reviewer_id)).one()
        assert row.token_hash == links.hash_token(token) and token not in (row.token_nonce, row.token_hash)
        mail = s.scalars(select(OutboxMessage).where(OutboxMessage.role == "review.console")).one()
        assert mail.link_kind == "reviewer" and token not in mail.body_text  # the link is built at send time


def test_a_regenerated_console_link_replaces_the_old_one_and_a_resend_keeps_it(sessions, sitting, exam_web):
    token, reviewer_id, _ = console_with_two_essays(sessions, sitting)
    client = TestClient(exam_web)
    reviewer_console.send_console_link(sessions, reviewer_id, LIB, as_of=AS_OF, secret_key=SECRET, actor="c")
    assert client.get(f"/review/{token}").status_code == 200  # resent: the same link
    reviewer_console.send_console_link(sessions, reviewer_id, LIB, as_of=AS_OF, secret_key=SECRET, actor="c",
                                       regenerate=True)
    assert client.get(f"/review/{token}").status_code == 404
    with sessions() as s:
        row_id = s.scalar(select(ReviewerConsoleLink.id).where(ReviewerConsoleLink.reviewer_id == reviewer_id))
        actions = [a.action for a in s.scalars(select(AuditLog).where(AuditLog.entity_type == "reviewer_console_link",
                                                                       AuditLog.entity_id == str(row_id))
                                               .order_by(AuditLog.id))]
    # Issued with the assignment email, sent again twice (the fixture, then here), then replaced.
    assert actions == ["exam.console_link_issued", "exam.console_link_resent", "exam.console_link_resent",
                       "exam.console_link_issued"]
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.role == "review.console")) == 3


def test_a_draft_is_kept_and_save_and_next_goes_to_the_next_essay(sessions, sitting, exam_web):
    token, _, mine = console_with_two_essays(sessions, sitting)
    client = TestClient(exam_web)
    first, second = mine
    page = client.get(f"/review/{token}/essay/{first.id}").text
    draft = client.post(f"/review/{token}/essay/{first.id}",
                        data={"csrf": _csrf(page), "action": "save", "comments": "half a thought"})
    assert draft.status_code == 200 and "Draft saved" in draft.text and "half a thought" in draft.text
    assert "Draft saved" in client.get(f"/review/{token}").text  # the list says so too
    with sessions() as s:
        assert s.scalars(select(Review)).first() is None  # a draft is not a review
    nxt = client.post(f"/review/{token}/essay/{first.id}", follow_redirects=False,
                      data={**_scores(page), "csrf": _csrf(page), "action": "submit_next", "recommendation": "pass",
                            "comments": "Clear and reflective."})
    assert nxt.status_code == 303 and nxt.headers["location"].endswith(f"/essay/{second.id}?notice=submitted")
    assert "1 of 2 reviewed" in client.get(f"/review/{token}").text


def test_the_comment_to_the_coordinator_never_reaches_the_candidate(sessions, sitting, exam_web):
    essay_review.apply_sitting(sessions, sitting.id, LIB, as_of=AS_OF, secret_key=SECRET, actor="coordinator:test")
    client = TestClient(exam_web)
    with sessions() as s:
        attempt = s.scalars(select(ExamAttempt).where(ExamAttempt.candidate_code == sitting.codes["IMHS"])).one()
        attempt.multiple_choice_percent = 91
        pair = list(s.scalars(select(ReviewAssignment).join(Essay).where(Essay.attempt_id == attempt.id)))
        s.commit()
    from tests.exam.conftest import reviewer_token

    for n, a in enumerate(pair):
        token = reviewer_token(sessions, sitting.id, a.reviewer_id)
        page = client.get(f"/review/{token}/essay/{a.id}").text
        client.post(f"/review/{token}/essay/{a.id}", data={
            **_scores(page), "csrf": _csrf(page), "recommendation": "pass", "comments": f"Warm and specific {n}.",
            "confidential": f"CONFIDENTIAL-NOTE-{n}: the vignette was ambiguous"})
    with sessions() as s:
        letter = s.scalars(select(OutboxMessage).where(OutboxMessage.role == "exam.feedback")).one()
        notes = sorted(r.confidential_comment for r in s.scalars(select(Review)))
    assert "Warm and specific 0." in letter.body_text
    for text in (letter.subject, letter.body_text, letter.body_html):
        assert "CONFIDENTIAL-NOTE" not in text
    assert notes == ["CONFIDENTIAL-NOTE-0: the vignette was ambiguous", "CONFIDENTIAL-NOTE-1: the vignette was ambiguous"]
    # The coordinator reads them on the application page.
    from tasks.coordination.dashboard import application_page

    with sessions() as s:
        page = application_page(s, sitting.apps["IMHS"], "MI-AIMH")
    assert page.exam[0]["notes"] == notes


def test_giving_an_essay_back_needs_a_reason_and_a_confirmation(sessions, sitting, exam_web):
    token, _, mine = console_with_two_essays(sessions, sitting)
    client = TestClient(exam_web)
    a = mine[0]
    csrf = _csrf(client.get(f"/review/{token}/essay/{a.id}").text)
    url = f"/review/{token}/essay/{a.id}/decline"
    no_reason = client.post(url, data={"csrf": csrf})
    assert no_reason.status_code == 422 and "say why you give the essay back" in no_reason.text
    asked = client.post(url, data={"csrf": csrf, "declined_reason": "I supervised this writer"})
    assert asked.status_code == 200 and "Give essay" in asked.text and "I supervised this writer" in asked.text
    unticked = client.post(url, data={"csrf": csrf, "declined_reason": "I supervised this writer", "step": "confirm"})
    assert "tick the box to confirm" in unticked.text
    with sessions() as s:
        assert s.get(ReviewAssignment, a.id).status == "assigned"  # nothing happened yet
    done = client.post(url, data={"csrf": csrf, "declined_reason": "I supervised this writer", "step": "confirm",
                                  "confirm": "yes"}, follow_redirects=False)
    assert done.status_code == 303
    with sessions() as s:
        assert s.get(ReviewAssignment, a.id).ended_reason == "I supervised this writer"


def test_the_read_only_view_shows_the_scale_labels(sessions, sitting, exam_web):
    token, _, mine = console_with_two_essays(sessions, sitting)
    client = TestClient(make_late_app(sessions, mine[0].due_on))
    early = TestClient(exam_web)
    page = early.get(f"/review/{token}/essay/{mine[0].id}").text
    early.post(f"/review/{token}/essay/{mine[0].id}", data={
        **_scores(page, "4"), "csrf": _csrf(page), "recommendation": "pass", "comments": "Strong."})
    shown = client.get(f"/review/{token}/essay/{mine[0].id}").text
    assert "4 · Strongly evident" in shown and "<textarea" not in shown.split("Your review")[1].split("</dl>")[0]


def make_late_app(sessions, due_on):
    """The web app the day after a due date: a submitted review is read-only then."""
    from tests.web.conftest import make_web_app

    return make_web_app(sessions, SECRET, due_on + timedelta(days=1))


def test_the_coordinator_sends_the_console_link_and_records_the_prompt_from_the_command_line(
        sessions, sitting, database_url, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from endorse.settings import PROJECT_ROOT
    from models import ExamSitting

    essay_review.apply_sitting(sessions, sitting.id, LIB, as_of=AS_OF, secret_key=SECRET, actor="coordinator:test")
    env = {**os.environ, "DATABASE_URL": database_url, "ENDORSE_SECRET_KEY": SECRET}
    endorse = str(Path(sys.executable).parent / "endorse")

    def run(*args):
        return subprocess.run([endorse, *args], capture_output=True, text=True, cwd=PROJECT_ROOT, env=env, check=False)

    with sessions() as s:
        reviewer = s.scalars(select(ReviewAssignment.reviewer_id).order_by(ReviewAssignment.id)).first()
    first = run("exam", "reviewer-console", str(reviewer), "--regenerate", "--by", "mlopez@example.org",
                "--as-of", AS_OF.isoformat())
    assert first.returncode == 0 and f"new console link queued for reviewer #{reviewer}" in first.stdout
    again = run("exam", "reviewer-console", str(reviewer), "--by", "mlopez@example.org", "--as-of", AS_OF.isoformat())
    assert "the same console link queued again" in again.stdout
    nobody = run("exam", "reviewer-console", "999999", "--by", "mlopez@example.org")
    assert nobody.returncode != 0 and "no person with id 999999" in nobody.stderr
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("A vignette about a toddler and his grandmother.\n", encoding="utf-8")
    recorded = run("exam", "prompt", str(sitting.id), "IMHS", str(prompt), "--by", "mlopez@example.org")
    assert recorded.returncode == 0, recorded.stderr
    bad_track = run("exam", "prompt", str(sitting.id), "IFA", str(prompt), "--by", "mlopez@example.org")
    assert bad_track.returncode != 0 and "'IFA' is not an exam track" in bad_track.stderr
    with sessions() as s:
        assert s.get(ExamSitting, sitting.id).essay_prompts == {"IMHS": "A vignette about a toddler and his grandmother."}



def test_two_transactions_issuing_a_reviewers_first_console_link_at_once_share_one_link(sessions):
    """Two coordinators (or a coordinator and the sweep) issuing the same reviewer's first console link
    at the same moment: the second waits for the first and keeps its link; neither fails on the
    unique reviewer_id (it did on PostgreSQL, where both saw no row to lock)."""
    from datetime import UTC, datetime

    from endorse.db import transaction
    from models import Person
    from tests.concurrency import one_after_the_other_at_once

    with transaction(sessions) as s:
        person = Person(name="Rae Viewer", email="rae@example.org", email_normalized="rae@example.org")
        s.add(person)
        s.flush()
        reviewer_id = person.id
    until = datetime(2027, 6, 1, tzinfo=UTC)

    def issue(later: timedelta):
        def act(s):
            row, outcome = essay_review.console_link_for(s, reviewer_id, SECRET, until + later, "coordinator:test")
            return outcome, row.token_nonce
        return act

    first, second = one_after_the_other_at_once(sessions, issue(timedelta(0)), issue(timedelta(days=5)))
    assert first[0] == "issued" and second == ("kept", first[1])
    with sessions() as s:
        rows = s.scalars(select(ReviewerConsoleLink).where(ReviewerConsoleLink.reviewer_id == reviewer_id)).all()
        assert len(rows) == 1 and rows[0].token_expires_at.replace(tzinfo=UTC) == until + timedelta(days=5)
        issued = s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "exam.console_link_issued",
                                                                           AuditLog.entity_id == str(rows[0].id)))
        assert issued == 1
