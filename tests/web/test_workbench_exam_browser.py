"""The exam and renewals pages in Chromium, desktop and phone (issue 15, item 3): the coordinator opens a sitting,
enrols the approved candidate, uploads an essays CSV with a bad line (the report names the file and the
line, nothing is written), registers reviewers and previews then applies the assignment. Screenshots go
to the test's tmp dir and var/screenshots/."""

from __future__ import annotations


import pytest
from sqlalchemy import func, select

from endorse.rulebook import default_library
from models import Application, Essay, ExamAttempt, ReviewAssignment
from tasks.exam.results import approve_for_exam
from tasks.pipeline import reconcile as pipeline
from tests.web.test_coordinator import AS_OF, MI, PASSWORD, SECRET, cohort  # noqa: F401  (fixture)
from tests.web.test_workbench_browser import VIEWPORTS, coordinator_browser, fits, sign_in
from tests.web.browser import navigates

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("device", list(VIEWPORTS))
def test_a_coordinator_runs_a_sitting_from_the_exam_page(cohort, device, tmp_path):  # noqa: F811
    approve_for_exam(cohort, "MI-2026-141", approved_on=AS_OF, actor="test")
    pipeline.reconcile_one(cohort, "MI-2026-141", pipeline.PipelineConfig(library=default_library(), as_of=AS_OF,
                                                                           secret_key=SECRET))
    with cohort() as s:
        reviewers = [(a.applicant_name, a.applicant.email) for a in
                     (s.get(Application, i) for i in ("MI-2026-104", "OR-2026-131"))]
    with coordinator_browser(cohort, device, tmp_path, "exam") as (base, page, shot):
        sign_in(page, base)
        navigates(page, page.get_by_role("link", name="Exam"))
        page.get_by_label("Name").fill("Spring 2027")
        page.get_by_label("Closes on").fill("2026-12-15")
        navigates(page, page.get_by_role("button", name="Open the sitting"))
        assert "Sitting Spring 2027 opened" in page.get_by_role("status").inner_text()
        navigates(page, page.get_by_role("button", name="Enrol the approved candidates"))
        assert "1 enrolled" in page.get_by_role("status").inner_text()
        with cohort() as s:
            code = s.scalars(select(ExamAttempt.candidate_code)
                             .where(ExamAttempt.application_id == "MI-2026-141",
                                    ExamAttempt.sitting_id.is_not(None))).one()
        bad = tmp_path / "spring-essays.csv"
        bad.write_text(f"candidate_code,essay\n{code},An essay on reflective practice.\nNOPE-0000,Another\n")
        page.get_by_label("Essays CSV (candidate_code,essay)").set_input_files(str(bad))
        navigates(page, page.get_by_role("button", name="Upload essays"))
        problems = page.locator("#problems li").all_inner_texts()
        assert problems == ["line 3, candidate_code: NOPE-0000 is not a candidate of sitting 1"]
        assert "spring-essays.csv" in page.get_by_role("alert").inner_text()
        shot("essays-refused")
        navigates(page, page.get_by_role("link", name="Back"))
        good = tmp_path / "essays.csv"
        good.write_text(f"candidate_code,essay\n{code},An essay on reflective practice with infants and parents.\n")
        page.get_by_label("Essays CSV (candidate_code,essay)").set_input_files(str(good))
        navigates(page, page.get_by_role("button", name="Upload essays"))
        assert "1 essays received" in page.get_by_role("status").inner_text()
        for name, email in reviewers:
            page.locator("summary", has_text="Register a reviewer").click()
            page.get_by_label("Name", exact=True).last.fill(name)
            page.get_by_label("Email").fill(email)
            page.get_by_label("Most essays").fill("4")
            navigates(page, page.get_by_role("button", name="Register the reviewer"))
            assert "is a reviewer for this sitting" in page.get_by_role("status").inner_text()
        navigates(page, page.get_by_role("link", name="Preview the reviewer assignment"))
        assert page.locator("#new-assignments").inner_text() == "2"
        fits(page)
        shot("assignment-preview")
        navigates(page, page.get_by_role("button", name="Apply"))
        assert "2 assignments made" in page.get_by_role("status").inner_text()
        fits(page)
        shot("exam-page")
    with cohort() as s:
        assert s.scalar(select(func.count()).select_from(Essay).where(Essay.text != "")) == 1
        assert s.scalar(select(func.count()).select_from(ReviewAssignment)) == 2


@pytest.mark.parametrize("device", list(VIEWPORTS))
def test_a_coordinator_records_a_renewal_from_the_renewals_page(sessions, device, tmp_path):
    from tests.pipeline.test_renewal_recording import RENEWED
    from tests.web.test_coordinator_renewals import _setup

    _setup(sessions)
    broken = tmp_path / "broken-renewal.json"
    broken.write_text('{"year": ')
    with coordinator_browser(sessions, device, tmp_path, "renewals") as (base, page, shot):
        sign_in(page, base)
        navigates(page, page.get_by_role("link", name="Renewals"))
        page.get_by_label("Renewal document (JSON)").set_input_files(str(broken))
        navigates(page, page.get_by_role("button", name="Record the renewal"))
        assert "broken-renewal.json: not valid JSON" in page.get_by_role("alert").inner_text()
        shot("refused")
        navigates(page, page.get_by_role("link", name="Back"))
        page.get_by_label("Renewal document (JSON)").set_input_files(str(RENEWED))
        navigates(page, page.get_by_role("button", name="Record the renewal"))
        assert ": met; next renewal due" in page.get_by_role("status").inner_text()
        fits(page)
        shot("recorded")
