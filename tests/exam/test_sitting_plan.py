"""A sitting's dry run from the database: the pool, the hard conflicts, and a blind plan."""

from __future__ import annotations

import io
from datetime import date

from sqlalchemy import func, select

from endorse.db import transaction
from endorse.documents import load_document
from endorse.rulebook import default_library
from endorse.settings import PROJECT_ROOT
from models import (
    ConflictDeclaration,
    Endorsement,
    Essay,
    ExamAttempt,
    ExamSitting,
    ReviewAssignment,
    ReviewerAvailability,
    ReviewerProfile,
)
from tasks.exam import plan_sitting
from tasks.records import ensure_associations, person_for, save_document

AS_OF = date(2026, 11, 22)


def _setup(sessions) -> dict:
    ids = {}
    with transaction(sessions) as s:
        ensure_associations(s, default_library())
        sitting = ExamSitting(association_code="MI-AIMH", name="Fall 2026", opens_on=date(2026, 10, 1),
                              closes_on=date(2026, 10, 31))
        s.add(sitting)
        s.flush()
        ids["sitting"] = sitting.id
        for n, f in enumerate(["mi-aimh-imhs-eligible-01.json", "mi-aimh-imhm-c-eligible-01.json"]):
            doc = load_document(PROJECT_ROOT / "cohort" / f)
            save_document(s, doc, actor="test")
            attempt = ExamAttempt(application_id=doc.id, sitting_id=sitting.id, candidate_code=f"CAND-{n + 1}")
            s.add(attempt)
            s.flush()
            s.add(Essay(attempt_id=attempt.id, track=doc.category, text="…"))
            ids[doc.category] = doc.id
        reviewers = {
            # name: (endorsement, employer)
            "Rita Reviewer": ("IMHS", "Somewhere Else"),
            "Ivan Imhs": ("IMHS", None),
            "Mona Mentor": ("IMHM-C", None),
            "Pia Policy": ("IMHM-P", None),
            "Erik Lindqvist": ("IMHM-C", None),  # the IMHM-C candidate's RS/C provider and rater
            # works where the IMHS candidate works (letter case differs)
            "Colleague At Work": ("IMHM-C", load_document(PROJECT_ROOT / "cohort" / "mi-aimh-imhs-eligible-01.json")
                                  .work[0].employer.upper()),
        }
        for name, (endorsement, employer) in reviewers.items():
            email = "elindqvist@example.net" if name == "Erik Lindqvist" else name.lower().replace(" ", ".") + "@example.org"
            p = person_for(s, name, email, association=None)
            p.employer = employer
            s.add(Endorsement(person_id=p.id, category=endorsement, origin="granted", status="active",
                              number=f"N-{p.id}-{endorsement}"))
            s.add(ReviewerProfile(person_id=p.id, trained=True, max_load=5))
            s.add(ReviewerAvailability(sitting_id=sitting.id, person_id=p.id, max_load=5))
            ids[name] = p.id
        s.add(ConflictDeclaration(reviewer_id=ids["Rita Reviewer"], application_id=ids["IMHS"], reason="knows her"))
    return ids


def test_conflicts_are_hard_exclusions_and_the_plan_is_blind(sessions):
    ids = _setup(sessions)
    with sessions() as s:
        rnd = plan_sitting(s, ids["sitting"], default_library(), AS_OF)
    plan = rnd.plan
    by_code = {rnd.candidate_codes[e]: set(r) for e, r in plan.assignments.items()}
    imhs, mentor = by_code["CAND-1"], by_code["CAND-2"]
    assert len(imhs) == 2 and len(mentor) == 2 and not plan.uncovered
    assert ids["Rita Reviewer"] not in imhs  # declared a conflict with that candidate
    assert ids["Colleague At Work"] not in imhs  # same employer as the IMHS candidate
    assert ids["Colleague At Work"] in mentor or ids["Mona Mentor"] in mentor  # but free to review the other one
    assert ids["Erik Lindqvist"] not in mentor  # the candidate's RS/C provider and rater
    assert ids["Pia Policy"] not in imhs  # IMHM-P does not review IMHS essays
    out = io.StringIO()
    plan.to_csv(out)
    text = out.getvalue()
    for secret in ("example.org", "example.net", "Hartford", "@"):
        assert secret not in text  # ids and codes only


def test_the_dry_run_writes_nothing(sessions):
    ids = _setup(sessions)
    with sessions() as s:
        plan_sitting(s, ids["sitting"], default_library(), AS_OF)
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(ReviewAssignment)) == 0


def test_each_kind_of_conflict_is_found(sessions):
    from models import Application
    from tasks.exam import conflicts_of, policy_for, reviewer_pool

    ids = _setup(sessions)
    with sessions() as s:
        sitting = s.get(ExamSitting, ids["sitting"])
        _, employers = reviewer_pool(s, sitting, policy_for(default_library(), "MI-AIMH", AS_OF))
        imhs = conflicts_of(s, s.get(Application, ids["IMHS"]), employers)
        mentor_app = s.get(Application, ids["IMHM-C"])
        mentor = conflicts_of(s, mentor_app, employers)
    assert ids["Colleague At Work"] in imhs  # same employer, whatever the letter case
    assert ids["Rita Reviewer"] in imhs  # declared
    assert ids["Erik Lindqvist"] in mentor  # RS/C provider and rater
    assert mentor_app.applicant_id in mentor  # never the candidate
    assert ids["Mona Mentor"] not in imhs | mentor
