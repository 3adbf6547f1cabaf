"""The coordinator's dashboard, application page, exports and actions (issue #6), on the cohort's
data: every page needs a sign-in, shows only the coordinator's association, and every action is
audited and protected by CSRF."""

from __future__ import annotations

import io
import re
from datetime import date

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from endorse.db import transaction
from endorse.documents import document_paths, load_document
from endorse.rulebook import default_library
from endorse.settings import PROJECT_ROOT
from models import (
    Application,
    AuditLog,
    EducationRecord,
    RaterVetting,
    ReferenceRequest,
    Transcript,
)
from tasks.pipeline import reconcile as pipeline
from tasks.coordination.accounts import set_coordinator
from tasks.intake.records import ensure_associations, save_document
from tests.web.conftest import make_web_app

AS_OF = date(2026, 11, 22)
SECRET = "coordinator-test-secret"
PASSWORD = "correct horse battery staple"
MI, CT = "mi.coordinator@example.org", "ct.coordinator@example.org"


@pytest.fixture
def cohort(sessions):
    lib = default_library()
    with transaction(sessions) as s:
        ensure_associations(s, lib)
        for path in document_paths(PROJECT_ROOT / "cohort"):
            save_document(s, load_document(path), actor="test")
        ids = list(s.scalars(select(Application.id)))
    pipeline.advance_batch(sessions, ids, pipeline.PipelineConfig(library=lib, as_of=AS_OF, secret_key=SECRET))
    set_coordinator(sessions, association="MI-AIMH", name="Mia Coordinator", email=MI, password=PASSWORD, actor="test")
    set_coordinator(sessions, association="CT-AIMH", name="Cal Coordinator", email=CT, password=PASSWORD, actor="test")
    return sessions


def _client(sessions) -> TestClient:
    return TestClient(make_web_app(sessions, SECRET, AS_OF))


def signed_in(sessions, email: str = MI) -> TestClient:
    client = _client(sessions)
    page = client.get("/coordinator/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    r = client.post("/coordinator/login", data={"csrf": csrf, "email": email, "password": PASSWORD},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    return client


def csrf_of(client: TestClient, url: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get(url).text).group(1)


def _mi_app(sessions, **where) -> str:
    with sessions() as s:
        q = select(Application.id).where(Application.association_code == "MI-AIMH")
        for k, v in where.items():
            q = q.where(getattr(Application, k) == v)
        return s.scalars(q.order_by(Application.id)).first()


def _audits(sessions, action: str) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == action))


# --- sign-in ----------------------------------------------------------------------------------------------


def test_a_wrong_password_or_unknown_email_is_refused_the_same_way(cohort):
    client = _client(cohort)
    texts = []
    for email, password in [(MI, "wrong password!!"), ("nobody@example.org", PASSWORD)]:
        csrf = csrf_of(client, "/coordinator/login")
        r = client.post("/coordinator/login", data={"csrf": csrf, "email": email, "password": password})
        assert r.status_code == 401
        texts.append(r.text.replace(csrf, ""))
    assert re.sub(r'value="[^"]+"', "", texts[0]) == re.sub(r'value="[^"]+"', "", texts[1])
    assert _audits(cohort, "coordinator.sign_in_refused") == 2


def test_sign_in_without_the_forms_csrf_token_is_refused(cohort):
    client = _client(cohort)
    client.get("/coordinator/login")
    r = client.post("/coordinator/login", data={"email": MI, "password": PASSWORD})
    assert r.status_code == 403 and "endorse_session" not in r.headers.get("set-cookie", "")


def test_a_tampered_session_cookie_is_not_a_session(cohort):
    client = signed_in(cohort)
    cookie = client.cookies.get("endorse_session")
    account, rest = cookie.split(".", 1)
    client.cookies.set("endorse_session", str(int(account) + 1) + "." + rest, path="/coordinator")
    r = client.get("/coordinator/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/coordinator/login")


def test_the_session_cookie_is_httponly_and_samesite_strict(cohort):
    client = _client(cohort)
    csrf = csrf_of(client, "/coordinator/login")
    r = client.post("/coordinator/login", data={"csrf": csrf, "email": MI, "password": PASSWORD}, follow_redirects=False)
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/coordinator" in cookie


def test_after_sign_in_the_coordinator_returns_to_the_page_they_asked_for_but_never_off_site(cohort):
    client = _client(cohort)
    for target, expected in [("/coordinator/applications/X", "/coordinator/applications/X"),
                             ("https://evil.example/", "/coordinator/"), ("//evil.example/", "/coordinator/")]:
        csrf = csrf_of(client, "/coordinator/login")
        r = client.post("/coordinator/login", data={"csrf": csrf, "email": MI, "password": PASSWORD, "next": target},
                        follow_redirects=False)
        assert r.headers["location"] == expected


# --- reading ----------------------------------------------------------------------------------------------


def test_the_dashboard_counts_match_the_database_for_the_coordinators_association_only(cohort):
    client = signed_in(cohort)
    page = client.get("/coordinator/")
    assert page.status_code == 200
    with cohort() as s:
        counts = dict(s.execute(select(Application.stage, func.count()).where(Application.association_code == "MI-AIMH")
                                .group_by(Application.stage)).all())
        ct_ids = list(s.scalars(select(Application.id).where(Application.association_code == "CT-AIMH")))
    table = page.text.split('id="pipeline"')[1].split("</table>")[0]
    for stage, n in counts.items():
        row = re.search(rf"<th scope=\"row\">{stage}</th>(.*?)</tr>", table, re.S).group(1)
        assert re.findall(r'<td class="num">(\d+)</td>', row)[-1] == str(n), stage
    for other in ct_ids:
        assert other not in page.text


def test_the_charts_are_pictures(cohort):
    client = signed_in(cohort)
    for name in ("pipeline", "reviewer-load"):
        r = client.get(f"/coordinator/charts/{name}.png")
        assert r.status_code == 200 and r.headers["content-type"] == "image/png" and r.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_application_page_shows_checklist_with_sources_timeline_emails_and_ratings(cohort):
    client = signed_in(cohort)
    app_id = _mi_app(cohort, stage="references")
    page = client.get(f"/coordinator/applications/{app_id}")
    assert page.status_code == 200
    with cohort() as s:
        app = s.get(Application, app_id)
        for r in app.last_checklist:
            assert r["source"].replace("&", "&amp;").replace("'", "&#39;") in page.text
    for section in ('id="checklist"', 'id="references"', 'id="timeline"', 'id="emails"', "stage.changed"):
        assert section in page.text


def test_another_associations_application_is_not_found_like_a_missing_one(cohort):
    client = signed_in(cohort)
    with cohort() as s:
        ct_app = s.scalars(select(Application.id).where(Application.association_code == "CT-AIMH")).first()
    theirs = client.get(f"/coordinator/applications/{ct_app}")
    missing = client.get("/coordinator/applications/NO-SUCH-APP")
    assert theirs.status_code == missing.status_code == 404
    assert theirs.text.replace(ct_app, "X") == missing.text.replace("NO-SUCH-APP", "X")
    csrf = csrf_of(client, "/coordinator/")
    r = client.post(f"/coordinator/applications/{ct_app}/request-decision", data={"csrf": csrf})
    assert r.status_code == 404
    assert _audits(cohort, "decision.requested") == 0


def test_the_printable_summary_has_the_checklist(cohort):
    client = signed_in(cohort)
    app_id = _mi_app(cohort)
    r = client.get(f"/coordinator/applications/{app_id}/summary")
    assert r.status_code == 200 and 'id="checklist"' in r.text and "@media print" in r.text


# --- exports -----------------------------------------------------------------------------------------------


def test_exports_neutralize_spreadsheet_formulas_in_csv_and_xlsx(cohort):
    from openpyxl import load_workbook

    app_id = _mi_app(cohort)
    with transaction(cohort) as s:
        s.get(Application, app_id).applicant_name = '=HYPERLINK("http://evil.example","click")'
    client = signed_in(cohort)
    csv = client.get("/coordinator/exports/pipeline.csv")
    assert csv.status_code == 200 and "attachment" in csv.headers["content-disposition"]
    frame = pd.read_csv(io.BytesIO(csv.content), encoding="utf-8-sig")
    name = frame.loc[frame["application_id"] == app_id, "applicant"].item()
    assert name.startswith("'=HYPERLINK")
    assert not any(str(v).startswith(("=", "+", "-", "@")) for v in frame.to_numpy().ravel())
    xlsx = client.get("/coordinator/exports/pipeline.xlsx")
    ws = load_workbook(io.BytesIO(xlsx.content)).active
    cells = [c for row in ws.iter_rows() for c in row]
    assert all(c.data_type != "f" for c in cells)
    assert any(c.value == "'" + '=HYPERLINK("http://evil.example","click")' for c in cells)
    with cohort() as s:
        assert len(frame) == s.scalar(select(func.count()).select_from(Application)
                                      .where(Application.association_code == "MI-AIMH"))
    dec = client.get("/coordinator/exports/decisions.xlsx")
    assert dec.status_code == 200 and dec.content[:2] == b"PK"


# --- actions -----------------------------------------------------------------------------------------------


def test_recording_a_transcript_from_the_page(cohort):
    app_id = _mi_app(cohort, stage="references")
    with transaction(cohort) as s:  # this application's transcript is still on its way
        edu = s.scalars(select(EducationRecord).where(EducationRecord.application_id == app_id)).first()
        institution = edu.institution
        if edu.transcript is not None:
            s.delete(edu.transcript)
    assert f'<option value="{institution}">' in signed_in(cohort).get(f"/coordinator/applications/{app_id}").text
    client = signed_in(cohort)
    csrf = csrf_of(client, f"/coordinator/applications/{app_id}")
    r = client.post(f"/coordinator/applications/{app_id}/transcript",
                    data={"csrf": csrf, "institution": institution, "received_on": "2026-11-20", "official": "yes"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/coordinator/applications/{app_id}"
    assert f"Transcript from {institution} recorded." in client.get(r.headers["location"]).text  # the flash, once
    assert 'role="status"' not in client.get(r.headers["location"]).text
    with cohort() as s:
        t = s.scalars(select(Transcript).join(EducationRecord).where(EducationRecord.application_id == app_id,
                                                                     EducationRecord.institution == institution)).one()
        assert t.received_on == date(2026, 11, 20) and t.official
        entry = s.scalars(select(AuditLog).where(AuditLog.action == "transcript.recorded")).one()
        assert entry.actor == f"coordinator:{MI}"


def test_an_action_without_csrf_changes_nothing(cohort):
    client = signed_in(cohort)
    app_id = _mi_app(cohort)
    r = client.post(f"/coordinator/applications/{app_id}/request-decision", data={})
    assert r.status_code == 403
    assert _audits(cohort, "decision.requested") == 0


def test_an_action_with_bad_input_says_what_is_wrong_and_changes_nothing(cohort):
    client = signed_in(cohort)
    app_id = _mi_app(cohort)
    csrf = csrf_of(client, f"/coordinator/applications/{app_id}")
    r = client.post(f"/coordinator/applications/{app_id}/transcript",
                    data={"csrf": csrf, "institution": "Somewhere", "received_on": "yesterday"})
    assert r.status_code == 422 and "received on: write a date as YYYY-MM-DD" in r.text
    assert _audits(cohort, "transcript.recorded") == 0


def _open_request(sessions) -> tuple[int, str, str]:
    """A rating request still waiting for its rater: (request id, application id, association)."""
    with sessions() as s:
        row = s.execute(select(ReferenceRequest.id, ReferenceRequest.application_id, Application.association_code)
                        .join(Application, Application.id == ReferenceRequest.application_id)
                        .where(Application.association_code.in_(("MI-AIMH", "CT-AIMH")),
                               ReferenceRequest.status == "requested", ReferenceRequest.token_hash.is_not(None))
                        .order_by(ReferenceRequest.id)).first()
    assert row is not None, "the cohort has requested ratings"
    return tuple(row)


COORDINATOR_OF = {"MI-AIMH": MI, "CT-AIMH": CT}


@pytest.mark.parametrize("path,data,audit", [
    ("vet", {"decision": "accepted", "vetted_on": "2026-11-21", "note": "called, fine"}, "rater.vetted"),
    ("resend", {}, "reference.link_resent"),
    ("resend", {"regenerate": "yes"}, "reference.link_regenerated"),
    ("replace", {"name": "Noor Haddad", "email": "noor.haddad@example.org", "reason": "on leave"}, "reference.cancelled"),
])
def test_reference_actions_from_the_page_are_audited_under_the_coordinators_name(cohort, path, data, audit):
    request_id, app_id, association = _open_request(cohort)
    who = COORDINATOR_OF[association]
    client = signed_in(cohort, who)
    csrf = csrf_of(client, f"/coordinator/applications/{app_id}")
    r = client.post(f"/coordinator/references/{request_id}/{path}", data={"csrf": csrf, **data}, follow_redirects=False)
    assert r.status_code == 303, r.text
    with cohort() as s:
        entries = s.scalars(select(AuditLog).where(AuditLog.action == audit)).all()
        assert entries and entries[-1].actor == f"coordinator:{who}"
        if path == "vet":
            assert s.scalars(select(RaterVetting).where(RaterVetting.reference_request_id == request_id)).one().note == "called, fine"
        if path == "replace":
            assert s.get(ReferenceRequest, request_id).status == "cancelled"


def test_a_reference_of_another_association_cannot_be_acted_on(cohort):
    request_id, _, association = _open_request(cohort)
    client = signed_in(cohort, MI if association == "CT-AIMH" else CT)
    csrf = csrf_of(client, "/coordinator/")
    r = client.post(f"/coordinator/references/{request_id}/resend", data={"csrf": csrf, "regenerate": "yes"})
    assert r.status_code == 404
    assert _audits(cohort, "reference.link_regenerated") == 0


def test_requesting_a_decision_needs_the_previews_confirmation(cohort):
    client = signed_in(cohort)
    other = _mi_app(cohort, stage="references")
    csrf = csrf_of(client, f"/coordinator/applications/{other}")
    r = client.post(f"/coordinator/applications/{other}/request-decision", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 422
    digest = re.search(r'name="digest" value="([0-9a-f]+)"',
                       client.get(f"/coordinator/applications/{other}/decision").text).group(1)
    r = client.post(f"/coordinator/applications/{other}/request-decision", data={"csrf": csrf, "digest": digest},
                    follow_redirects=False)
    assert r.status_code == 303
    with cohort() as s:
        assert s.get(Application, other).decision_requested
    assert _audits(cohort, "decision.requested") == 1
