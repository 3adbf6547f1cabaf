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
