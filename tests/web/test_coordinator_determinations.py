"""Coordinator determinations from the application page: shown with their source beside the checklist,
recorded through a form with CSRF, audited under the coordinator's name, for their own association only."""

from __future__ import annotations

from sqlalchemy import select

from models import Application, AuditLog, CoordinatorDetermination
from tests.web.test_coordinator import CT, MI, _audits, cohort, csrf_of, signed_in  # noqa: F401 (fixture)


def _mi_ifa(sessions) -> str:
    with sessions() as s:
        # An open application (the form is offered while references can still change).
        return s.scalars(select(Application.id).where(Application.association_code == "MI-AIMH",
                                                      Application.category == "IFA",
                                                      Application.stage.not_in(("endorsed", "not_endorsed")))
                         .order_by(Application.id)).first()


def test_the_page_shows_the_question_its_source_and_a_form(cohort):  # noqa: F811
    app_id = _mi_ifa(cohort)
    page = signed_in(cohort).get(f"/coordinator/applications/{app_id}").text
    assert "Coordinator determinations" in page and "ifa_volunteer_experience" in page
    assert "004 · IFA · Education and/or work experience (note 3 on volunteer experience)" in page
    assert f'action="/coordinator/applications/{app_id}/determine"' in page and "awaited" in page


def test_recording_a_determination_from_the_page_is_audited_and_shown(cohort):  # noqa: F811
    app_id = _mi_ifa(cohort)
    client = signed_in(cohort)
    csrf = csrf_of(client, f"/coordinator/applications/{app_id}")
    r = client.post(f"/coordinator/applications/{app_id}/determine", follow_redirects=False,
                    data={"csrf": csrf, "question": "ifa_volunteer_experience", "decided_on": "2026-11-21",
                          "decision": "not_accepted", "note": "<b>no specialized training</b>"})
    assert r.status_code == 303 and r.headers["location"] == f"/coordinator/applications/{app_id}"
    assert "Determination" in client.get(r.headers["location"]).text  # the flash notice, once
    with cohort() as s:
        d = s.scalars(select(CoordinatorDetermination).where(CoordinatorDetermination.application_id == app_id)).one()
        assert (d.application_id, d.decided_by, d.accepted) == (app_id, MI, False)
        entry = s.scalars(select(AuditLog).where(AuditLog.action == "determination.recorded")).one()
        assert entry.actor == f"coordinator:{MI}" and entry.application_id == app_id
    page = client.get(f"/coordinator/applications/{app_id}").text
    assert f"not accepted by {MI} on 2026-11-21" in page
    assert "&lt;b&gt;no specialized training&lt;/b&gt;" in page  # autoescaped


def test_without_csrf_or_with_a_question_the_rules_do_not_ask_nothing_is_recorded(cohort):  # noqa: F811
    app_id = _mi_ifa(cohort)
    client = signed_in(cohort)
    r = client.post(f"/coordinator/applications/{app_id}/determine",
                    data={"question": "ifa_volunteer_experience", "decided_on": "2026-11-21", "decision": "accepted"})
    assert r.status_code == 403
    csrf = csrf_of(client, f"/coordinator/applications/{app_id}")
    r = client.post(f"/coordinator/applications/{app_id}/determine",
                    data={"csrf": csrf, "question": "rsc_provider_approved", "decided_on": "2026-11-21",
                          "decision": "accepted"})
    assert r.status_code == 422 and "not a question the MI-AIMH rules ask of IFA" in r.text
    assert _audits(cohort, "determination.recorded") == 0


def test_another_associations_coordinator_cannot_record_one(cohort):  # noqa: F811
    app_id = _mi_ifa(cohort)
    client = signed_in(cohort, CT)
    csrf = csrf_of(client, "/coordinator/")
    r = client.post(f"/coordinator/applications/{app_id}/determine",
                    data={"csrf": csrf, "question": "ifa_volunteer_experience", "decided_on": "2026-11-21",
                          "decision": "accepted"})
    assert r.status_code == 404
    assert _audits(cohort, "determination.recorded") == 0


def test_an_imported_determination_is_shown_on_the_checklist_page(cohort):  # noqa: F811
    page = signed_in(cohort, CT).get("/coordinator/applications/CT-2026-118").text
    assert "imhs_internship_description" in page and "accepted by reviewers@ct-aimh.example on 2026-10-15" in page
    assert "002 · Specialized work experience (internship description" in page
