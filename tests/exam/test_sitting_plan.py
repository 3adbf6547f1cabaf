"""A sitting's dry run from the database: the pool, the hard conflicts, and a blind plan."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

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
from tasks.intake.records import ensure_associations, person_for, save_document

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
    from tasks.exam.sitting_plan import conflicts_of, policy_for, reviewer_pool

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


def _cli(database_url, *args):
    import os
    import subprocess
    import sys

    env = {**os.environ, "DATABASE_URL": database_url}
    # The installed script, as a coordinator runs it (under `python -m endorse_cli.main` a usage error
    # escapes main as a traceback: the module runs as __main__ with its own UsageError class).
    endorse = Path(sys.executable).parent / "endorse"
    return subprocess.run([str(endorse), *args], capture_output=True, text=True, cwd=PROJECT_ROOT, env=env, check=False)


def test_a_minimum_load_entered_with_the_availability_is_met_or_reported(sessions):
    from tasks.exam.assignment import NO_ESSAY_TO_REVIEW

    ids = _setup(sessions)
    with transaction(sessions) as s:
        for name, least in (("Pia Policy", 1), ("Rita Reviewer", 2)):
            avail = s.scalars(select(ReviewerAvailability).where(ReviewerAvailability.person_id == ids[name])).one()
            avail.min_load = least
    with sessions() as s:
        rnd = plan_sitting(s, ids["sitting"], default_library(), AS_OF)
    by_code = {rnd.candidate_codes[e]: set(r) for e, r in rnd.plan.assignments.items()}
    # Pia (IMHM-P) is not preferred for the IMHM-C essay, but her minimum outweighs the mismatch.
    assert ids["Pia Policy"] in by_code["CAND-2"] and rnd.plan.without_preferred == []
    # Rita's only essay of her track is one she declared a conflict with.
    assert rnd.plan.short_of_minimum == [(ids["Rita Reviewer"], 2, NO_ESSAY_TO_REVIEW)]


def test_add_reviewer_records_a_minimum_load_and_refuses_one_above_the_maximum(sessions, database_url):
    ids = _setup(sessions)
    ok = _cli(database_url, "exam", "reviewer", "--name", "Vera Volunteer", "--email", "vera@example.org",
              "--max-load", "6", "--min-load", "2", "--sitting", str(ids["sitting"]), "--by", "coord@example.org")
    assert ok.returncode == 0, ok.stderr
    assert "max load 6, min load 2" in ok.stdout
    bad = _cli(database_url, "exam", "reviewer", "--name", "Walt Willing", "--email", "walt@example.org",
               "--max-load", "3", "--min-load", "4", "--sitting", str(ids["sitting"]), "--by", "coord@example.org")
    assert bad.returncode == 2 and "--min-load must be from 0 to --max-load (3), got 4" in bad.stderr
    with sessions() as s:
        rows = s.execute(select(ReviewerProfile.max_load, ReviewerProfile.min_load, ReviewerAvailability.max_load,
                                ReviewerAvailability.min_load)
                         .join(ReviewerAvailability, ReviewerAvailability.person_id == ReviewerProfile.person_id)
                         .where(ReviewerAvailability.sitting_id == ids["sitting"],
                                ReviewerProfile.person_id.not_in([ids[n] for n in ids if n not in ("sitting", "IMHS", "IMHM-C")]))).all()
        assert rows == [(6, 2, 6, 2)]  # Vera's; nothing of Walt's was written
        assert s.scalar(select(func.count()).select_from(ReviewerProfile)) == 7


def test_the_dry_run_lists_essays_without_a_preferred_reviewer_and_minimums_not_met(sessions, database_url, tmp_path):
    ids = _setup(sessions)
    with transaction(sessions) as s:
        for name in ("Mona Mentor", "Colleague At Work"):  # the IMHM-C essay's preferred reviewers are full
            avail = s.scalars(select(ReviewerAvailability).where(ReviewerAvailability.person_id == ids[name])).one()
            avail.max_load = 0
        avail = s.scalars(select(ReviewerAvailability).where(ReviewerAvailability.person_id == ids["Rita Reviewer"])).one()
        avail.min_load = 1
    out = _cli(database_url, "exam", "assign", str(ids["sitting"]), "--csv", str(tmp_path / "plan.csv"),
               "--as-of", AS_OF.isoformat())
    assert out.returncode == 0, out.stderr
    assert "1 essays without a preferred reviewer" in out.stdout
    assert "no preferred reviewer: CAND-2: preferred reviewers free of conflicts are all at their maximum load" in out.stdout
    assert (f"below minimum load: reviewer #{ids['Rita Reviewer']} gets 1 fewer than their minimum: "
            "no essay in this round they may review") in out.stdout
    csv_text = (tmp_path / "plan.csv").read_text(encoding="utf-8")
    assert "no preferred reviewer: preferred reviewers free of conflicts are all at their maximum load" in csv_text
