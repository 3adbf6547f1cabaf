"""The exam on the coordinator's web pages (issue 15, item 3): open a sitting, enrol, upload the essays
and multiple-choice CSVs (every bad line reported, naming the file, nothing written), release a held
essay, preview the assignment; the same verbs as the CLI, audited under the coordinator's name, and
nothing of another association reachable."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from endorse.rulebook import default_library
from models import Application, AuditLog, Essay, ExamAttempt, ExamSitting
from tasks.pipeline import reconcile as pipeline
from tests.web.test_coordinator import AS_OF, CT, MI, SECRET, _audits, cohort, csrf_of, signed_in  # noqa: F401

CANDIDATE = "MI-2026-141"  # every requirement but the exam met


def _sitting_with_candidate(sessions):
    client = signed_in(sessions)
    url = f"/coordinator/applications/{CANDIDATE}"
    assert client.post(url + "/approve-exam", data={"csrf": csrf_of(client, url)}, follow_redirects=False).status_code == 303
    pipeline.reconcile_one(sessions, CANDIDATE, pipeline.PipelineConfig(library=default_library(), as_of=AS_OF,
                                                                         secret_key=SECRET))
    csrf = csrf_of(client, "/coordinator/exam")
    r = client.post("/coordinator/exam/sittings", data={"csrf": csrf, "name": "Spring 2027", "opens_on": "2026-11-22",
                                                        "closes_on": "2026-12-15"}, follow_redirects=False)
    assert r.status_code == 303
    with sessions() as s:
        sitting = s.scalars(select(ExamSitting.id).where(ExamSitting.association_code == "MI-AIMH")).one()
    r = client.post(f"/coordinator/exam/{sitting}/enrol", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    with sessions() as s:
        code = s.scalars(select(ExamAttempt.candidate_code).where(ExamAttempt.application_id == CANDIDATE,
                                                                  ExamAttempt.sitting_id == sitting)).one()
        name = s.get(Application, CANDIDATE).applicant_name
    return client, csrf, sitting, code, name


def test_a_sitting_opened_and_enrolled_from_the_page_is_audited_under_the_coordinators_name(cohort):  # noqa: F811
    client, _, sitting, code, _ = _sitting_with_candidate(cohort)
    page = client.get("/coordinator/exam").text
    assert "Spring 2027" in page and re.search(r'<td class="num">1</td>', page)
    with cohort() as s:
        actors = {a.action: a.actor for a in s.scalars(select(AuditLog).where(AuditLog.action.like("exam.%")))}
    assert actors["exam.sitting_opened"] == actors["exam.approved"] == f"coordinator:{MI}"


def test_an_essay_csv_with_a_bad_line_is_refused_whole_with_each_problem_named(cohort):  # noqa: F811
    client, csrf, sitting, code, _ = _sitting_with_candidate(cohort)
    body = f"candidate_code,essay\n{code},A fine essay about reflective practice.\nZZZZ-9999,Another essay\n{code},\n"
    r = client.post(f"/coordinator/exam/{sitting}/essays", data={"csrf": csrf},
                    files={"file": ("spring essays.csv", body.encode(), "text/csv")})
    assert r.status_code == 422
    assert "spring_essays.csv: 2 problem(s), nothing imported" in r.text
    assert "line 3, candidate_code: ZZZZ-9999 is not a candidate" in r.text and "line 4, candidate_code" in r.text
    with cohort() as s:
        assert s.scalar(select(func.count()).select_from(Essay).where(Essay.text != "")) == 0
    assert client.post(f"/coordinator/exam/{sitting}/essays", data={"csrf": csrf}).status_code == 422  # no file: named


def test_an_essay_naming_its_writer_is_held_until_the_coordinator_releases_a_redacted_text(cohort):  # noqa: F811
    client, csrf, sitting, code, name = _sitting_with_candidate(cohort)
    body = f'candidate_code,essay\n{code},"I, {name}, have worked with infants and parents for years."\n'
    r = client.post(f"/coordinator/exam/{sitting}/essays", data={"csrf": csrf},
                    files={"file": ("essays.csv", body.encode(), "text/csv")}, follow_redirects=False)
    assert r.status_code == 303
    page = client.get("/coordinator/exam").text
    assert 'id="held"' in page
    with cohort() as s:
        essay = s.scalars(select(Essay).where(Essay.text != "")).one()
    still = client.post(f"/coordinator/exam/essays/{essay.id}/release",
                        data={"csrf": csrf, "how": "redacted", "redacted": f"I, {name}, still here."})
    assert still.status_code == 422 and "still fails the blindness check" in still.text
    r = client.post(f"/coordinator/exam/essays/{essay.id}/release",
                    data={"csrf": csrf, "how": "redacted", "redacted": "I have worked with infants and parents for years."},
                    follow_redirects=False)
    assert r.status_code == 303
    with cohort() as s:
        released = s.get(Essay, essay.id)
        assert released.flag_cleared_by == f"coordinator:{MI}" and name not in released.text
    preview = client.get(f"/coordinator/exam/{sitting}/assignment")
    assert preview.status_code == 200 and 'id="total-cost"' in preview.text
    assert _audits(cohort, "exam.essay_flag_cleared") == 1


def test_multiple_choice_results_from_an_upload(cohort):  # noqa: F811
    client, csrf, sitting, code, _ = _sitting_with_candidate(cohort)
    bad = client.post(f"/coordinator/exam/{sitting}/multiple-choice", data={"csrf": csrf},
                      files={"file": ("mc.csv", f"candidate_code,percent\n{code},eighty\n".encode(), "text/csv")})
    assert bad.status_code == 422 and "mc.csv" in bad.text and "line 2" in bad.text
    r = client.post(f"/coordinator/exam/{sitting}/multiple-choice", data={"csrf": csrf},
                    files={"file": ("mc.csv", f"candidate_code,percent\n{code},86\n".encode(), "text/csv")},
                    follow_redirects=False)
    assert r.status_code == 303
    with cohort() as s:
        assert float(s.scalars(select(ExamAttempt.multiple_choice_percent)
                              .where(ExamAttempt.candidate_code == code)).one()) == 86.0


def test_another_associations_sitting_and_essays_are_not_found(cohort):  # noqa: F811
    _, _, sitting, code, _ = _sitting_with_candidate(cohort)
    ct = signed_in(cohort, CT)
    csrf = csrf_of(ct, "/coordinator/exam")
    assert f'id="sitting-{sitting}"' not in ct.get("/coordinator/exam").text and "No sitting yet" in ct.get("/coordinator/exam").text
    assert ct.get(f"/coordinator/exam/{sitting}/assignment").status_code == 404
    for path in ("enrol", "assignment"):
        assert ct.post(f"/coordinator/exam/{sitting}/{path}", data={"csrf": csrf}).status_code == 404
    r = ct.post(f"/coordinator/exam/{sitting}/essays", data={"csrf": csrf},
                files={"file": ("e.csv", f"candidate_code,essay\n{code},text\n".encode(), "text/csv")})
    assert r.status_code == 404
    with cohort() as s:
        assert s.scalar(select(func.count()).select_from(Essay).where(Essay.text != "")) == 0


def test_an_exam_action_without_csrf_changes_nothing(cohort):  # noqa: F811
    client = signed_in(cohort)
    r = client.post("/coordinator/exam/sittings", data={"name": "X", "opens_on": "2026-11-22", "closes_on": "2026-12-01"})
    assert r.status_code == 403 and _audits(cohort, "exam.sitting_opened") == 0


def test_reviewers_registered_from_the_page_are_assigned_after_the_preview(cohort):  # noqa: F811
    from models import ReviewAssignment, ReviewerAvailability

    client, csrf, sitting, code, _ = _sitting_with_candidate(cohort)
    body = f"candidate_code,essay\n{code},A reflective essay about infants and parents.\n"
    client.post(f"/coordinator/exam/{sitting}/essays", data={"csrf": csrf},
                files={"file": ("essays.csv", body.encode(), "text/csv")})
    bad = client.post(f"/coordinator/exam/{sitting}/reviewers",
                      data={"csrf": csrf, "name": "Helen Marsh", "email": "hmarsh@example.org", "max_load": "many"})
    assert bad.status_code == 422 and "most essays: write a whole number" in bad.text
    uncovered = client.get(f"/coordinator/exam/{sitting}/assignment").text
    assert 'id="uncovered"' in uncovered  # no reviewer yet: the essay is not covered, and it says why
    with cohort() as s:  # reviewers hold an endorsement: two IMHM the cohort's pipeline endorsed
        endorsed = [(a.applicant_name, a.applicant.email) for a in
                    (s.get(Application, i) for i in ("MI-2026-104", "OR-2026-131"))]
    for name, email in endorsed:
        r = client.post(f"/coordinator/exam/{sitting}/reviewers", data={"csrf": csrf, "name": name, "email": email,
                                                                        "max_load": "5", "trained": "yes"},
                        follow_redirects=False)
        assert r.status_code == 303, r.text
    preview = client.get(f"/coordinator/exam/{sitting}/assignment").text
    assert re.search(r'id="new-assignments">(\d+)<', preview).group(1) == "2", preview[preview.find("<h2>"):][:1500]
    r = client.post(f"/coordinator/exam/{sitting}/assignment", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    with cohort() as s:
        assert s.scalar(select(func.count()).select_from(ReviewerAvailability)
                        .where(ReviewerAvailability.sitting_id == sitting)) == 2
        assert s.scalar(select(func.count()).select_from(ReviewAssignment)) == 2
        actors = {a.actor for a in s.scalars(select(AuditLog).where(AuditLog.action == "exam.reviewer_registered"))}
    assert actors == {f"coordinator:{MI}"}


def _reviewers_assigned(cohort):  # noqa: F811
    """The candidate's essay in, two endorsed reviewers registered and the plan applied from the page."""
    client, csrf, sitting, code, _ = _sitting_with_candidate(cohort)
    client.post(f"/coordinator/exam/{sitting}/essays", data={"csrf": csrf},
                files={"file": ("essays.csv", f"candidate_code,essay\n{code},A reflective essay.\n".encode(), "text/csv")})
    with cohort() as s:
        endorsed = [(a.applicant_name, a.applicant.email) for a in
                    (s.get(Application, i) for i in ("MI-2026-104", "OR-2026-131"))]
    for name, email in endorsed:
        client.post(f"/coordinator/exam/{sitting}/reviewers", data={"csrf": csrf, "name": name, "email": email,
                                                                    "max_load": "5", "trained": "yes"})
    assert client.post(f"/coordinator/exam/{sitting}/assignment", data={"csrf": csrf},
                       follow_redirects=False).status_code == 303
    return client, csrf


def _console_token(cohort, reviewer_id: int) -> str:  # noqa: F811
    from endorse import links
    from models import ReviewerConsoleLink

    with cohort() as s:
        row = s.scalars(select(ReviewerConsoleLink).where(ReviewerConsoleLink.reviewer_id == reviewer_id)).one()
        return links.token_for(row.token_nonce, SECRET, "reviewer")


def _console_emails(cohort, reviewer_id: int) -> list:  # noqa: F811
    from models import OutboxMessage, Person

    with cohort() as s:
        email = s.get(Person, reviewer_id).email
        return list(s.scalars(select(OutboxMessage).where(OutboxMessage.recipient_email == email)
                              .order_by(OutboxMessage.id)))


def test_the_assignment_email_carries_the_reviewers_console_link_and_the_coordinator_sends_it_again(cohort):  # noqa: F811
    """Issue 15 item 9 (one console per reviewer): every reviewer email links the console; the coordinator
    resends it (same link) or replaces it (the old one stops working), through the outbox, audited."""
    from fastapi.testclient import TestClient

    from models import ReviewAssignment, ReviewerConsoleLink
    from tests.web.conftest import make_web_app

    client, csrf = _reviewers_assigned(cohort)
    with cohort() as s:
        reviewer_id = s.scalars(select(ReviewAssignment.reviewer_id).order_by(ReviewAssignment.id)).first()
        row = s.scalars(select(ReviewerConsoleLink).where(ReviewerConsoleLink.reviewer_id == reviewer_id)).one()
        assert row.token_nonce and len(row.token_hash) == 64  # only the nonce and the hash are stored
    assigned = [m for m in _console_emails(cohort, reviewer_id) if m.role == "review.assigned"]
    assert len(assigned) == 1 and assigned[0].link_kind == "reviewer" and assigned[0].link_ref_id == row.id
    page = client.get("/coordinator/exam").text
    assert 'id="reviewers"' in page and f"/coordinator/exam/reviewers/{reviewer_id}/console-link" in page
    reviewer_pages = TestClient(make_web_app(cohort, SECRET, AS_OF))
    old = _console_token(cohort, reviewer_id)
    assert reviewer_pages.get(f"/review/{old}").status_code == 200

    url = f"/coordinator/exam/reviewers/{reviewer_id}/console-link"
    again = client.post(url, data={"csrf": csrf}, follow_redirects=True)
    assert again.status_code == 200 and "The same console link emailed again." in again.text
    assert _console_token(cohort, reviewer_id) == old and reviewer_pages.get(f"/review/{old}").status_code == 200
    new = client.post(url, data={"csrf": csrf, "regenerate": "yes"}, follow_redirects=True)
    assert "A new console link emailed; the old one no longer works." in new.text
    assert reviewer_pages.get(f"/review/{old}").status_code == 404
    assert reviewer_pages.get(f"/review/{_console_token(cohort, reviewer_id)}").status_code == 200
    consoles = [m for m in _console_emails(cohort, reviewer_id) if m.role == "review.console"]
    assert len(consoles) == 2 and all(m.link_kind == "reviewer" and old not in m.body_text for m in consoles)
    assert "no longer works" in consoles[1].body_text and "no longer works" not in consoles[0].body_text
    with cohort() as s:
        actions = [(a.action, a.actor) for a in s.scalars(select(AuditLog).where(
            AuditLog.entity_type == "reviewer_console_link", AuditLog.entity_id == str(row.id)).order_by(AuditLog.id))]
    assert actions == [("exam.console_link_issued", f"coordinator:{MI}"), ("exam.console_link_resent", f"coordinator:{MI}"),
                       ("exam.console_link_issued", f"coordinator:{MI}")]


def test_another_associations_coordinator_cannot_send_a_reviewers_console_link(cohort):  # noqa: F811
    from models import OutboxMessage, ReviewAssignment

    _reviewers_assigned(cohort)
    with cohort() as s:
        reviewer_id = s.scalars(select(ReviewAssignment.reviewer_id)).first()
        before = s.scalar(select(func.count()).select_from(OutboxMessage))
    ct = signed_in(cohort, CT)
    csrf = csrf_of(ct, "/coordinator/exam")
    assert f"/reviewers/{reviewer_id}/console-link" not in ct.get("/coordinator/exam").text
    for who in (reviewer_id, 999999):  # theirs elsewhere and nobody's: the same 404
        assert ct.post(f"/coordinator/exam/reviewers/{who}/console-link",
                       data={"csrf": csrf, "regenerate": "yes"}).status_code == 404
    mi = signed_in(cohort)
    assert mi.post(f"/coordinator/exam/reviewers/{reviewer_id}/console-link", data={}).status_code == 403  # no CSRF
    with cohort() as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == before
