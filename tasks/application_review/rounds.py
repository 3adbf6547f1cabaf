"""Application review rounds on the database: the optimal assignment from the pool (``pool.py``; the
essays' exact solver, with the applicant's category as the track and the same hard conflicts) for each
application's current round, links and emails,
reviews, settling a round (two agreeing reviewers, else the coordinator), reminders and reassignment
after a decline or a missed due date.

Every state change is one transaction with its audit entry; a settled round marks the application for a
reconcile, which moves it out of ``application_review`` (tasks/eligibility/stages.py).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from endorse import links
from endorse.clock import now_for
from endorse.db import dialect_insert, transaction
from endorse.rulebook import RulebookLibrary
from models import (
    Application,
    ApplicationReview,
    ApplicationReviewAssignment,
    ApplicationReviewInvitation,
    ApplicationReviewOutcome,
    ApplicationReviewRound,
    Association,
    Person,
    record_audit,
)
from models.application_review import RECOMMENDATIONS
from tasks.application_review.pool import (  # noqa: F401  (the pool's verbs, where callers found them)
    add_application_reviewer,
    policy_for,
    reviewer_pool,
    settings_for,
)
from tasks.eligibility.facts import current_review_rounds, review_outcomes, reviewers_wanted
from tasks.exam.assignment import AssignmentPlan, EssayToReview, assign_essays
from tasks.exam.sitting_plan import conflicts_of
from tasks.mail.outbox import queue_email
from tasks.references.ratings import AlreadySubmitted, LinkNotFound

STAGE = "application_review"
OPEN = ("assigned", "submitted")
LINK_PURPOSE = "appreview"


class ReviewInvalid(Exception):
    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


# --- the pool and the plan -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewRound:
    association: str
    plan: AssignmentPlan


def plan_reviews(s: Session, association: str, library: RulebookLibrary, as_of: date,
                 *, only: set[str] | None = None) -> ReviewRound:
    """The optimal assignment for the association's applications in review that still need reviewers
    (writes nothing): the dry run a coordinator looks at before anything is sent. Each application is
    planned for its current round; in a later round the last round's reviewers are asked again or left
    out, as the round was opened (``later_round_reviewers``)."""
    policy = policy_for(library, association, as_of)
    pool, employers = reviewer_pool(s, association, policy)
    apps = list(s.scalars(select(Application).where(Application.association_code == association,
                                                    Application.stage == STAGE).order_by(Application.id)))
    apps = [a for a in apps if only is None or a.id in only]
    settled = set(review_outcomes(s, [a.id for a in apps]))
    apps = [a for a in apps if a.id not in settled]
    rounds = current_review_rounds(s, [a.id for a in apps])
    how = dict(s.execute(select(ApplicationReviewRound.application_id, ApplicationReviewRound.reviewers)
                         .where(ApplicationReviewRound.application_id.in_([a.id for a in apps] or [""]),
                                ApplicationReviewRound.round > 1)
                         .order_by(ApplicationReviewRound.round)).all())
    existing: dict[str, frozenset] = {}
    came_off: dict[str, frozenset] = {}
    read_before: dict[str, frozenset] = {}  # the last round's reviewers who sent a review
    for app_id, reviewer_id, status, rnd in s.execute(
            select(ApplicationReviewAssignment.application_id, ApplicationReviewAssignment.reviewer_id,
                   ApplicationReviewAssignment.status, ApplicationReviewAssignment.round)
            .where(ApplicationReviewAssignment.application_id.in_([a.id for a in apps] or [""]))):
        if rnd == rounds[app_id] and status in OPEN:
            target = existing
        elif status in ("declined", "expired") or rnd == rounds[app_id]:
            target = came_off  # gave it back or let it lapse (any round), or taken off this round
        elif status == "submitted" and rnd == rounds[app_id] - 1:
            target = read_before
        else:
            continue
        target[app_id] = target.get(app_id, frozenset()) | {reviewer_id}
    by_id = {r.reviewer_id: r for r in pool}
    returning: dict[str, tuple[int, ...]] = {}
    items = []
    for app in apps:
        # Same hard conflicts as essays: raters, RS/C providers and supervisors, same employer, declared.
        blocked = (conflicts_of(s, app, employers) | came_off.get(app.id, frozenset())) - existing.get(app.id, frozenset())
        earlier = read_before.get(app.id, frozenset()) - existing.get(app.id, frozenset())
        if how.get(app.id) == "new":
            blocked |= earlier
        elif earlier:
            places = policy.reviewers_per_essay - len(existing.get(app.id, ()))
            back = [rid for rid in sorted(earlier - blocked) if rid in by_id and by_id[rid].room > 0
                    and policy.is_eligible(app.category, by_id[rid].endorsement)][:max(places, 0)]
            for rid in back:  # their place in this round is taken
                by_id[rid] = replace(by_id[rid], current_load=by_id[rid].current_load + 1)
            returning[app.id] = tuple(back)
        items.append(EssayToReview(app.id, app.category, app.applicant_id, blocked))
    on = {k: (v | frozenset(returning.get(k, ()))) & set(by_id) for k, v in existing.items()}
    on.update({k: frozenset(v) for k, v in returning.items() if v and k not in on})
    plan = assign_essays(items, list(by_id.values()), policy, existing=on)
    if any(returning.values()):
        # The reviewers asked again are new assignments of this round too: the plan lists them first.
        plan = replace(plan, assignments={app_id: tuple(returning.get(app_id, ())) + tuple(new)
                                          for app_id, new in plan.assignments.items()})
    return ReviewRound(association, plan)


def apply_reviews(s: Session, association: str, library: RulebookLibrary, *, as_of: date, secret_key: str,
                  actor: str, only: set[str] | None = None) -> ReviewRound:
    """Plan and apply in the caller's transaction: assignments, one link per reviewer, one email per
    reviewer with new applications. Re-running applies nothing twice."""
    rnd = plan_reviews(s, association, library, as_of, only=only)
    conf = settings_for(library, association, as_of)
    due = as_of + timedelta(days=int(conf["review_days"]))
    now = now_for(as_of)
    until = now + timedelta(days=int(conf["link_expiry_days"]))
    new_by_reviewer: dict[int, list[ApplicationReviewAssignment]] = {}
    rounds = current_review_rounds(s, list(rnd.plan.assignments))
    for app_id, reviewer_ids in rnd.plan.assignments.items():
        for reviewer_id in reviewer_ids:
            a = ApplicationReviewAssignment(application_id=app_id, reviewer_id=reviewer_id, round=rounds[app_id],
                                            status="assigned", due_on=due, assigned_at=now)
            s.add(a)
            s.flush()
            record_audit(s, actor=actor, action="appreview.reviewer_assigned", entity_type="application_review_assignment",
                         entity_id=a.id, application_id=app_id, reviewer_id=reviewer_id, due_on=due.isoformat(),
                         round=a.round)
            new_by_reviewer.setdefault(reviewer_id, []).append(a)
    for reviewer_id, new in new_by_reviewer.items():
        inv = _invitation_for(s, association, reviewer_id, secret_key, until, actor)
        reviewer = s.get(Person, reviewer_id)
        queue_email(s, role="appreview.assigned", to_email=reviewer.email, to_name=reviewer.name,
                    association=association, link_kind="appreview", link_ref_id=inv.id,
                    idempotency_key=f"appreview.assigned:{inv.id}:{min(a.id for a in new)}",
                    context={"reviewer_name": reviewer.name, "count": len(new), "due_on": due.isoformat(),
                             "expires_on": _aware(inv.token_expires_at).date().isoformat()})
    if rnd.plan.uncovered:
        record_audit(s, actor=actor, action="appreview.uncovered", entity_type="association", entity_id=association,
                     applications=[{"application_id": u.essay_id, "missing": u.missing, "reason": u.reason}
                                   for u in rnd.plan.uncovered])
    s.flush()
    return rnd


def apply_association(sessions: sessionmaker[Session], association: str, library: RulebookLibrary, *, as_of: date,
                      secret_key: str, actor: str) -> ReviewRound:
    with transaction(sessions) as s:
        return apply_reviews(s, association, library, as_of=as_of, secret_key=secret_key, actor=actor)


def _invitation_for(s: Session, association: str, reviewer_id: int, secret_key: str, until: datetime,
                    actor: str) -> ApplicationReviewInvitation:
    # Insert-if-absent, then lock (as ``console_link_for``): two transactions issuing the reviewer's
    # first link of this association at once share the first one's link instead of one failing on
    # the unique constraint.
    link = links.issue(secret_key, LINK_PURPOSE)
    inserted = s.execute(dialect_insert(s)(ApplicationReviewInvitation).values(
        association_code=association, reviewer_id=reviewer_id, token_nonce=link.nonce, token_hash=link.token_hash,
        token_generation=1, token_expires_at=until)
        .on_conflict_do_nothing(index_elements=["association_code", "reviewer_id"])
        .returning(ApplicationReviewInvitation.id)).scalar() is not None
    inv = s.scalars(select(ApplicationReviewInvitation).where(ApplicationReviewInvitation.association_code == association,
                                                              ApplicationReviewInvitation.reviewer_id == reviewer_id)
                    .with_for_update().execution_options(populate_existing=True)).one()
    if inserted:
        record_audit(s, actor=actor, action="appreview.link_issued", entity_type="application_review_invitation",
                     entity_id=inv.id, reviewer_id=reviewer_id, generation=1)
    elif _aware(inv.token_expires_at) < until:
        inv.token_expires_at = until  # the same link, kept open for the new applications
    return inv


def find_invitation(s: Session, token: str, as_of: date) -> ApplicationReviewInvitation:
    """The invitation behind a link (unknown, replaced and expired alike: ``LinkNotFound``)."""
    if not links.well_formed(token):
        raise LinkNotFound
    inv = s.scalars(select(ApplicationReviewInvitation)
                    .where(ApplicationReviewInvitation.token_hash == links.hash_token(token))).first()
    if inv is None or not links.matches(token, inv.token_hash) or _aware(inv.token_expires_at) < now_for(as_of):
        raise LinkNotFound
    return inv


@dataclass(frozen=True)
class ReviewerScope:
    """Whose link it is and what it opens: an application-review link opens the reviewer's applications
    of its association; the reviewer's console link (tasks/reviewer_console.py) opens all of them."""
    reviewer_id: int
    association: str | None


def find_scope(s: Session, token: str, as_of: date) -> ReviewerScope:
    try:
        inv = find_invitation(s, token, as_of)
        return ReviewerScope(inv.reviewer_id, inv.association_code)
    except LinkNotFound:
        pass
    from tasks.exam.review import find_reviewer

    scope = find_reviewer(s, token, as_of)
    if scope.sitting_id is not None:
        raise LinkNotFound  # an essay sitting's link opens that sitting's essays only
    return ReviewerScope(scope.reviewer_id, None)


def own_assignment(s: Session, scope: ReviewerScope, assignment_id: int, *,
                   for_update: bool = False) -> ApplicationReviewAssignment:
    """The reviewer's own assignment within the link's scope; anything else is ``LinkNotFound``."""
    q = (select(ApplicationReviewAssignment).join(Application)
         .where(ApplicationReviewAssignment.id == assignment_id,
                ApplicationReviewAssignment.reviewer_id == scope.reviewer_id,
                ApplicationReviewAssignment.status.in_(OPEN)))
    if scope.association is not None:
        q = q.where(Application.association_code == scope.association)
    a = s.scalars(q.with_for_update() if for_update else q).first()
    if a is None:
        raise LinkNotFound
    return a


# --- what a reviewer sends back ----------------------------------------------------------------------------


def validate_review(recommendation: str, conditions: str, requirement_ids: set[str], notes: dict[str, str],
                    question_ids: set[str], answers: dict[str, str]) -> dict[str, str]:
    errors = {}
    if recommendation not in RECOMMENDATIONS:
        errors["recommendation"] = "choose recommend, recommend with conditions, or not yet"
    if recommendation == "recommend_with_conditions" and not conditions.strip():
        errors["conditions"] = "say which conditions"
    for rid in notes:
        if rid not in requirement_ids:
            errors[f"note:{rid}"] = "not a requirement of this application"
    for qid, value in answers.items():
        if qid not in question_ids:
            errors[f"answer:{qid}"] = "not an open question of this application"
        elif value not in ("", "accepted", "not_accepted"):
            errors[f"answer:{qid}"] = "answer accepted or not accepted"
    return errors


def submit_review(sessions: sessionmaker[Session], token: str, assignment_id: int, library: RulebookLibrary, *,
                  as_of: date, recommendation: str, conditions: str, notes: dict[str, str], answers: dict[str, str],
                  requirement_ids: set[str], question_ids: set[str]) -> tuple[str, str]:
    """Record one review (one transaction, audited) and settle the round if it can be. Returns the
    round's state ("waiting", "disagreement" or the outcome) and the application id."""
    errors = validate_review(recommendation, conditions, requirement_ids, notes, question_ids, answers)
    if errors:
        raise ReviewInvalid(errors)
    with transaction(sessions) as s:
        a = own_assignment(s, find_scope(s, token, as_of), assignment_id, for_update=True)
        if a.status == "submitted":
            raise AlreadySubmitted
        a.status = "submitted"
        s.add(ApplicationReview(assignment_id=a.id, recommendation=recommendation,
                                conditions=conditions.strip() or None,
                                requirement_notes={k: v.strip() for k, v in notes.items() if v.strip()},
                                question_answers={k: v for k, v in answers.items() if v},
                                submitted_at=now_for(as_of)))
        s.flush()
        record_audit(s, actor=f"reviewer:{a.reviewer_id}", action="appreview.submitted",
                     entity_type="application_review_assignment", entity_id=a.id, application_id=a.application_id,
                     recommendation=recommendation)
        return settle_round(s, a.application_id, library, as_of=as_of), a.application_id


def decline_review(sessions: sessionmaker[Session], token: str, assignment_id: int, library: RulebookLibrary, *,
                   as_of: date, secret_key: str, reason: str) -> str:
    """The reviewer gives the application back; only it is reassigned, in the same transaction."""
    with transaction(sessions) as s:
        a = own_assignment(s, find_scope(s, token, as_of), assignment_id, for_update=True)
        if a.status == "submitted":
            raise AlreadySubmitted
        a.status, a.ended_reason = "declined", (reason.strip()[:2000] or "declined")
        record_audit(s, actor=f"reviewer:{a.reviewer_id}", action="appreview.declined",
                     entity_type="application_review_assignment", entity_id=a.id, application_id=a.application_id,
                     reason=a.ended_reason)
        s.flush()
        apply_reviews(s, s.get(Application, a.application_id).association_code, library, as_of=as_of,
                      secret_key=secret_key, actor="system", only={a.application_id})
        return a.application_id


def settle_round(s: Session, application_id: str, library: RulebookLibrary, *, as_of: date) -> str:
    """Two (the association's number) agreeing reviewers settle the round; a disagreement goes to the
    coordinator, who is emailed and records the outcome (``record_coordinator_outcome``)."""
    if application_id in review_outcomes(s, [application_id]):
        return review_outcomes(s, [application_id])[application_id]
    app = s.get(Application, application_id)
    wanted = reviewers_wanted(library, app.association_code, as_of)
    rnd = current_review_rounds(s, [app.id])[app.id]
    reviews = list(s.scalars(select(ApplicationReview).join(ApplicationReviewAssignment)
                             .where(ApplicationReviewAssignment.application_id == application_id,
                                    ApplicationReviewAssignment.round == rnd,
                                    ApplicationReviewAssignment.status == "submitted")
                             .order_by(ApplicationReview.id)))
    if len(reviews) < wanted:
        return "waiting"
    counts = Counter(r.recommendation for r in reviews)
    if len(counts) > 1:
        assoc = s.get(Association, app.association_code)
        queued = queue_email(s, role="coordinator.appreview_disagreement", to_email=assoc.coordinator_email,
                             to_name=assoc.coordinator_name, association=assoc.code, application_id=app.id,
                             idempotency_key=f"appreview.disagreement:{app.id}" + (f":round{rnd}" if rnd > 1 else ""),
                             context={"application_id": app.id, "category": app.category,
                                      "recommendations": [r.replace("_", " ") for r in sorted(counts)]})
        if queued.new:
            record_audit(s, actor="system", action="appreview.disagreement", entity_type="application",
                         entity_id=app.id, application_id=app.id, recommendations=dict(counts), round=rnd)
        return "disagreement"
    outcome = reviews[0].recommendation
    conditions = "; ".join(r.conditions for r in reviews if r.conditions) or None
    _record_outcome(s, app, outcome, conditions=conditions, settled_by="reviewers", note=None, as_of=as_of,
                    actor="system")
    return outcome


def _record_outcome(s: Session, app: Application, outcome: str, *, conditions: str | None, settled_by: str,
                    note: str | None, as_of: date, actor: str) -> None:
    rnd = current_review_rounds(s, [app.id])[app.id]
    s.add(ApplicationReviewOutcome(application_id=app.id, round=rnd, outcome=outcome, conditions=conditions,
                                   settled_by=settled_by, note=note, settled_on=as_of))
    # The open assignments of a settled round are no longer needed.
    s.execute(update(ApplicationReviewAssignment).where(ApplicationReviewAssignment.application_id == app.id,
                                                        ApplicationReviewAssignment.status == "assigned")
              .values(status="cancelled", ended_reason="the round was settled"))
    app.needs_reconcile = True
    s.flush()
    record_audit(s, actor=actor, action="appreview.settled", entity_type="application", entity_id=app.id,
                 application_id=app.id, outcome=outcome, settled_by=settled_by, conditions=conditions, note=note,
                 round=rnd)


class NotInReview(ValueError):
    pass


def record_coordinator_outcome(sessions: sessionmaker[Session], application_id: str, *, outcome: str, note: str,
                               conditions: str = "", on: date, actor: str, association: str | None = None) -> None:
    """The coordinator's determination after the reviewers disagreed (or when too few could be found):
    the outcome and why, one transaction, audited; the reconcile then moves the application."""
    if outcome not in RECOMMENDATIONS:
        raise ValueError(f"outcome: must be one of {', '.join(RECOMMENDATIONS)}, not {outcome!r}")
    if not note.strip():
        raise ValueError("note: say why (the reviewers' answers are on the application page)")
    if outcome == "recommend_with_conditions" and not conditions.strip():
        raise ValueError("conditions: say which conditions")
    with transaction(sessions) as s:
        app = s.get(Application, application_id)
        if app is None or (association is not None and app.association_code != association):
            raise LookupError(f"no application {application_id!r}")
        if app.stage != STAGE:
            raise NotInReview(f"application {application_id} is not in application review (stage {app.stage})")
        if application_id in review_outcomes(s, [application_id]):
            return  # already settled: running it again changes nothing
        _record_outcome(s, app, outcome, conditions=conditions.strip() or None, settled_by=actor, note=note.strip(),
                        as_of=on, actor=actor)


# --- the daily check -------------------------------------------------------------------------------------


def remind_reviewers(sessions: sessionmaker[Session], library: RulebookLibrary, *, as_of: date) -> int:
    """One reminder per reviewer and association on the rulebook's days before the due date (the
    outbox key makes a re-run queue nothing twice)."""
    sent = 0
    with transaction(sessions) as s:
        rows = s.execute(select(ApplicationReviewAssignment.reviewer_id, ApplicationReviewAssignment.due_on,
                                Application.association_code, func.count())
                         .join(Application, Application.id == ApplicationReviewAssignment.application_id)
                         .where(ApplicationReviewAssignment.status == "assigned",
                                ApplicationReviewAssignment.due_on >= as_of)
                         .group_by(ApplicationReviewAssignment.reviewer_id, ApplicationReviewAssignment.due_on,
                                   Application.association_code)).all()
        now = now_for(as_of)
        for reviewer_id, due_on, association, count in rows:
            days_left = (due_on - as_of).days
            if days_left not in settings_for(library, association, as_of)["reminder_days_before_due"]:
                continue
            inv = s.scalars(select(ApplicationReviewInvitation).where(
                ApplicationReviewInvitation.association_code == association,
                ApplicationReviewInvitation.reviewer_id == reviewer_id)).first()
            if inv is None or _aware(inv.token_expires_at) <= now:
                continue
            reviewer = s.get(Person, reviewer_id)
            queued = queue_email(s, role="appreview.reminder", to_email=reviewer.email, to_name=reviewer.name,
                                 association=association, link_kind="appreview", link_ref_id=inv.id,
                                 idempotency_key=f"appreview.reminder:{inv.id}:{due_on.isoformat()}:d{days_left}",
                                 context={"reviewer_name": reviewer.name, "count": count, "due_on": due_on.isoformat(),
                                          "days_left": days_left})
            if queued.new:
                record_audit(s, actor="system", action="appreview.reminded", entity_type="application_review_invitation",
                             entity_id=inv.id, reviewer_id=reviewer_id, applications=count, days_left=days_left)
                sent += 1
    return sent


def expire_overdue_reviews(sessions: sessionmaker[Session], library: RulebookLibrary, *, as_of: date,
                           secret_key: str) -> int:
    """Assignments past their due date are taken back (``UPDATE … WHERE still assigned``) and only
    those applications reassigned; one transaction per association."""
    with sessions() as s:
        overdue = s.execute(select(ApplicationReviewAssignment.id, Application.association_code)
                            .join(Application, Application.id == ApplicationReviewAssignment.application_id)
                            .where(ApplicationReviewAssignment.status == "assigned",
                                   ApplicationReviewAssignment.due_on < as_of)).all()
    by_association: dict[str, list[int]] = {}
    for assignment_id, association in overdue:
        by_association.setdefault(association, []).append(assignment_id)
    expired = 0
    for association, ids in by_association.items():
        with transaction(sessions) as s:
            apps = set()
            for assignment_id in ids:
                taken = s.execute(update(ApplicationReviewAssignment)
                                  .where(ApplicationReviewAssignment.id == assignment_id,
                                         ApplicationReviewAssignment.status == "assigned")
                                  .values(status="expired", ended_reason="not reviewed by the due date")
                                  .returning(ApplicationReviewAssignment.application_id,
                                             ApplicationReviewAssignment.reviewer_id)).first()
                if taken is None:
                    continue
                apps.add(taken.application_id)
                record_audit(s, actor="system", action="appreview.expired", entity_type="application_review_assignment",
                             entity_id=assignment_id, application_id=taken.application_id, reviewer_id=taken.reviewer_id)
                expired += 1
            s.flush()
            if apps:
                apply_reviews(s, association, library, as_of=as_of, secret_key=secret_key, actor="system", only=apps)
    return expired
