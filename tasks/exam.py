"""Essay review for an exam sitting, on the database: the reviewer pool, conflicts, and a dry run of
the optimal assignment that a coordinator reviews before anything is sent.

Blindness: the plan names essays by candidate code and track only. ``tasks.essay_review`` applies a
plan (assignments, review links, emails) and handles what reviewers send back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from endorse.rulebook import RulebookLibrary
from models import (
    Application,
    ConflictDeclaration,
    Endorsement,
    Essay,
    ExamAttempt,
    ExamSitting,
    Person,
    ReferenceRequest,
    ReviewAssignment,
    ReviewerAvailability,
    ReviewerProfile,
    RscRecord,
    VERIFIED_ORIGINS,
    WorkRecord,
)
from tasks.essay_assignment import AssignmentPlan, AssignmentPolicy, EssayToReview, ReviewerCapacity, assign_essays

OPEN_ASSIGNMENT = ("assigned", "submitted")


@dataclass(frozen=True)
class EssayRound:
    sitting: ExamSitting
    plan: AssignmentPlan
    candidate_codes: dict[int, str]  # essay id -> candidate code (what reviewers see)
    held: tuple = ()  # HeldEssay: flagged essays waiting for the coordinator


def policy_for(library: RulebookLibrary, association: str, as_of: date) -> AssignmentPolicy:
    return AssignmentPolicy.from_mapping(library.setting(association, "essay_review_policy", as_of))


def _senior_endorsement(endorsements: set[str], policy: AssignmentPolicy) -> str | None:
    """The endorsement that qualifies a reviewer for the most tracks (IMHM-C before IMHS)."""
    reach = {e: sum(e in v for v in policy.eligible_endorsements.values()) for e in endorsements}
    return max(sorted(reach), key=lambda e: reach[e]) if reach else None


def reviewer_pool(s: Session, sitting: ExamSitting, policy: AssignmentPolicy) -> tuple[list[ReviewerCapacity], dict]:
    """Trained, active reviewers available for the sitting, with the load they already carry."""
    rows = s.execute(select(ReviewerProfile.person_id, ReviewerAvailability.max_load, Person.employer,
                            ReviewerAvailability.min_load)
                     .join(ReviewerAvailability, ReviewerAvailability.person_id == ReviewerProfile.person_id)
                     .join(Person, Person.id == ReviewerProfile.person_id)
                     .where(ReviewerAvailability.sitting_id == sitting.id, ReviewerProfile.trained.is_(True),
                            ReviewerProfile.active.is_(True))).all()
    ids = [r[0] for r in rows]
    held: dict[int, set[str]] = {i: set() for i in ids}
    for person_id, category in s.execute(select(Endorsement.person_id, Endorsement.category)
                                         .where(Endorsement.person_id.in_(ids), Endorsement.status == "active",
                                                # verified only: granted here or recorded by their own association
                                                Endorsement.origin.in_(VERIFIED_ORIGINS))):
        held[person_id].add(category)
    load = dict(s.execute(select(ReviewAssignment.reviewer_id, func.count())
                          .join(Essay, Essay.id == ReviewAssignment.essay_id)
                          .join(ExamAttempt, ExamAttempt.id == Essay.attempt_id)
                          .where(ExamAttempt.sitting_id == sitting.id, ReviewAssignment.status.in_(OPEN_ASSIGNMENT))
                          .group_by(ReviewAssignment.reviewer_id)).all())
    pool, employers = [], {}
    for person_id, max_load, employer, min_load in rows:
        endorsement = _senior_endorsement(held[person_id], policy)
        if endorsement is None:
            continue
        pool.append(ReviewerCapacity(person_id, endorsement, max_load, min(load.get(person_id, 0), max_load),
                                     min_load))
        employers[person_id] = (employer or "").strip().casefold()
    return pool, employers


def conflicts_of(s: Session, application: Application, employers: dict[int, str]) -> frozenset[int]:
    """Reviewers who may not read this candidate's essay: raters, RS/C providers (incl. supervisors
    among the raters), the same employer, declared conflicts — and the candidate."""
    blocked = {application.applicant_id}
    blocked |= set(s.scalars(select(ReferenceRequest.rater_id).where(ReferenceRequest.application_id == application.id)))
    blocked |= set(s.scalars(select(RscRecord.provider_id).where(RscRecord.application_id == application.id)))
    mine = {(e or "").strip().casefold() for e in s.scalars(select(WorkRecord.employer)
                                                           .where(WorkRecord.application_id == application.id))}
    applicant = s.get(Person, application.applicant_id)
    if applicant.employer:
        mine.add(applicant.employer.strip().casefold())
    mine.discard("")
    blocked |= {rid for rid, employer in employers.items() if employer and employer in mine}
    for d in s.scalars(select(ConflictDeclaration).where(
            (ConflictDeclaration.application_id == application.id) | (ConflictDeclaration.person_id == application.applicant_id)
            | (ConflictDeclaration.employer.is_not(None)))):
        if d.application_id == application.id or d.person_id == application.applicant_id or \
                (d.employer and d.employer.strip().casefold() in mine):
            blocked.add(d.reviewer_id)
    return frozenset(blocked)


@dataclass(frozen=True)
class HeldEssay:
    essay_id: int
    candidate_code: str
    reason: str


def plan_sitting(s: Session, sitting_id: int, library: RulebookLibrary, as_of: date,
                 *, only_essays: set[int] | None = None) -> EssayRound:
    """The optimal assignment for the sitting's essays that still need reviewers (writes nothing).

    Essays already settled are left out; flagged essays are held back (listed in ``held``); a reviewer
    who declined or missed an essay is never put back on it. ``only_essays`` limits the round (a
    reassignment touches only the essays it is about)."""
    sitting = s.get(ExamSitting, sitting_id)
    if sitting is None:
        raise LookupError(f"no exam sitting {sitting_id}")
    policy = policy_for(library, sitting.association_code, as_of)
    pool, employers = reviewer_pool(s, sitting, policy)
    rows = s.execute(select(Essay, ExamAttempt, Application).join(ExamAttempt, ExamAttempt.id == Essay.attempt_id)
                     .join(Application, Application.id == ExamAttempt.application_id)
                     .where(ExamAttempt.sitting_id == sitting_id).order_by(Essay.id)).all()
    essay_ids = [r[0].id for r in rows]
    existing: dict[int, frozenset] = {}
    came_off: dict[int, frozenset] = {}
    for essay_id, reviewer_id, status in s.execute(
            select(ReviewAssignment.essay_id, ReviewAssignment.reviewer_id, ReviewAssignment.status)
            .where(ReviewAssignment.essay_id.in_(essay_ids))):
        target = existing if status in OPEN_ASSIGNMENT else came_off
        target[essay_id] = target.get(essay_id, frozenset()) | {reviewer_id}
    essays, codes, needed, held = [], {}, {}, []
    pool_ids = {r.reviewer_id for r in pool}
    for essay, attempt, app in rows:
        if attempt.essay_result in ("pass", "fail") or (only_essays is not None and essay.id not in only_essays):
            continue
        if essay.flagged_reason and not essay.flag_cleared_by:
            held.append(HeldEssay(essay.id, attempt.candidate_code, f"held for the coordinator: {essay.flagged_reason}"))
            continue
        blocked = (conflicts_of(s, app, employers) | came_off.get(essay.id, frozenset())) - existing.get(essay.id, frozenset())
        essays.append(EssayToReview(essay.id, essay.track, app.applicant_id, blocked))
        codes[essay.id] = attempt.candidate_code
        needed[essay.id] = essay.reviewers_needed
    existing = {k: v & pool_ids for k, v in existing.items() if k in codes}
    plan = assign_essays(essays, pool, policy, existing=existing, needed=needed)
    return EssayRound(sitting, plan, codes, tuple(held))
