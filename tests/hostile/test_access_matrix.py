"""Access control as a matrix (issue #7 · 3): who may reach what. Each row is one (who, what) pair
and the answer they must get; a refused request changes nothing."""

from __future__ import annotations

import re
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from endorse import links
from endorse.db import transaction
from models import Application, AuditLog, OutboxMessage, ReferenceRequest
from tests.web.conftest import make_web_app
from tests.web.test_coordinator import CT, MI, SECRET, signed_in

COORDINATOR_GETS = ["/coordinator/", "/coordinator/charts/pipeline.png", "/coordinator/charts/reviewer-load.png",
                    "/coordinator/applications/{app}", "/coordinator/applications/{app}/summary",
                    "/coordinator/exports/pipeline.csv", "/coordinator/exports/pipeline.xlsx",
                    "/coordinator/exports/decisions.csv", "/coordinator/exports/decisions.xlsx",
                    "/coordinator/application-reviews"]
COORDINATOR_POSTS = ["/coordinator/applications/{app}/transcript", "/coordinator/applications/{app}/approve-exam",
                     "/coordinator/applications/{app}/request-decision", "/coordinator/references/{req}/vet",
                     "/coordinator/references/{req}/resend", "/coordinator/references/{req}/replace",
                     "/coordinator/applications/{app}/settle-review", "/coordinator/applications/{app}/advisor",
                     "/coordinator/application-reviews/apply", "/coordinator/logout"]


def _targets(sessions, association: str) -> dict:
    with sessions() as s:
        app = s.scalars(select(Application.id).where(Application.association_code == association)
                        .order_by(Application.id)).first()
        req = s.scalars(select(ReferenceRequest.id).join(Application)
                        .where(Application.association_code == association)).first()
    return {"app": app, "req": req}


def _changes(sessions) -> tuple[int, int]:
    with sessions() as s:
        return (s.scalar(select(func.count()).select_from(AuditLog)),
                s.scalar(select(func.count()).select_from(OutboxMessage)))


@pytest.mark.parametrize("path", COORDINATOR_GETS)
def test_every_coordinator_page_needs_a_sign_in(cohort, path):
    client = TestClient(make_web_app(cohort, SECRET))
    r = client.get(path.format(**_targets(cohort, "MI-AIMH")), follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/coordinator/login")


@pytest.mark.parametrize("path", COORDINATOR_POSTS)
def test_every_coordinator_action_needs_a_sign_in_and_changes_nothing_without(cohort, path):
    client = TestClient(make_web_app(cohort, SECRET))
    before = _changes(cohort)
    r = client.post(path.format(**_targets(cohort, "MI-AIMH")), data={"csrf": "x", "decision": "accepted"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/coordinator/login")
    assert _changes(cohort) == before


@pytest.mark.parametrize("path", [p for p in COORDINATOR_POSTS if "logout" not in p])
def test_every_coordinator_action_needs_the_forms_csrf_token(cohort, path):
    client = signed_in(cohort, MI)
    before = _changes(cohort)
    r = client.post(path.format(**_targets(cohort, "MI-AIMH")), data={"decision": "accepted"}, follow_redirects=False)
    assert r.status_code == 403
    assert _changes(cohort) == before


@pytest.mark.parametrize("path", [p for p in COORDINATOR_GETS + COORDINATOR_POSTS if "{" in p])
def test_a_coordinator_reaches_only_their_own_associations_applications(cohort, path):
    client = signed_in(cohort, MI)
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/coordinator/").text).group(1)
    theirs = path.format(**_targets(cohort, "CT-AIMH"))
    before = _changes(cohort)
    if path in COORDINATOR_GETS:
        r = client.get(theirs)
    else:
        r = client.post(theirs, data={"csrf": csrf, "decision": "accepted", "vetted_on": "2026-11-20",
                                      "institution": "x", "received_on": "2026-11-20"})
    assert r.status_code == 404
    assert _changes(cohort)[1] == before[1]
    with cohort() as s:  # no action recorded against the other association's application
        app_id = _targets(cohort, "CT-AIMH")["app"]
        assert s.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.application_id == app_id, AuditLog.actor == f"coordinator:{MI}")) == 0


def test_a_coordinator_session_is_no_key_to_a_rater_or_reviewer_page(cohort):
    client = signed_in(cohort, CT)
    assert client.get("/rate/" + "A" * 43).status_code == 404
    assert client.get("/review/" + "A" * 43).status_code == 404
    assert client.get("/review/application/" + "A" * 43).status_code == 404
    assert client.get("/advise/" + "A" * 43).status_code == 404


def _rating_tokens(sessions) -> list[tuple[int, str]]:
    with sessions() as s:
        return [(r.id, links.token_for(r.token_nonce, SECRET, "rating"))
                for r in s.scalars(select(ReferenceRequest).where(ReferenceRequest.status == "requested",
                                                                  ReferenceRequest.token_nonce.is_not(None)))]


def test_a_rater_reaches_only_their_own_form(cohort):
    client = TestClient(make_web_app(cohort, SECRET))
    tokens = _rating_tokens(cohort)
    assert tokens
    with cohort() as s:
        names = dict(s.execute(select(Application.id, Application.applicant_id)).all())
        from models import Person

        people = {a: s.get(Person, p).name for a, p in names.items()}
        for request_id, token in tokens:
            page = client.get(f"/rate/{token}")
            assert page.status_code == 200
            own = s.get(ReferenceRequest, request_id).application_id
            assert people[own].replace("'", "&#39;") in page.text
            for app_id, name in people.items():
                if app_id != own and name != people[own]:
                    assert name.replace("'", "&#39;") not in page.text, app_id
    # A rating link is not a review link, nor the other way round (the token's purpose is in its MAC).
    _, token = tokens[0]
    assert client.get(f"/review/{token}").status_code == 404


def test_a_changed_character_in_a_link_is_just_not_found(cohort):
    client = TestClient(make_web_app(cohort, SECRET))
    _, token = _rating_tokens(cohort)[0]
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert client.get(f"/rate/{flipped}").status_code == 404


def test_an_applicant_never_receives_the_contents_of_a_waived_rating(cohort):
    """No page serves applicants; and no email to an applicant quotes a rating (waived or not)."""
    from tasks.pipeline import reconcile as pipeline
    from tasks.decision.decisions import request_decision
    from tasks.references.ratings import RatingInput, save_rating
    from endorse.rulebook import default_library

    lib = default_library()
    secret_text = "CONFIDENTIAL-RATER-REMARK-7731"
    with cohort() as s:
        req = s.scalars(select(ReferenceRequest).where(ReferenceRequest.status == "requested",
                                                       ReferenceRequest.token_nonce.is_not(None))).first()
        app_id = req.application_id
        req_id = req.id
        token = links.token_for(req.token_nonce, SECRET, "rating")
    from sqlalchemy import update

    with cohort.begin() as s:
        s.execute(update(ReferenceRequest).where(ReferenceRequest.id == req_id).values(waived_access=True))
    from tasks.references.ratings import form_spec, find_request

    with cohort() as s:
        spec = form_spec(s, find_request(s, token, date(2026, 11, 22)), lib, date(2026, 11, 22))
    answers = {a.key: "3" for d in spec.domains for a in d.areas}
    save_rating(cohort, token, RatingInput(answers=answers, known_for_months=24, relationship="supervisor",
                                           recommendation="recommend", comments=secret_text, attested=True),
                library=lib, as_of=date(2026, 11, 22), submit=True)
    pipeline.reconcile_one(cohort, app_id, pipeline.PipelineConfig(lib, date(2026, 11, 22), SECRET))
    request_decision(cohort, app_id, actor="test")
    pipeline.reconcile_one(cohort, app_id, pipeline.PipelineConfig(lib, date(2026, 11, 22), SECRET))
    with cohort() as s:
        applicant_email = s.get(Application, app_id).applicant.email
        mails = s.scalars(select(OutboxMessage).where(OutboxMessage.recipient_email == applicant_email)).all()
    assert mails, "the applicant was written to (a decision letter)"
    for m in mails:
        assert secret_text not in m.body_text + m.body_html + m.subject


def test_secrets_have_no_default_outside_development(monkeypatch):
    from pydantic import ValidationError

    from endorse.settings import Settings

    monkeypatch.delenv("ENDORSE_SECRET_KEY", raising=False)
    with pytest.raises(ValidationError, match="ENDORSE_SECRET_KEY must be set"):
        Settings(env="production", _env_file=None)
    assert Settings(env="production", secret_key="a-real-secret-from-the-vault", _env_file=None)


# --- people shared across associations (issue #13 · 1) -------------------------------------------------------
#
# A person is keyed by email and shared by every association. What one association types or imports about
# someone is a claim on its own application: it never renames the person, never gives them an endorsement
# that counts, and never shows on another association's pages, exports or letters.

INTRUDER_NAME, INTRUDER_ENDORSEMENT = "Mallory Renamed", "IMHM-C"
CT_PEOPLE = ["applicant", "coordinator", "reviewer"]
MI_CHANNELS = ["replace rater on the dashboard", "add rater on the command line", "an imported document"]


def _ct_person(sessions, who: str) -> str:
    """The email of a CT-AIMH person: an applicant, the coordinator, or a reviewer of a CT sitting."""
    from endorse.rulebook import default_library
    from models import Person, ReviewerAvailability, ReviewerProfile
    from tasks.exam.intake import open_sitting
    from tasks.intake.records import person_for

    if who == "coordinator":
        return CT
    if who == "applicant":
        with sessions() as s:
            return s.get(Application, _targets(sessions, "CT-AIMH")["app"]).applicant.email
    sitting_id = open_sitting(sessions, default_library(), association="CT-AIMH", name="CT spring",
                              opens_on=date(2026, 12, 1), closes_on=date(2026, 12, 15), actor=f"coordinator:{CT}")
    with transaction(sessions) as s:  # registered by CT, with no endorsement recorded
        p = person_for(s, "Rex Reviewer", "rex.reviewer@ct.example.org", association="CT-AIMH")
        s.add(ReviewerProfile(person_id=p.id, trained=True, max_load=5))
        s.add(ReviewerAvailability(sitting_id=sitting_id, person_id=p.id, max_load=5))
        assert s.get(Person, p.id) is not None
    return "rex.reviewer@ct.example.org"


def _mi_config():
    from endorse.rulebook import default_library
    from tasks.config import PipelineConfig

    return PipelineConfig(library=default_library(), as_of=date(2026, 11, 22), secret_key=SECRET,
                          actor=f"coordinator:{MI}")


def _mi_open_request(sessions) -> tuple[str, int]:
    """An MI-AIMH application with a rater asked (an honest one, whom MI then replaces)."""
    from tasks.references.raters import ProposedRater, add_rater

    app_id = _targets(sessions, "MI-AIMH")["app"]
    request_id = add_rater(sessions, app_id, ProposedRater("Hope Honest", "hope.honest@example.org", "colleague"),
                           _mi_config(), actor=f"coordinator:{MI}")
    return app_id, request_id


def _mi_says(sessions, channel: str, email: str) -> str:
    """MI-AIMH says the person is "Mallory Renamed" holding IMHM-C; returns the MI application it is said on."""
    from endorse.documents import load_document
    from endorse.settings import PROJECT_ROOT
    from tasks.references.raters import ProposedRater, add_rater
    from tasks.intake.records import save_document

    app_id, request_id = _mi_open_request(sessions)
    if channel == "replace rater on the dashboard":
        client = signed_in(sessions, MI)
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get(f"/coordinator/applications/{app_id}").text).group(1)
        r = client.post(f"/coordinator/references/{request_id}/replace", follow_redirects=False, data={
            "csrf": csrf, "name": INTRUDER_NAME, "email": email, "role": "colleague",
            "endorsement": INTRUDER_ENDORSEMENT, "reason": "left"})
        assert r.status_code == 303, r.text
    elif channel == "add rater on the command line":
        add_rater(sessions, app_id, ProposedRater(INTRUDER_NAME, email, "colleague", INTRUDER_ENDORSEMENT), _mi_config(),
                  actor=f"coordinator:{MI}")
    else:
        doc = load_document(PROJECT_ROOT / "cohort" / "mi-aimh-imhs-eligible-01.json")
        first = doc.references[0]
        rater = first.rater.model_copy(update={"name": INTRUDER_NAME, "email": email,
                                               "endorsement": INTRUDER_ENDORSEMENT})
        doc = doc.model_copy(update={"references": (first.model_copy(update={"rater": rater}),) + tuple(doc.references[1:])})
        with transaction(sessions) as s:
            save_document(s, doc, actor="import")
        app_id = doc.id
    return app_id


def _person_state(sessions, email: str) -> tuple:
    from models import Endorsement, Person

    with sessions() as s:
        p = s.scalars(select(Person).where(Person.email_normalized == email)).one()
        return p.name, p.employer, sorted(s.scalars(select(Endorsement.category).where(Endorsement.person_id == p.id)))


@pytest.mark.parametrize("channel", MI_CHANNELS)
@pytest.mark.parametrize("who", CT_PEOPLE)
def test_another_associations_word_about_a_person_stays_a_claim_on_its_own_application(cohort, who, channel):
    """Issue #13 · 1: MI-AIMH can neither rename a CT-AIMH person nor make them hold an endorsement."""
    from endorse.rulebook import default_library
    from models import ExamSitting
    from tasks.exam.sitting_plan import policy_for, reviewer_pool

    email = _ct_person(cohort, who)
    before = _person_state(cohort, email)
    ct_pages = ["/coordinator/", f"/coordinator/applications/{_targets(cohort, 'CT-AIMH')['app']}",
                "/coordinator/exports/pipeline.csv"]
    ct = signed_in(cohort, CT)
    seen_before = [ct.get(p).text for p in ct_pages]

    mi_app = _mi_says(cohort, channel, email)

    assert _person_state(cohort, email) == before  # the person's record is untouched
    assert [ct.get(p).text.count(INTRUDER_NAME) for p in ct_pages] == [0, 0, 0]
    assert [t.count(before[0]) for t in seen_before] == [ct.get(p).text.count(before[0]) for p in ct_pages]
    with cohort() as s:  # the claim is kept, on MI's application only
        claim = s.scalars(select(ReferenceRequest).where(ReferenceRequest.application_id == mi_app,
                                                         ReferenceRequest.rater_name == INTRUDER_NAME)).one()
        assert claim.rater_endorsement_claimed == INTRUDER_ENDORSEMENT and claim.rater.email_normalized == email
        if who == "reviewer":  # no endorsement that counts: not eligible for CT's essays
            sitting = s.scalars(select(ExamSitting).where(ExamSitting.association_code == "CT-AIMH")).one()
            pool, _ = reviewer_pool(s, sitting, policy_for(default_library(), "CT-AIMH", date(2026, 11, 22)))
            assert claim.rater_id not in {r.reviewer_id for r in pool}
