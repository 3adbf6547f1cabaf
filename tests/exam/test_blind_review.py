"""The blind-review guarantee (issue #5 · Blindness): a reviewer sees candidate codes only. Every page
and every email a reviewer can reach is collected here and searched for each candidate's name, email
address, employer and application id."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from endorse.rulebook import default_library
from endorse.settings import PROJECT_ROOT
from models import Application, Essay, ExamAttempt, OutboxMessage, ReviewAssignment, ReviewerConsoleLink
from tasks.exam import review as essay_review
from tasks.exam.intake import import_essays
from tests.exam.conftest import AS_OF, SECRET, reviewer_token, write_csv

LIB = default_library()


def _csrf(text: str) -> str:
    return text.split('name="csrf" value="')[1].split('"')[0]


def _everything_a_reviewer_can_reach(sessions, sitting, client) -> list[tuple[str, str]]:
    """(where, text) for every page and email reachable by any reviewer in this sitting, driving the
    review through all its paths: list, essay, invalid form, submission, disagreement with a third
    reviewer, decline, resubmission, a regenerated link, and the not-found page."""
    seen: list[tuple[str, str]] = []

    def get(url: str, where: str):
        r = client.get(url)
        seen.append((where, r.text))
        return r

    def post(url: str, data: dict, where: str):
        r = client.post(url, data=data, follow_redirects=True)
        seen.append((where, r.text))
        return r

    essay_review.apply_sitting(sessions, sitting.id, LIB, as_of=AS_OF, secret_key=SECRET, actor="coordinator:test")
    with sessions() as s:
        rows = s.scalars(select(ReviewAssignment).order_by(ReviewAssignment.id)).all()
    by_essay: dict[int, list[ReviewAssignment]] = {}
    for a in rows:
        by_essay.setdefault(a.essay_id, []).append(a)
    for essay_id, assignments in by_essay.items():
        for n, a in enumerate(assignments):
            token = reviewer_token(sessions, sitting.id, a.reviewer_id)
            get(f"/review/{token}", "reviewer home")
            page = get(f"/review/{token}/essay/{a.id}", "essay page")
            scores = {k: "3" for k in set(re.findall(r'name="(score:[a-z_]+)"', page.text))}
            post(f"/review/{token}/essay/{a.id}", {"csrf": _csrf(page.text)}, "invalid review form")
            # The two reviewers of each essay disagree: a third reviewer is assigned and emailed.
            data = {**scores, "csrf": _csrf(page.text), "recommendation": "pass" if n == 0 else "fail",
                    "comments": "A thoughtful essay."}
            post(f"/review/{token}/essay/{a.id}", data, "after submitting")
            post(f"/review/{token}/essay/{a.id}", data, "submitting twice")
            get(f"/review/{token}/essay/{a.id}", "submitted essay page")
    with sessions() as s:
        thirds = s.scalars(select(ReviewAssignment).where(ReviewAssignment.round > 1)).all()
    for a in thirds:
        token = reviewer_token(sessions, sitting.id, a.reviewer_id)
        page = get(f"/review/{token}/essay/{a.id}", "third reviewer's essay page")
        post(f"/review/{token}/essay/{a.id}/decline", {"csrf": _csrf(page.text), "declined_reason": "no time"},
             "give-back confirmation")
        post(f"/review/{token}/essay/{a.id}/decline", {"csrf": _csrf(page.text), "declined_reason": "no time",
                                                        "step": "confirm", "confirm": "yes"}, "after declining")
    from tasks.reviewer_console import send_console_link

    with sessions() as s:
        reviewer_id = s.scalars(select(ReviewAssignment.reviewer_id)).first()
    send_console_link(sessions, reviewer_id, LIB, as_of=AS_OF, secret_key=SECRET, actor="coordinator:test",
                      regenerate=True)
    # Two days before the due date, whoever still has an essay is reminded.
    essay_review.remind_reviewers(sessions, LIB, as_of=AS_OF + timedelta(days=19))
    get("/review/" + "A" * 43, "not-found page")
    with sessions() as s:
        reviewer_ids = {a.reviewer_id for a in s.scalars(select(ReviewAssignment))}
        from models import Person

        reviewer_emails = {s.get(Person, r).email for r in reviewer_ids}
        for m in s.scalars(select(OutboxMessage).where(OutboxMessage.recipient_email.in_(reviewer_emails))):
            seen.append((f"email {m.role}", "\n".join([m.subject, m.body_text, m.body_html])))
    return seen


def test_no_page_or_email_a_reviewer_can_reach_names_a_candidate(sessions, sitting, exam_web):
    client = TestClient(exam_web)
    reached = _everything_a_reviewer_can_reach(sessions, sitting, client)
    roles = {w for w, _ in reached if w.startswith("email")}
    assert {"email review.assigned", "email review.console", "email review.reminder"} <= roles
    assert any("third reviewer" in t for w, t in reached if w == "email review.assigned")
    assert any(sitting.codes["IMHS"] in t for _, t in reached)  # the codes are what reviewers do see
    secrets = sitting.identities + list(sitting.apps.values())
    for where, text in reached:
        for secret in secrets:
            assert secret.lower() not in text.lower(), f"{secret!r} reached a reviewer in: {where}"


def test_an_essay_that_names_its_writer_is_held_back_and_reaches_no_reviewer(sessions, sitting, exam_web, tmp_path):
    with sessions() as s:
        app = s.get(Application, sitting.apps["IMHM-C"])
        employer = app.work_records[0].employer if hasattr(app, "work_records") else None
    if employer is None:
        from models import WorkRecord

        with sessions() as s:
            employer = s.scalars(select(WorkRecord.employer).where(WorkRecord.application_id == sitting.apps["IMHM-C"])).first()
    text = f"At {employer} we see many families; this essay is about one of them."
    out = import_essays(sessions, sitting.id, write_csv(tmp_path / "e.csv", "candidate_code,essay",
                                                        [(sitting.codes["IMHM-C"], text)]),
                        LIB, actor="coordinator:test", as_of=AS_OF)
    assert out.flagged == [(sitting.codes["IMHM-C"], "the text names the candidate's employer")]
    essay_review.apply_sitting(sessions, sitting.id, LIB, as_of=AS_OF, secret_key=SECRET, actor="coordinator:test")
    with sessions() as s:
        held = s.scalars(select(Essay).join(ExamAttempt).where(ExamAttempt.candidate_code == sitting.codes["IMHM-C"])).one()
        assert s.scalars(select(ReviewAssignment).where(ReviewAssignment.essay_id == held.id)).first() is None
        reviewers = set(s.scalars(select(ReviewerConsoleLink.reviewer_id)))
    assert reviewers  # the reviewers of the other essay were emailed their console link
    client = TestClient(exam_web)
    for r in reviewers:
        page = client.get(f"/review/{reviewer_token(sessions, sitting.id, r)}").text
        assert sitting.codes["IMHM-C"] not in page and employer not in page


def test_a_reviewer_cannot_open_another_reviewers_essay_with_their_own_link(sessions, sitting, exam_web):
    essay_review.apply_sitting(sessions, sitting.id, LIB, as_of=AS_OF, secret_key=SECRET, actor="coordinator:test")
    client = TestClient(exam_web)
    with sessions() as s:
        rows = s.scalars(select(ReviewAssignment)).all()
    mine = rows[0]
    others = [a for a in rows if a.reviewer_id != mine.reviewer_id]
    token = reviewer_token(sessions, sitting.id, mine.reviewer_id)
    not_found = client.get("/review/" + "B" * 43).text
    for a in others:
        r = client.get(f"/review/{token}/essay/{a.id}")
        assert r.status_code == 404 and r.text == not_found  # the same page as any unknown link
        r = client.post(f"/review/{token}/essay/{a.id}", data={"csrf": "x", "recommendation": "pass"})
        assert r.status_code == 404


def test_blindness_rule_cases():
    """The pure check behind the flag: whole words, any letter case; surnames too."""
    from tasks.exam.intake import blindness_problems

    checks = ["applicant_name", "applicant_surname", "employer"]
    cases = [
        ("Maria Lopez wrote this", "Maria Lopez", [], ["the text contains the candidate's name"]),
        ("as LOPEZ I think", "Maria Lopez", [], ["the text contains the candidate's surname"]),
        ("Lopezville is a town", "Maria Lopez", [], []),  # not a whole word
        ("we at Early Steps Clinic", "Ana Ng", ["Early Steps Clinic"], ["the text names the candidate's employer"]),
        ("Ng", "Ana Ng", [], []),  # two letters are too short to be a reliable signal
        ("nothing personal", "Maria Lopez", ["Acme"], []),
    ]
    for text, name, employers, expected in cases:
        assert blindness_problems(text, name, employers, checks) == expected, text


def test_the_templates_reviewers_see_take_no_candidate_fields():
    """Structural guard: the reviewer templates never refer to applicant fields."""
    for f in ["reviewer/home.html", "reviewer/essay.html", "reviewer/give_back.html", "email/review.console.txt",
              "email/review.console.html", "email/review.console.subject", "email/review.assigned.txt",
              "email/review.assigned.html", "email/review.new_link.txt", "email/review.new_link.html",
              "email/review.reminder.txt", "email/review.reminder.html", "email/review.reminder.subject"]:
        text = (PROJECT_ROOT / "templates" / f).read_text()
        assert "applicant" not in text and "employer" not in text, f
