"""A person is changed only by their own association, and every association that sees them is told;
an endorsement counts only when granted here or recorded by their own association; migration 0007
keeps every name and declared endorsement, as claims (issue #13 · 1)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import create_engine, select, text

from endorse.db import alembic_config, make_engine, session_factory
from endorse.rulebook import default_library
from models import Application, AuditLog, Endorsement, Person, ReviewerAvailability, ReviewerProfile
from tasks.exam.intake import open_sitting
from tasks.exam.sitting_plan import policy_for, reviewer_pool
from tasks.intake.people import NotYourPerson, change_person, record_endorsement
from tests.conftest import empty_database_url
from tests.hostile.test_access_matrix import _mi_config, _targets
from tests.web.test_coordinator import CT, MI, signed_in

AS_OF = date(2026, 11, 22)


def _ct_applicant(sessions) -> tuple[str, str]:
    with sessions() as s:
        app = s.get(Application, _targets(sessions, "CT-AIMH")["app"])
        return app.id, app.applicant.email


def _seen_by_mi_too(sessions, email: str) -> str:
    """MI-AIMH asks the CT applicant to rate one of its applicants: now both associations see her."""
    from tasks.references.raters import ProposedRater, add_rater

    mi_app = _targets(sessions, "MI-AIMH")["app"]
    add_rater(sessions, mi_app, ProposedRater("As MI Typed", email, "colleague"), _mi_config(), actor=f"coordinator:{MI}")
    return mi_app


def test_only_the_persons_own_association_changes_their_record_and_every_association_sees_the_audit(cohort):
    ct_app, email = _ct_applicant(cohort)
    mi_app = _seen_by_mi_too(cohort, email)
    with pytest.raises(NotYourPerson, match="belongs to CT-AIMH"):
        change_person(cohort, email, association="MI-AIMH", actor=f"coordinator:{MI}", name="Renamed By MI")
    change_person(cohort, email, association="CT-AIMH", actor=f"coordinator:{CT}", name="Corrected By CT")
    with cohort() as s:
        assert s.scalars(select(Person.name).where(Person.email_normalized == email)).one() == "Corrected By CT"
        entries = s.scalars(select(AuditLog).where(AuditLog.action == "person.changed")).all()
    assert {e.details["association"] for e in entries} == {"CT-AIMH", "MI-AIMH"}
    assert {ct_app, mi_app} <= {e.application_id for e in entries}  # in both applications' timelines
    assert all(e.details["changes"]["name"][1] == "Corrected By CT" for e in entries)
    # Each association's page shows it in that application's timeline.
    assert "person.changed" in signed_in(cohort, MI).get(f"/coordinator/applications/{mi_app}").text
    assert "person.changed" in signed_in(cohort, CT).get(f"/coordinator/applications/{ct_app}").text


def test_the_command_line_refuses_a_coordinator_of_another_association(cohort, database_url, monkeypatch, capsys):
    from endorse.settings import get_settings
    from endorse_cli.main import main

    _, email = _ct_applicant(cohort)
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        assert main(["person", "change", "--email", email, "--name", "X", "--by", MI]) == 2
        assert "belongs to CT-AIMH" in capsys.readouterr().err
        assert main(["person", "change", "--email", email, "--name", "X", "--by", "nobody@example.org"]) == 2
        assert "not an active coordinator account" in capsys.readouterr().err
    finally:
        get_settings.cache_clear()


def _ct_reviewer(sessions) -> tuple[int, int]:
    from tasks.intake.records import person_for

    sitting_id = open_sitting(sessions, default_library(), association="CT-AIMH", name="CT spring",
                              opens_on=date(2026, 12, 1), closes_on=date(2026, 12, 15), actor=f"coordinator:{CT}")
    with sessions.begin() as s:
        p = person_for(s, "Rex Reviewer", "rex@ct.example.org", association="CT-AIMH")
        s.add(ReviewerProfile(person_id=p.id, trained=True, max_load=5))
        s.add(ReviewerAvailability(sitting_id=sitting_id, person_id=p.id, max_load=5))
        s.flush()
        return sitting_id, p.id


def _in_pool(sessions, sitting_id: int, person_id: int) -> bool:
    from models import ExamSitting

    with sessions() as s:
        pool, _ = reviewer_pool(s, s.get(ExamSitting, sitting_id), policy_for(default_library(), "CT-AIMH", AS_OF))
    return person_id in {r.reviewer_id for r in pool}


@pytest.mark.parametrize(("origin", "counts"), [("declared", False), ("granted", True), ("recorded", True)])
def test_reviewer_eligibility_uses_verified_endorsements_only(cohort, origin, counts):
    sitting_id, person_id = _ct_reviewer(cohort)
    with cohort.begin() as s:
        s.add(Endorsement(person_id=person_id, category="IMHM-C", origin=origin, status="active"))
    assert _in_pool(cohort, sitting_id, person_id) is counts


def test_an_endorsement_is_recorded_only_by_the_persons_own_association(cohort):
    sitting_id, person_id = _ct_reviewer(cohort)
    with pytest.raises(NotYourPerson):
        record_endorsement(cohort, "rex@ct.example.org", category="IMHM-C", association="MI-AIMH",
                           actor=f"coordinator:{MI}")
    assert not _in_pool(cohort, sitting_id, person_id)
    with pytest.raises(ValueError, match="category"):
        record_endorsement(cohort, "rex@ct.example.org", category="WIZARD", association="CT-AIMH",
                           actor=f"coordinator:{CT}")
    record_endorsement(cohort, "rex@ct.example.org", category="IMHM-C", association="CT-AIMH",
                       actor=f"coordinator:{CT}", number="CT-123")
    assert _in_pool(cohort, sitting_id, person_id)
    with pytest.raises(ValueError, match="number: CT-123 is already"):
        record_endorsement(cohort, CT, category="IMHS", association="CT-AIMH", actor=f"coordinator:{CT}",
                           number="CT-123")
    with cohort() as s:
        assert s.scalars(select(AuditLog.details).where(AuditLog.action == "person.endorsement_recorded")).one()[
            "association"] == "CT-AIMH"


def test_a_coordinators_name_on_their_dashboard_is_their_own_record(cohort):
    _seen_by_mi_too(cohort, CT)  # MI names the CT coordinator as a rater, under another name
    page = signed_in(cohort, CT).get("/coordinator/").text
    assert "Cal Coordinator" in page and "As MI Typed" not in page


# --- migration 0007: data-preserving ---------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def database_at_0002(request, tmp_path):
    """A database as it was before migration 0007."""
    from alembic import command

    url = empty_database_url(request, tmp_path)
    command.upgrade(alembic_config(url), "0002")
    return url


def test_migration_0007_keeps_names_and_declared_endorsements_as_claims(database_at_0002):
    from alembic import command

    url = database_at_0002
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as c:
        c.execute(text("INSERT INTO association (code, name, coordinator_name, coordinator_email, timezone) VALUES "
                       "('CT-AIMH', 'CT', 'c', 'c@x', 'America/New_York')"))
        c.execute(text("INSERT INTO person (id, name, email, email_normalized, created_at) VALUES "
                       "(1, 'Ann Applicant', 'ann@x', 'ann@x', CURRENT_TIMESTAMP), "
                       "(2, 'Ray Rater', 'ray@x', 'ray@x', CURRENT_TIMESTAMP), "
                       "(3, 'Rev Reviewer', 'rev@x', 'rev@x', CURRENT_TIMESTAMP)"))
        c.execute(text("INSERT INTO application (id, association_code, category, applicant_id, applicant_is_supervisor, "
                       "stage, stage_entered_at, decision_requested, needs_reconcile, created_at, updated_at, version_id) "
                       "VALUES ('CT-1', 'CT-AIMH', 'IMHS', 1, false, 'references', CURRENT_TIMESTAMP, false, true, "
                       "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)"))
        c.execute(text("INSERT INTO reference_request (application_id, position, rater_id, role, status, waived_access, "
                       "rater_endorsement_claimed, requested_at, token_generation, reminders_sent) VALUES "
                       "('CT-1', 0, 2, 'colleague', 'requested', false, 'IMHM-C', CURRENT_TIMESTAMP, 0, 0)"))
        c.execute(text("INSERT INTO endorsement (person_id, category, status, origin) VALUES "
                       "(1, 'IFS', 'active', 'declared'), (2, 'IMHM-C', 'active', 'declared'), "
                       "(3, 'IMHS', 'active', 'declared')"))
    command.upgrade(alembic_config(url), "head")
    with engine.connect() as c:
        assert c.execute(text("SELECT applicant_name, applicant_endorsement_declared FROM application")).one() == \
            ("Ann Applicant", "IFS")
        assert c.execute(text("SELECT rater_name, rater_endorsement_claimed FROM reference_request")).one() == \
            ("Ray Rater", "IMHM-C")
        # Carried by an application: now a claim there. Carried by none (a reviewer's): kept, never verified.
        assert c.execute(text("SELECT person_id, category, origin FROM endorsement")).all() == [(3, "IMHS", "declared")]
        assert c.execute(text("SELECT home_association FROM person WHERE id = 1")).scalar() == "CT-AIMH"
    engine.dispose()
    sessions = session_factory(make_engine(url))
    with sessions.begin() as s:  # the new origin is allowed by the database's check
        s.add(Endorsement(person_id=3, category="IMHS", origin="recorded", status="active", recorded_by="c@x"))


def test_an_endorsement_this_system_grants_is_audited_in_every_association_that_sees_the_person(sessions):
    from endorse.db import transaction
    from endorse.documents import load_document
    from endorse.settings import PROJECT_ROOT
    from tasks.decision.decisions import request_decision
    from tasks.intake.records import ensure_associations, save_document
    from tasks.pipeline import reconcile as pipeline
    from tasks.references.raters import ProposedRater, add_rater

    lib = default_library()
    cfg = pipeline.PipelineConfig(library=lib, as_of=AS_OF, secret_key="s", actor="system:pipeline")
    with transaction(sessions) as s:
        ensure_associations(s, lib)
        mi = save_document(s, load_document(PROJECT_ROOT / "cohort" / "mi-aimh-ifa-eligible-01.json"), actor="t")
        ct = save_document(s, load_document(PROJECT_ROOT / "cohort" / "ct-aimh-ifs-eligible-01.json"), actor="t")
        applicant_email = s.get(Application, mi.application_id).applicant.email
    add_rater(sessions, ct.application_id, ProposedRater("As CT Knows Her", applicant_email, "colleague"), cfg,
              actor=f"coordinator:{CT}")  # CT-AIMH sees the MI applicant too
    pipeline.reconcile_one(sessions, mi.application_id, cfg)
    request_decision(sessions, mi.application_id, actor=f"coordinator:{MI}")
    pipeline.reconcile_one(sessions, mi.application_id, cfg)
    with sessions() as s:
        assert s.get(Application, mi.application_id).stage == "endorsed"
        entries = s.scalars(select(AuditLog).where(AuditLog.action == "person.endorsement_granted")).all()
    assert {(e.details["association"], e.application_id) for e in entries} == {
        ("MI-AIMH", mi.application_id), ("CT-AIMH", ct.application_id)}
