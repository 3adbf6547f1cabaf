"""Decisions are safe (issue 15, item 1): "Record the decision" previews the outcome the rules give and
the letter as it will be sent, and needs a confirmation carrying a digest of what was previewed; it is
refused, with the reason, when the checklist does not support it. The same for "approve to sit the exam"."""

from __future__ import annotations

import html
import re

from sqlalchemy import select

from endorse.db import transaction
from endorse.rulebook import default_library
from models import Application, OutboxMessage
from tasks.pipeline import reconcile as pipeline
from tests.web.test_coordinator import AS_OF, SECRET, _audits, cohort, csrf_of, signed_in  # noqa: F401  (fixture)

DEFERRABLE = "MI-2026-126"     # IFS at references, a rating still requested: a deferral is the coordinator's call
EXAM_ELIGIBLE = "MI-2026-141"  # IMHM-P at eligibility review, every requirement but the exam met
RSC_SHORT = "MI-2026-117"      # IMHS at eligibility review with its RS/C hours unmet


def _digest(text: str) -> str:
    return re.search(r'name="digest" value="([0-9a-f]+)"', text).group(1)


def test_the_preview_shows_the_outcome_and_the_letter_exactly_as_it_is_sent(cohort):  # noqa: F811
    client = signed_in(cohort)
    page = client.get(f"/coordinator/applications/{DEFERRABLE}/decision")
    assert page.status_code == 200 and 'id="decision-outcome">deferred<' in page.text
    previewed = re.search(r'<pre id="letter-text"[^>]*>(.*?)</pre>', page.text, re.S).group(1)
    assert _audits(cohort, "decision.requested") == 0  # a preview changes nothing
    r = client.post(f"/coordinator/applications/{DEFERRABLE}/request-decision",
                    data={"csrf": csrf_of(client, f"/coordinator/applications/{DEFERRABLE}/decision"),
                          "digest": _digest(page.text)}, follow_redirects=False)
    assert r.status_code == 303, r.text
    pipeline.reconcile_one(cohort, DEFERRABLE, pipeline.PipelineConfig(library=default_library(), as_of=AS_OF,
                                                                       secret_key=SECRET))
    with cohort() as s:
        assert s.get(Application, DEFERRABLE).stage == "deferred"
        letter = s.scalars(select(OutboxMessage).where(OutboxMessage.application_id == DEFERRABLE,
                                                       OutboxMessage.role == "decision.deferred")).one()
    assert html.unescape(previewed) == letter.body_text


def test_a_confirmation_without_the_previews_digest_is_refused(cohort):  # noqa: F811
    client = signed_in(cohort)
    csrf = csrf_of(client, f"/coordinator/applications/{DEFERRABLE}")
    r = client.post(f"/coordinator/applications/{DEFERRABLE}/request-decision", data={"csrf": csrf})
    assert r.status_code == 422 and "preview" in r.text
    r = client.post(f"/coordinator/applications/{DEFERRABLE}/request-decision", data={"csrf": csrf, "digest": "0" * 64})
    assert r.status_code == 422 and "changed since the preview" in r.text
    assert _audits(cohort, "decision.requested") == 0


def test_a_confirmation_is_refused_when_the_application_changed_after_the_preview(cohort):  # noqa: F811
    client = signed_in(cohort)
    page = client.get(f"/coordinator/applications/{DEFERRABLE}/decision")
    with transaction(cohort) as s:  # anything written to the application since counts (here the sweep marks it)
        s.get(Application, DEFERRABLE).needs_reconcile = True
    r = client.post(f"/coordinator/applications/{DEFERRABLE}/request-decision",
                    data={"csrf": csrf_of(client, f"/coordinator/applications/{DEFERRABLE}"),
                          "digest": _digest(page.text)})
    assert r.status_code == 422 and "changed since the preview" in r.text
    with cohort() as s:
        assert not s.get(Application, DEFERRABLE).decision_requested
    assert _audits(cohort, "decision.requested") == 0


def test_an_exam_eligible_applicant_is_not_deferred(cohort):  # noqa: F811
    # The defect: one click sent a deferral letter to an applicant who had just become exam-eligible.
    client = signed_in(cohort)
    page = client.get(f"/coordinator/applications/{EXAM_ELIGIBLE}/decision")
    assert page.status_code == 422 and "eligible to sit the exam" in page.text and 'name="digest"' not in page.text
    app_page = client.get(f"/coordinator/applications/{EXAM_ELIGIBLE}").text
    assert 'id="decision-refused"' in app_page and "Approve to sit the exam" in app_page
    r = client.post(f"/coordinator/applications/{EXAM_ELIGIBLE}/request-decision",
                    data={"csrf": csrf_of(client, f"/coordinator/applications/{EXAM_ELIGIBLE}"), "digest": "0" * 64})
    assert r.status_code == 422 and "eligible to sit the exam" in r.text
    pipeline.reconcile_one(cohort, EXAM_ELIGIBLE, pipeline.PipelineConfig(library=default_library(), as_of=AS_OF,
                                                                          secret_key=SECRET))
    with cohort() as s:
        assert s.get(Application, EXAM_ELIGIBLE).stage == "eligibility_review"
        assert not s.scalars(select(OutboxMessage).where(OutboxMessage.application_id == EXAM_ELIGIBLE,
                                                         OutboxMessage.role.like("decision.%"))).all()


def test_approval_to_sit_the_exam_is_refused_with_the_unmet_requirement(cohort):  # noqa: F811
    # The defect: accepted with a requirement unmet, and nothing moved.
    client = signed_in(cohort)
    page = client.get(f"/coordinator/applications/{RSC_SHORT}").text
    assert 'id="approve-exam-refused"' in page and "rsc_hours" in page
    r = client.post(f"/coordinator/applications/{RSC_SHORT}/approve-exam",
                    data={"csrf": csrf_of(client, f"/coordinator/applications/{RSC_SHORT}")})
    assert r.status_code == 422 and "rsc_hours" in r.text
    with cohort() as s:
        assert s.get(Application, RSC_SHORT).exam_approved_on is None
    assert _audits(cohort, "exam.approved") == 0


def test_approval_of_an_exam_eligible_applicant_moves_them_to_the_exam(cohort):  # noqa: F811
    client = signed_in(cohort)
    r = client.post(f"/coordinator/applications/{EXAM_ELIGIBLE}/approve-exam",
                    data={"csrf": csrf_of(client, f"/coordinator/applications/{EXAM_ELIGIBLE}")}, follow_redirects=False)
    assert r.status_code == 303
    pipeline.reconcile_one(cohort, EXAM_ELIGIBLE, pipeline.PipelineConfig(library=default_library(), as_of=AS_OF,
                                                                          secret_key=SECRET))
    with cohort() as s:
        assert s.get(Application, EXAM_ELIGIBLE).stage == "exam"
    assert _audits(cohort, "exam.approved") == 1


def test_another_associations_decision_preview_is_not_found(cohort):  # noqa: F811
    client = signed_in(cohort)
    assert client.get("/coordinator/applications/CT-2026-127/decision").status_code == 404
    r = client.post("/coordinator/applications/CT-2026-127/request-decision",
                    data={"csrf": csrf_of(client, "/coordinator/"), "digest": "0" * 64})
    assert r.status_code == 404
    assert _audits(cohort, "decision.requested") == 0
