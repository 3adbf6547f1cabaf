"""Markup typed into any field — an applicant's name, an employer, an institution, a rater's name and
comments, a reviewer's comments, an essay — reaches every page and HTML email escaped (issue #7 · 2).
The plain-text part of an email shows it as typed: text cannot run."""

from __future__ import annotations

import json
import re
from datetime import date

from fastapi.testclient import TestClient
from sqlalchemy import select

from endorse import links
from endorse.db import transaction
from endorse.documents import ApplicationDocument
from endorse.rulebook import default_library
from endorse.settings import PROJECT_ROOT
from models import Application, OutboxMessage, ReferenceRequest
from tasks.pipeline import reconcile as pipeline
from tasks.coordination.accounts import set_coordinator
from tasks.intake.records import ensure_associations, save_document
from tests.web.conftest import make_web_app

AS_OF = date(2026, 11, 22)
SECRET = "xss-secret"
PAYLOAD = '<script>alert("x")</script><img src=x onerror=alert(1)>'
RAW = ("<script>", "<img src=x")


def _hostile_application(sessions) -> str:
    doc = json.loads((PROJECT_ROOT / "cohort" / "ct-aimh-imhm-rf-rating-requested.json").read_text())
    doc["applicant"]["name"] = "Ann " + PAYLOAD
    for w in doc["work"]:
        w["employer"] = "Clinic " + PAYLOAD
    for e in doc["education"]:
        e["institution"] = "College " + PAYLOAD
    for t in doc.get("training", []):
        t["title"] = "Training " + PAYLOAD
    for r in doc["references"]:
        r["rater"]["name"] = "Rae " + PAYLOAD
    with transaction(sessions) as s:
        ensure_associations(s, default_library())
        save_document(s, ApplicationDocument.model_validate_json(json.dumps(doc)), actor="test")
    cfg = pipeline.PipelineConfig(library=default_library(), as_of=AS_OF, secret_key=SECRET)
    pipeline.reconcile_one(sessions, doc["id"], cfg)
    return doc["id"]


def _assert_escaped(where: str, html: str) -> None:
    for raw in RAW:
        assert raw not in html, f"unescaped markup in {where}"
    assert "&lt;script&gt;" in html or "&lt;img" in html, f"{where} does not show the typed text at all"


def test_markup_in_every_field_is_escaped_on_every_page_and_in_every_html_email(sessions):
    app_id = _hostile_application(sessions)
    set_coordinator(sessions, association="CT-AIMH", name="Cal " + PAYLOAD, email="cal@example.org",
                    password="correct horse battery staple", actor="test")
    client = TestClient(make_web_app(sessions, SECRET, AS_OF))
    with sessions() as s:
        req = s.scalars(select(ReferenceRequest).where(ReferenceRequest.application_id == app_id,
                                                       ReferenceRequest.status == "requested")).first()
        token = links.token_for(req.token_nonce, SECRET, "rating")
    # The rater's form shows the applicant's name.
    form = client.get(f"/rate/{token}")
    _assert_escaped("the rating form", form.text)
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    answers = {f"answer:{k}": "3" for k in set(re.findall(r'name="answer:([^"]+)"', form.text))}
    # A rejected submission re-renders what was typed: still escaped.
    bad = client.post(f"/rate/{token}", data={"csrf": csrf, "action": "submit", "relationship": PAYLOAD,
                                              "comments": PAYLOAD})
    assert bad.status_code == 422
    _assert_escaped("the re-rendered rating form", bad.text)
    ok = client.post(f"/rate/{token}", data={"csrf": csrf, "action": "submit", "known_for_months": "12",
                                             "relationship": PAYLOAD, "recommendation": "recommend",
                                             "comments": PAYLOAD, "attested": "yes", **answers})
    assert ok.status_code == 200
    _assert_escaped("the thank-you page", ok.text)
    # The coordinator reads all of it.
    login = client.get("/coordinator/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', login.text).group(1)
    client.post("/coordinator/login", data={"csrf": csrf, "email": "cal@example.org",
                                            "password": "correct horse battery staple"})
    for path in ("/coordinator/", f"/coordinator/applications/{app_id}", f"/coordinator/applications/{app_id}/summary"):
        page = client.get(path)
        assert page.status_code == 200
        _assert_escaped(path, page.text)
    # Every HTML email the system wrote.
    with sessions() as s:
        mails = s.scalars(select(OutboxMessage)).all()
    assert mails
    for m in mails:
        for raw in RAW:
            assert raw not in m.body_html, f"unescaped markup in the {m.role} email"


def test_markup_in_essays_and_review_comments_is_escaped_for_reviewers_and_in_the_feedback_letter(sessions, tmp_path):
    from tasks.exam.review import apply_sitting
    from tasks.exam.intake import import_essays, import_multiple_choice
    from tests.exam.conftest import add_reviewer, write_csv
    from tests.exam.test_essay_review import _review

    lib = default_library()
    # A minimal sitting: one IMHS candidate, two reviewers.
    doc = json.loads((PROJECT_ROOT / "cohort" / "mi-aimh-imhs-eligible-01.json").read_text())
    doc.pop("exam", None)
    with transaction(sessions) as s:
        ensure_associations(s, lib)
        save_document(s, ApplicationDocument.model_validate_json(json.dumps(doc)), actor="test")
        s.get(Application, doc["id"]).stage = "exam"
    from tasks.exam.intake import enrol_candidates, open_sitting

    sitting = open_sitting(sessions, lib, association="MI-AIMH", name="S " + PAYLOAD, opens_on=AS_OF,
                           closes_on=AS_OF, actor="test")
    (app_id, code), = enrol_candidates(sessions, sitting, lib, as_of=AS_OF, actor="test").enrolled
    with transaction(sessions) as s:
        add_reviewer(s, sitting, "Rita " + "Reviewer", "IMHS")
        add_reviewer(s, sitting, "Rob " + "Reviewer", "IMHS")
    import_essays(sessions, sitting, write_csv(tmp_path / "e.csv", "candidate_code,essay", [(code, "Essay " + PAYLOAD)]),
                  lib, actor="test", as_of=AS_OF)
    apply_sitting(sessions, sitting, lib, as_of=AS_OF, secret_key=SECRET, actor="test")
    client = TestClient(make_web_app(sessions, SECRET, AS_OF))
    from models import ReviewAssignment

    with sessions() as s:
        assignments = s.scalars(select(ReviewAssignment)).all()
    from tests.exam.conftest import reviewer_token

    for a in assignments:
        token = reviewer_token(sessions, sitting, a.reviewer_id, SECRET)
        _assert_escaped("the reviewer's essay page", client.get(f"/review/{token}/essay/{a.id}").text)
        home = client.get(f"/review/{token}").text
        _assert_escaped("the reviewer's list", home)
        _review(client, sessions, sitting, a, "pass", "Comment " + PAYLOAD, SECRET)
    import_multiple_choice(sessions, sitting, write_csv(tmp_path / "mc.csv", "candidate_code,percent", [(code, "90")]),
                           actor="test")
    with sessions() as s:
        letter = s.scalars(select(OutboxMessage).where(OutboxMessage.role == "exam.feedback")).one()
        reviewer_mails = s.scalars(select(OutboxMessage).where(OutboxMessage.role == "review.assigned")).all()
    _assert_escaped("the feedback letter", letter.body_html)
    assert "Comment " + PAYLOAD in letter.body_text  # the text part quotes it as typed
    for m in reviewer_mails:
        _assert_escaped("the reviewer's email", m.body_html)
