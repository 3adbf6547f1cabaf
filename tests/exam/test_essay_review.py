"""Essay review end to end (issue #5): apply the plan, reviewers answer through their links, two
agreeing reviewers settle an essay, a disagreement brings a third, a decline or a missed due date
reassigns only the essays affected, and the candidate's feedback letter quotes comments unnamed."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from endorse.db import transaction
from endorse.rulebook import default_library
from models import (
    Application,
    AuditLog,
    Essay,
    ExamAttempt,
    OutboxMessage,
    Review,
    Person,
    ReviewAssignment,
)
from tasks.exam import review as essay_review
from tasks.pipeline import reconcile as pipeline
from tasks.exam.intake import import_multiple_choice
from tests.exam.conftest import AS_OF, SECRET, reviewer_token, write_csv

LIB = default_library()
GOOD = {"score:theoretical_foundations": "3", "score:direct_service_skills": "3", "score:working_with_others": "3",
        "score:reflection": "3"}  # the IMHS rubric (rules/baseline.yaml · essay_rubric)


def _scores_on(page_text: str) -> dict[str, str]:
    """A score of 3 for every criterion the page shows."""
    import re

    return {name: "3" for name in set(re.findall(r'name="(score:[a-z_]+)"', page_text))}


def _apply(sessions, sitting_id):
    return essay_review.apply_sitting(sessions, sitting_id, LIB, as_of=AS_OF, secret_key=SECRET,
                                      actor="coordinator:test")


def _assignments(sessions, code: str) -> list[ReviewAssignment]:
    with sessions() as s:
        return list(s.scalars(select(ReviewAssignment).join(Essay).join(ExamAttempt)
                              .where(ExamAttempt.candidate_code == code).order_by(ReviewAssignment.id)))


def _open(client, sessions, sitting_id, a: ReviewAssignment) -> tuple[str, str]:
    """(the reviewer's token, the form's CSRF value) for an assignment's essay page."""
    token = reviewer_token(sessions, sitting_id, a.reviewer_id)
    page = client.get(f"/review/{token}/essay/{a.id}")
    assert page.status_code == 200, page.text
    return token, page.text.split('name="csrf" value="')[1].split('"')[0]


def _review(client, sessions, sitting_id, a: ReviewAssignment, recommendation: str, comments: str,
            secret: str = SECRET):
    token = reviewer_token(sessions, sitting_id, a.reviewer_id, secret)
    page = client.get(f"/review/{token}/essay/{a.id}")
    assert page.status_code == 200, page.text
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    return client.post(f"/review/{token}/essay/{a.id}", data={**_scores_on(page.text), "csrf": csrf, "recommendation": recommendation,
                                                              "comments": comments}, follow_redirects=False)


def test_applying_the_plan_gives_every_essay_two_reviewers_and_each_reviewer_one_email(sessions, sitting):
    rnd = _apply(sessions, sitting.id)
    assert not rnd.plan.uncovered
    for code in sitting.codes.values():
        assert len({a.reviewer_id for a in _assignments(sessions, code)}) == 2
    with sessions() as s:
        mails = s.scalars(select(OutboxMessage).where(OutboxMessage.role == "review.assigned")).all()
        reviewers = {a.reviewer_id for code in sitting.codes.values() for a in _assignments(sessions, code)}
        assert len(mails) == len(reviewers)  # one email per reviewer, however many essays
        assert all(m.link_kind == "reviewer" and m.application_id is None for m in mails)  # the console link
    again = _apply(sessions, sitting.id)  # idempotent: nothing new the second time
    assert again.plan.slots_filled == 0
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.role == "review.assigned")) == len(reviewers)


def test_two_agreeing_reviewers_settle_the_essay_and_the_candidate_gets_unnamed_comments(sessions, sitting, exam_web):
    _apply(sessions, sitting.id)
    client = TestClient(exam_web)
    first, second = _assignments(sessions, sitting.codes["IMHS"])
    r = _review(client, sessions, sitting.id, first, "pass", "Warm, careful reading of the baby's cues.")
    assert r.status_code == 303
    with sessions() as s:
        assert s.scalar(select(ExamAttempt.essay_result).where(ExamAttempt.candidate_code == sitting.codes["IMHS"])) is None
    _review(client, sessions, sitting.id, second, "pass", "Clear plan; say more about supervision.")
    with sessions() as s:
        attempt = s.scalars(select(ExamAttempt).where(ExamAttempt.candidate_code == sitting.codes["IMHS"])).one()
        assert attempt.essay_result == "pass"
        assert s.get(Application, attempt.application_id).needs_reconcile
    assert sitting.apps["IMHS"] in exam_web.state.events  # the web triggers a reconcile
    # The multiple-choice part completes the exam: the feedback letter goes out, comments numbered.
    mc = write_csv(sitting_tmp(sessions), "candidate_code,percent", [(sitting.codes["IMHS"], "86")])
    import_multiple_choice(sessions, sitting.id, mc, actor="coordinator:test")
    with sessions() as s:
        letter = s.scalars(select(OutboxMessage).where(OutboxMessage.role == "exam.feedback")).one()
        names = [s.get(Application, sitting.apps["IMHS"]).applicant.name]
        reviewer_names = ["Ivy Imhs", "Ian Imhs", "Mona Mentor", "Mark Mentor", "Mila Mentor"]
    assert "Reviewer 1" in letter.body_text and "Reviewer 2" in letter.body_text
    assert "Warm, careful reading" in letter.body_text and "say more about supervision" in letter.body_text
    assert names[0] in letter.body_text
    for rn in reviewer_names:
        assert rn not in letter.body_text and rn not in letter.body_html
    # And the pipeline settles the exam requirement and moves on to the decision.
    cfg = pipeline.PipelineConfig(library=LIB, as_of=AS_OF, secret_key=SECRET)
    out = pipeline.reconcile_one(sessions, sitting.apps["IMHS"], cfg)
    assert [t.to_stage for t in out.transitions][:1] == ["decision"]


def sitting_tmp(sessions):
    import tempfile
    from pathlib import Path

    return Path(tempfile.mkdtemp()) / "mc.csv"


def test_a_disagreement_brings_a_third_reviewer_who_is_notified_and_the_majority_decides(sessions, sitting, exam_web):
    _apply(sessions, sitting.id)
    client = TestClient(exam_web)
    first, second = _assignments(sessions, sitting.codes["IMHM-C"])
    _review(client, sessions, sitting.id, first, "pass", "Strong formulation.")
    _review(client, sessions, sitting.id, second, "fail", "The parallel process is named but not used.")
    rows = _assignments(sessions, sitting.codes["IMHM-C"])
    assert len(rows) == 3
    third = rows[2]
    assert third.reviewer_id not in (first.reviewer_id, second.reviewer_id) and third.round == 2
    with sessions() as s:
        essay = s.get(Essay, third.essay_id)
        assert essay.reviewers_needed == 3
        note = s.scalars(select(OutboxMessage).where(OutboxMessage.role == "review.assigned")
                         .order_by(OutboxMessage.id.desc())).first()
        assert "third reviewer" in note.body_text
        assert s.scalar(select(ExamAttempt.essay_result).where(ExamAttempt.id == essay.attempt_id)) is None
    _review(client, sessions, sitting.id, third, "fail", "Agree with the concern about parallel process.")
    with sessions() as s:
        assert s.scalar(select(ExamAttempt.essay_result).where(ExamAttempt.candidate_code == sitting.codes["IMHM-C"])) == "fail"


def test_a_decline_reassigns_only_that_essay(sessions, sitting, exam_web):
    _apply(sessions, sitting.id)
    client = TestClient(exam_web)
    imhs_before = [(a.id, a.reviewer_id, a.status) for a in _assignments(sessions, sitting.codes["IMHS"])]
    leaving = _assignments(sessions, sitting.codes["IMHM-C"])[0]
    token = reviewer_token(sessions, sitting.id, leaving.reviewer_id)
    page = client.get(f"/review/{token}/essay/{leaving.id}")
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    r = client.post(f"/review/{token}/essay/{leaving.id}/decline", data={"csrf": csrf, "declined_reason": "I know her",
                                                                       "step": "confirm", "confirm": "yes"},
                    follow_redirects=False)
    assert r.status_code == 303
    after = _assignments(sessions, sitting.codes["IMHM-C"])
    assert [a.status for a in after].count("assigned") == 2 and len(after) == 3
    assert leaving.reviewer_id not in {a.reviewer_id for a in after if a.status == "assigned"}
    assert [(a.id, a.reviewer_id, a.status) for a in _assignments(sessions, sitting.codes["IMHS"])] == imhs_before
    # The essay is gone from the decliner's page.
    assert sitting.codes["IMHM-C"] not in client.get(f"/review/{token}").text


REMINDER_DAYS = LIB.setting("CT-AIMH", "review_reminder_days_before_due", AS_OF)  # rules/baseline.yaml: [7, 2]
REVIEW_DAYS = int(LIB.setting("CT-AIMH", "essay_review_days", AS_OF))


def _reminders(sessions) -> list[OutboxMessage]:
    with sessions() as s:
        return list(s.scalars(select(OutboxMessage).where(OutboxMessage.role == "review.reminder")
                              .order_by(OutboxMessage.id)))


# Each reminder day, the days either side of it, the due date and the day of assignment.
@pytest.mark.parametrize("days_before_due", sorted({0, REVIEW_DAYS} | {d + k for d in REMINDER_DAYS for k in (-1, 0, 1)}))
def test_reviewers_are_reminded_only_on_the_rulebooks_days_before_the_due_date(sessions, sitting, days_before_due):
    # rules/baseline.yaml · review_reminder_days_before_due (issue #5 · reviewers by email)
    _apply(sessions, sitting.id)
    day = AS_OF + timedelta(days=REVIEW_DAYS - days_before_due)
    sent = essay_review.remind_reviewers(sessions, LIB, as_of=day)
    reviewers = {a.reviewer_id for code in sitting.codes.values() for a in _assignments(sessions, code)}
    if days_before_due in REMINDER_DAYS:
        assert sent == len(reviewers) == len(_reminders(sessions))  # one email a reviewer, however many essays
        assert all(m.link_kind == "reviewer" for m in _reminders(sessions))  # with the console link
        assert essay_review.remind_reviewers(sessions, LIB, as_of=day) == 0  # a re-run sends nothing twice
        with sessions() as s:
            assert s.scalar(select(func.count()).select_from(AuditLog).where(
                AuditLog.action == "exam.reviewer_reminded")) == len(reviewers)
    else:
        assert sent == 0 and not _reminders(sessions)


def test_a_reviewer_who_has_finished_is_not_reminded_and_the_reminder_counts_what_is_left(sessions, sitting, exam_web):
    _apply(sessions, sitting.id)
    client = TestClient(exam_web)
    done = _assignments(sessions, sitting.codes["IMHS"])[0]
    assert _review(client, sessions, sitting.id, done, "pass", "Clear and grounded.").status_code == 303
    with sessions() as s:
        left = s.scalar(select(func.count()).select_from(ReviewAssignment).where(
            ReviewAssignment.reviewer_id == done.reviewer_id, ReviewAssignment.status == "assigned"))
        others = {a.reviewer_id for a in s.scalars(select(ReviewAssignment).where(
            ReviewAssignment.status == "assigned"))}
    essay_review.remind_reviewers(sessions, LIB, as_of=AS_OF + timedelta(days=REVIEW_DAYS - 2))
    with sessions() as s:
        reminded = {s.scalars(select(Person).where(Person.email == m.recipient_email)).one().id: m
                    for m in _reminders(sessions)}
    assert set(reminded) == others
    if left:
        assert f"{left} essay" in reminded[done.reviewer_id].body_text
    else:
        assert done.reviewer_id not in reminded


def test_the_link_in_a_reminder_opens_the_reviewers_essays(sessions, sitting, exam_web, tmp_path):
    import asyncio

    from endorse_cli.smtp_sink import SmtpSink
    from tasks.mail.outbox import SmtpConfig, deliver_due

    _apply(sessions, sitting.id)
    essay_review.remind_reviewers(sessions, LIB, as_of=AS_OF + timedelta(days=REVIEW_DAYS - 7))
    with SmtpSink(tmp_path / "mail") as sink:
        asyncio.run(deliver_due(sessions, SmtpConfig(host="127.0.0.1", port=sink.port), secret_key=SECRET,
                                base_url="http://testserver"))
        mails = [m for m in sink.messages() if "Reminder" in m["Subject"]]
    assert mails
    client = TestClient(exam_web)
    for mail in mails:
        body = mail.get_body(("plain",)).get_content()
        link = next(w for w in body.split() if w.startswith("http://testserver/review/"))
        page = client.get(link.removeprefix("http://testserver"))
        assert page.status_code == 200 and any(code in page.text for code in sitting.codes.values())


def test_a_missed_due_date_reassigns_the_essay_to_someone_new(sessions, sitting):
    _apply(sessions, sitting.id)
    late = AS_OF + timedelta(days=30)
    n = essay_review.expire_overdue_reviews(sessions, LIB, as_of=late, secret_key=SECRET)
    assert n == 4  # two essays × two reviewers, all late
    for code in sitting.codes.values():
        rows = _assignments(sessions, code)
        expired = {a.reviewer_id for a in rows if a.status == "expired"}
        fresh = {a.reviewer_id for a in rows if a.status == "assigned"}
        assert len(expired) == 2
        assert not expired & fresh  # never the reviewer who missed it
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "exam.review_expired")) == 4
        # IMHS: only two IMHS-eligible reviewers are left besides the two who missed (the three IMHM-C
        # mentors) — enough; nothing uncovered, so no coordinator email.
    assert essay_review.expire_overdue_reviews(sessions, LIB, as_of=late, secret_key=SECRET) == 0


def test_when_nobody_is_left_the_coordinator_is_told_which_essay_and_why(sessions, sitting, exam_web):
    _apply(sessions, sitting.id)
    client = TestClient(exam_web)
    # IMHM-C essays: the three IMHM-C mentors and Pia (IMHM-P) qualify. Two decline in turn: one left.
    for _ in range(3):
        current = [a for a in _assignments(sessions, sitting.codes["IMHM-C"]) if a.status == "assigned"]
        if len(current) < 2:
            break
        a = current[0]
        token, csrf = _open(client, sessions, sitting.id, a)
        client.post(f"/review/{token}/essay/{a.id}/decline", data={"csrf": csrf, "declined_reason": "no time",
                                                                     "step": "confirm", "confirm": "yes"},
                    follow_redirects=False)
    with sessions() as s:
        mail = s.scalars(select(OutboxMessage).where(OutboxMessage.role == "coordinator.essays_uncovered")).first()
    assert mail is not None
    assert sitting.codes["IMHM-C"] in mail.body_text and "qualified reviewer" in mail.body_text


def test_applying_a_round_records_essays_without_a_preferred_reviewer_and_minimum_loads_not_met(sessions, sitting):
    from models import ReviewerAvailability
    from tasks.exam.assignment import PREFERRED_AT_MAXIMUM_LOAD

    with transaction(sessions) as s:
        for name, (max_load, min_load) in {"Mona Mentor": (0, 0), "Mark Mentor": (0, 0), "Mila Mentor": (0, 0),
                                           "Ivy Imhs": (5, 3)}.items():
            avail = s.scalars(select(ReviewerAvailability)
                              .where(ReviewerAvailability.person_id == sitting.reviewers[name])).one()
            avail.max_load, avail.min_load = max_load, min_load
    _apply(sessions, sitting.id)  # the IMHM-C mentors offered nothing this time: Pia (IMHM-P) alone
    with sessions() as s:
        entries = {e.action: e.details for e in s.scalars(select(AuditLog).where(AuditLog.action.in_(
            ["exam.essays_without_preferred_reviewer", "exam.minimum_loads_not_met"])))}
    assert entries["exam.essays_without_preferred_reviewer"]["essays"] == [
        {"candidate_code": sitting.codes["IMHM-C"], "reason": PREFERRED_AT_MAXIMUM_LOAD}]
    assert entries["exam.minimum_loads_not_met"]["reviewers"] == [
        {"reviewer_id": sitting.reviewers["Ivy Imhs"], "missing": 2,
         "reason": "only 1 essay in this round they may review (track and conflicts)"}]


@pytest.mark.parametrize("field,value,error", [
    ("score:reflection", "", "score “Reflection” from 1 to 4"),
    ("score:reflection", "9", "score “Reflection” from 1 to 4"),
    ("recommendation", "maybe", "recommend pass or fail"),
    ("comments", "  ", "write a comment"),
])
def test_an_incomplete_review_is_refused_with_the_field_named_and_nothing_stored(sessions, sitting, exam_web,
                                                                                field, value, error):
    _apply(sessions, sitting.id)
    client = TestClient(exam_web)
    a = _assignments(sessions, sitting.codes["IMHS"])[0]
    token, csrf = _open(client, sessions, sitting.id, a)
    data = {**GOOD, "csrf": csrf, "recommendation": "pass", "comments": "fine", field: value}
    r = client.post(f"/review/{token}/essay/{a.id}", data=data)
    assert r.status_code == 422 and error in r.text
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Review)) == 0


def test_a_submitted_review_can_be_changed_until_the_due_date_then_says_already_submitted(sessions, sitting, exam_web):
    """Issue 15 (item 9): edits are allowed until the due date, while the essay is unsettled; one review
    row either way, the change audited."""
    from tests.web.conftest import make_web_app

    _apply(sessions, sitting.id)
    client = TestClient(exam_web)
    a = _assignments(sessions, sitting.codes["IMHS"])[0]
    token, csrf = _open(client, sessions, sitting.id, a)
    data = {**GOOD, "csrf": csrf, "recommendation": "pass", "comments": "fine"}
    assert client.post(f"/review/{token}/essay/{a.id}", data=data, follow_redirects=False).status_code == 303
    changed = client.post(f"/review/{token}/essay/{a.id}", data={**data, "comments": "fine, on second reading"},
                          follow_redirects=False)
    assert changed.status_code == 303
    with sessions() as s:
        assert s.scalars(select(Review)).one().comments == "fine, on second reading"
        assert s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "exam.review_edited")) == 1
    after_due = TestClient(make_web_app(sessions, SECRET, a.due_on + timedelta(days=1)))
    late = after_due.post(f"/review/{token}/essay/{a.id}", data=data)
    assert late.status_code == 409 and "already submitted" in late.text
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Review)) == 1


def test_a_regenerated_review_link_replaces_the_old_one(sessions, sitting, exam_web):
    from tasks.reviewer_console import send_console_link

    _apply(sessions, sitting.id)
    client = TestClient(exam_web)
    a = _assignments(sessions, sitting.codes["IMHS"])[0]
    old = reviewer_token(sessions, sitting.id, a.reviewer_id)
    send_console_link(sessions, a.reviewer_id, LIB, as_of=AS_OF, secret_key=SECRET, actor="coordinator:test",
                      regenerate=True)
    new = reviewer_token(sessions, sitting.id, a.reviewer_id)
    assert client.get(f"/review/{old}").status_code == 404
    assert client.get(f"/review/{new}").status_code == 200


def test_retake_waits_for_the_associations_period(sessions, sitting, tmp_path):
    """issue #5 · retake after the association's waiting period (rules: exam_retake_wait_days)."""
    from tasks.exam.intake import start_retake

    code = sitting.codes["IMHS"]
    import_multiple_choice(sessions, sitting.id, write_csv(tmp_path / "mc.csv", "candidate_code,percent",
                                                           [(code, "62")]), actor="coordinator:test")
    cfg = pipeline.PipelineConfig(library=LIB, as_of=AS_OF, secret_key=SECRET)
    pipeline.reconcile_one(sessions, sitting.apps["IMHS"], cfg)
    with sessions() as s:
        assert s.get(Application, sitting.apps["IMHS"]).stage == "not_endorsed"
    wait = int(LIB.category_rules("MI-AIMH", "IMHS", AS_OF).settings["exam_retake_wait_days"])
    with pytest.raises(ValueError, match="may retake the exam from 2027-10-31"):
        start_retake(sessions, sitting.apps["IMHS"], LIB, as_of=AS_OF, actor="coordinator:test")
    later = date(2026, 10, 31) + timedelta(days=wait)
    start_retake(sessions, sitting.apps["IMHS"], LIB, as_of=later, actor="coordinator:test")
    with sessions() as s:
        app = s.get(Application, sitting.apps["IMHS"])
        attempts = s.scalars(select(ExamAttempt).where(ExamAttempt.application_id == app.id)
                             .order_by(ExamAttempt.attempt_number)).all()
        assert app.stage == "exam" and attempts[-1].multiple_choice_percent is None
    out = pipeline.reconcile_one(sessions, sitting.apps["IMHS"], pipeline.PipelineConfig(LIB, later, SECRET))
    assert out.stage == "exam"  # waiting for the new attempt's results


def test_an_overlay_can_change_the_retake_wait(tmp_path):
    """Rules are data: the waiting period is an association setting."""
    import shutil

    import yaml

    from endorse.rulebook import load_rulebooks
    from endorse.settings import PROJECT_ROOT

    rules = tmp_path / "rules"
    shutil.copytree(PROJECT_ROOT / "rules", rules)
    path = rules / "associations" / "VAIMH.yaml"
    data = yaml.safe_load(path.read_text())
    data.setdefault("settings", {})["exam_retake_wait_days"] = {
        "value": 180, "source": "test overlay", "effective_from": date(2002, 1, 1)}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    lib = load_rulebooks(rules)
    assert lib.category_rules("VAIMH", "IMHS", AS_OF).settings["exam_retake_wait_days"] == 180
    assert lib.category_rules("MI-AIMH", "IMHS", AS_OF).settings["exam_retake_wait_days"] == 365


def test_every_exam_change_is_in_the_audit_log(sessions, sitting, exam_web):
    _apply(sessions, sitting.id)
    with sessions() as s:
        actions = set(s.scalars(select(AuditLog.action)))
    assert {"exam.sitting_opened", "exam.enrolled", "exam.essay_received", "exam.reviewer_assigned",
            "exam.console_link_issued"} <= actions


def test_clearing_a_flag_with_a_redaction_that_still_names_the_candidate_is_refused(sessions, sitting, tmp_path):
    from tasks.exam.intake import clear_essay_flag, import_essays

    with sessions() as s:
        name = s.get(Application, sitting.apps["IMHS"]).applicant.name
    f = write_csv(tmp_path / "e.csv", "candidate_code,essay",
                  [(sitting.codes["IMHS"], f"My name is {name} and this is my essay.")])
    out = import_essays(sessions, sitting.id, f, LIB, actor="coordinator:test", as_of=AS_OF)
    assert out.flagged and out.flagged[0][0] == sitting.codes["IMHS"]
    with sessions() as s:
        essay = s.scalars(select(Essay).join(ExamAttempt).where(ExamAttempt.candidate_code == sitting.codes["IMHS"])).one()
    rnd = _apply(sessions, sitting.id)
    assert [h.candidate_code for h in rnd.held] == [sitting.codes["IMHS"]]
    assert not _assignments(sessions, sitting.codes["IMHS"])
    with pytest.raises(ValueError, match="still fails the blindness check"):
        clear_essay_flag(sessions, essay.id, LIB, actor="coordinator:test", as_of=AS_OF,
                         redacted_text=f"I am {name.split()[-1]}.")
    with pytest.raises(ValueError, match="contains a NUL character"):
        clear_essay_flag(sessions, essay.id, LIB, actor="coordinator:test", as_of=AS_OF,
                         redacted_text="My name is [redacted]\x00.")
    clear_essay_flag(sessions, essay.id, LIB, actor="coordinator:test", as_of=AS_OF,
                     redacted_text="My name is [redacted] and this is my essay.")
    _apply(sessions, sitting.id)
    assert len(_assignments(sessions, sitting.codes["IMHS"])) == 2
    with transaction(sessions) as s:
        assert s.get(Essay, essay.id).flag_cleared_by == "coordinator:test"
