"""Essay review after the plan: assignments, reviewer links and emails, the reviewer's pages, reviews,
settling an essay (a third reviewer when two disagree), reassignment after a decline or a missed due
date, and the candidate's feedback letter.

Blindness is built into what leaves this module: a reviewer's email carries counts, tracks and a
due date; a reviewer's page carries candidate codes, tracks, essay texts and the rubric. Nothing here
hands a reviewer a name, an email address or an employer (tests/exam/test_blind_review.py checks
every page and email a reviewer can reach). The feedback letter quotes comments as "Reviewer 1, 2…".

Why one module of ~550 lines: everything a reviewer can reach passes through here, so the blindness
guarantee above is checked against one file; splitting the reviewer's side from the settling and the
letter would spread that guarantee over modules that each look harmless on their own.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from endorse import links
from endorse.clock import now_for
from endorse.db import dialect_insert, transaction
from endorse.rulebook import RulebookLibrary
from models import (
    Application,
    Association,
    Essay,
    ExamAttempt,
    ExamSitting,
    Person,
    Review,
    ReviewAssignment,
    ReviewerConsoleLink,
    ReviewInvitation,
    record_audit,
)
from tasks.exam.sitting_plan import EssayRound, plan_sitting
from tasks.mail.outbox import queue_email
from tasks.references.ratings import AlreadySubmitted, LinkNotFound

# Statuses of an assignment a reviewer can still act on or has finished.
VISIBLE = ("assigned", "submitted")
# The HMAC purpose of a reviewer's console link (the outbox's link kind "reviewer").
CONSOLE_LINK_PURPOSE = "reviewer"


class ReviewInvalid(Exception):
    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


# --- applying a round ----------------------------------------------------------------------------------


def apply_round(s: Session, sitting_id: int, library: RulebookLibrary, *, as_of: date, secret_key: str, actor: str,
                only_essays: set[int] | None = None, notify_uncovered: bool = False) -> EssayRound:
    """Plan and apply, in the caller's transaction: new assignments, a link per reviewer and sitting,
    one email per reviewer with new essays. Re-running applies nothing twice (assigned reviewers are
    in the plan's ``existing``)."""
    rnd = plan_sitting(s, sitting_id, library, as_of, only_essays=only_essays)
    sitting = rnd.sitting
    due = as_of + timedelta(days=int(library.setting(sitting.association_code, "essay_review_days", as_of)))
    now = now_for(as_of)
    link_until = now + timedelta(days=int(library.setting(sitting.association_code, "review_link_expiry_days", as_of)))
    rounds = dict(s.execute(select(ReviewAssignment.essay_id, func.max(ReviewAssignment.round))
                            .where(ReviewAssignment.essay_id.in_(list(rnd.plan.assignments) or [-1]))
                            .group_by(ReviewAssignment.essay_id)).all())
    new_by_reviewer: dict[int, list[ReviewAssignment]] = {}
    for essay_id, reviewer_ids in rnd.plan.assignments.items():
        essay = s.get(Essay, essay_id)
        for reviewer_id in reviewer_ids:
            a = ReviewAssignment(essay_id=essay_id, reviewer_id=reviewer_id, round=rounds.get(essay_id, 0) + 1,
                                 status="assigned", due_on=due, assigned_at=now)
            s.add(a)
            s.flush()
            attempt = s.get(ExamAttempt, essay.attempt_id)
            record_audit(s, actor=actor, action="exam.reviewer_assigned", entity_type="review_assignment",
                         entity_id=a.id, application_id=attempt.application_id, essay_id=essay_id,
                         reviewer_id=reviewer_id, round=a.round, due_on=due.isoformat())
            new_by_reviewer.setdefault(reviewer_id, []).append(a)
    for reviewer_id, new in new_by_reviewer.items():
        # The email carries the reviewer's console link: one link to all their essays, every sitting.
        console, _ = console_link_for(s, reviewer_id, secret_key, link_until, actor)
        reviewer = s.get(Person, reviewer_id)
        tracks = sorted({s.get(Essay, a.essay_id).track for a in new})
        queue_email(s, role="review.assigned", to_email=reviewer.email, to_name=reviewer.name,
                    association=sitting.association_code, link_kind="reviewer", link_ref_id=console.id,
                    idempotency_key=f"review.assigned:console:{console.id}:{min(a.id for a in new)}",
                    context={"reviewer_name": reviewer.name, "count": len(new), "sitting_name": sitting.name,
                             "tracks": [library.category_info(t)["name"] for t in tracks],
                             "third_reviewer": any(a.round > 1 and s.get(Essay, a.essay_id).reviewers_needed > 2
                                                   for a in new),
                             "due_on": due.isoformat(),
                             "expires_on": _aware(console.token_expires_at).date().isoformat()})
    if rnd.plan.uncovered:
        codes = [(rnd.candidate_codes[u.essay_id], u.missing, u.reason) for u in rnd.plan.uncovered]
        record_audit(s, actor=actor, action="exam.essays_uncovered", entity_type="exam_sitting", entity_id=sitting_id,
                     essays=[{"candidate_code": c, "missing": m, "reason": r} for c, m, r in codes])
        if notify_uncovered:
            assoc = s.get(Association, sitting.association_code)
            key = hashlib.sha256(repr(sorted(codes)).encode()).hexdigest()[:16]
            queue_email(s, role="coordinator.essays_uncovered", to_email=assoc.coordinator_email,
                        to_name=assoc.coordinator_name, association=assoc.code,
                        idempotency_key=f"essays_uncovered:{sitting_id}:{as_of.isoformat()}:{key}",
                        context={"sitting_name": sitting.name, "essays": [
                            {"candidate_code": c, "missing": m, "reason": r} for c, m, r in codes]})
    # What the dry run showed about this round stays on record with the round that was applied.
    if rnd.plan.without_preferred:
        record_audit(s, actor=actor, action="exam.essays_without_preferred_reviewer", entity_type="exam_sitting",
                     entity_id=sitting_id, essays=[{"candidate_code": rnd.candidate_codes[w.essay_id], "reason": w.reason}
                                                   for w in rnd.plan.without_preferred])
    if rnd.plan.short_of_minimum:
        record_audit(s, actor=actor, action="exam.minimum_loads_not_met", entity_type="exam_sitting",
                     entity_id=sitting_id, reviewers=[{"reviewer_id": m.reviewer_id, "missing": m.missing,
                                                       "reason": m.reason} for m in rnd.plan.short_of_minimum])
    s.flush()
    return rnd


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def console_link_for(s: Session, reviewer_id: int, secret_key: str, until: datetime, actor: str, *,
                     regenerate: bool = False) -> tuple[ReviewerConsoleLink, str]:
    """The reviewer's console link (tasks/reviewer_console.py), in the caller's transaction: issued the
    first time, kept open at least ``until`` after that, or with ``regenerate`` a new nonce (the old
    link stops working). Only the nonce and the token's hash are stored. Returns the row and
    "issued", "replaced" or "kept"."""
    # Insert-if-absent first, then lock: two transactions issuing the same reviewer's first link at
    # once (two coordinators, or a coordinator and the sweep) both see no row under a plain SELECT …
    # FOR UPDATE and one would fail on the unique reviewer_id; with ON CONFLICT DO NOTHING the second
    # waits for the first to commit and then keeps the link the first issued.
    link = links.issue(secret_key, CONSOLE_LINK_PURPOSE)
    inserted = s.execute(dialect_insert(s)(ReviewerConsoleLink).values(
        reviewer_id=reviewer_id, token_nonce=link.nonce, token_hash=link.token_hash, token_generation=1,
        token_expires_at=until)
        .on_conflict_do_nothing(index_elements=["reviewer_id"])
        .returning(ReviewerConsoleLink.id)).scalar() is not None
    row = s.scalars(select(ReviewerConsoleLink).where(ReviewerConsoleLink.reviewer_id == reviewer_id)
                    .with_for_update().execution_options(populate_existing=True)).one()
    if inserted:
        outcome = "issued"
    elif not regenerate:
        if _aware(row.token_expires_at) < until:
            row.token_expires_at = until  # the same link, kept open for the new essays
        return row, "kept"
    else:
        outcome = "replaced"
        row.token_nonce, row.token_hash = link.nonce, link.token_hash
        row.token_generation += 1
        row.token_expires_at = until
    s.flush()
    record_audit(s, actor=actor, action="exam.console_link_issued", entity_type="reviewer_console_link",
                 entity_id=row.id, reviewer_id=reviewer_id, generation=row.token_generation, outcome=outcome)
    return row, outcome


def apply_sitting(sessions: sessionmaker[Session], sitting_id: int, library: RulebookLibrary, *, as_of: date,
                  secret_key: str, actor: str) -> EssayRound:
    """The coordinator applies the plan they saw in the dry run (recomputed inside the transaction,
    so it reflects the database at this moment)."""
    with transaction(sessions) as s:
        return apply_round(s, sitting_id, library, as_of=as_of, secret_key=secret_key, actor=actor)


def regenerate_review_link(sessions: sessionmaker[Session], sitting_id: int, reviewer_id: int, library: RulebookLibrary,
                           *, as_of: date, secret_key: str, actor: str) -> None:
    """A new link for one sitting (the old one stops working) and an email with it: only for the sitting
    links emailed before assignment emails carried the reviewer's console link (``console_link_for``)."""
    with transaction(sessions) as s:
        inv = s.scalars(select(ReviewInvitation).where(ReviewInvitation.sitting_id == sitting_id,
                                                       ReviewInvitation.reviewer_id == reviewer_id)).first()
        if inv is None:
            raise LookupError(f"reviewer {reviewer_id} has no link of its own for sitting {sitting_id}: their emails carry "
                              f"their console link; send a new one with: endorse exam reviewer-console {reviewer_id} "
                              "--regenerate")
        sitting = s.get(ExamSitting, sitting_id)
        days = int(library.setting(sitting.association_code, "review_link_expiry_days", as_of))
        link = links.issue(secret_key, "review")
        inv.token_nonce, inv.token_hash = link.nonce, link.token_hash
        inv.token_generation += 1
        inv.token_expires_at = now_for(as_of) + timedelta(days=days)
        reviewer = s.get(Person, reviewer_id)
        open_count = s.scalar(select(func.count()).select_from(ReviewAssignment).join(Essay).join(ExamAttempt).where(
            ReviewAssignment.reviewer_id == reviewer_id, ReviewAssignment.status == "assigned",
            ExamAttempt.sitting_id == sitting_id))
        queue_email(s, role="review.new_link", to_email=reviewer.email, to_name=reviewer.name,
                    association=sitting.association_code, link_kind="review", link_ref_id=inv.id,
                    idempotency_key=f"review.new_link:{inv.id}:{inv.token_generation}",
                    context={"reviewer_name": reviewer.name, "sitting_name": sitting.name, "count": open_count,
                             "expires_on": _aware(inv.token_expires_at).date().isoformat()})
        record_audit(s, actor=actor, action="exam.review_link_regenerated", entity_type="review_invitation",
                     entity_id=inv.id, sitting_id=sitting_id, reviewer_id=reviewer_id, generation=inv.token_generation)


# --- the reviewer's pages --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsoleRow:
    """One line of a reviewer's console (tasks/reviewer_console.py): defined here, below every kind
    of assignment that lists its own rows."""
    kind: str  # "essay"; another source adds its own
    title: str  # "Essay K7QF-3M2P"
    detail: str  # what it is about, e.g. the track
    where: str  # association · sitting
    due_on: date | None
    status: str  # to_review | draft | reviewed
    path: str  # relative to the link: "essay/17"


@dataclass(frozen=True)
class ReviewerScope:
    """Whose a reviewer link is and what it opens: one sitting (the link of an assignment email) or,
    for the reviewer's console link (``sitting_id`` None), everything assigned to them."""
    reviewer_id: int
    sitting_id: int | None

    @property
    def actor(self) -> str:
        return f"reviewer:{self.reviewer_id}"


@dataclass(frozen=True)
class Criterion:
    key: str
    title: str
    guide: str


@dataclass(frozen=True)
class EssayPage:
    assignment_id: int
    candidate_code: str
    track_name: str
    sitting_name: str
    association_name: str
    due_on: date | None
    prompt: str | None  # the exam's vignette for the track, when the coordinator recorded it
    text: str
    criteria: tuple[Criterion, ...]
    scale: dict
    status: str
    submitted: dict | None  # the reviewer's own review once sent: scores, recommendation, comments, confidential
    draft: dict | None  # what they saved without submitting
    editable: bool  # a submitted review can be changed until the due date, while the essay is unsettled


def find_reviewer(s: Session, token: str, as_of: date) -> ReviewerScope:
    """The reviewer behind a link, sitting or console (unknown, replaced and expired links alike:
    ``LinkNotFound``). Tokens are HMACs with the link's purpose, so one kind never opens as the other."""
    if not links.well_formed(token):
        raise LinkNotFound
    digest, now = links.hash_token(token), now_for(as_of)
    inv = s.scalars(select(ReviewInvitation).where(ReviewInvitation.token_hash == digest)).first()
    if inv is not None and links.matches(token, inv.token_hash) and _aware(inv.token_expires_at) >= now:
        return ReviewerScope(inv.reviewer_id, inv.sitting_id)
    console = s.scalars(select(ReviewerConsoleLink).where(ReviewerConsoleLink.token_hash == digest)).first()
    if console is not None and links.matches(token, console.token_hash) and _aware(console.token_expires_at) >= now:
        return ReviewerScope(console.reviewer_id, None)
    raise LinkNotFound


def essays_in_scope(s: Session, scope: ReviewerScope):
    """The reviewer's visible essay assignments (sitting, due date, id order): rows of
    (assignment, track, candidate code, sitting)."""
    query = (select(ReviewAssignment, Essay.track, ExamAttempt.candidate_code, ExamSitting)
             .join(Essay, Essay.id == ReviewAssignment.essay_id)
             .join(ExamAttempt, ExamAttempt.id == Essay.attempt_id)
             .join(ExamSitting, ExamSitting.id == ExamAttempt.sitting_id)
             .where(ReviewAssignment.reviewer_id == scope.reviewer_id, ReviewAssignment.status.in_(VISIBLE))
             .order_by(ReviewAssignment.due_on, ExamSitting.id, ReviewAssignment.id))
    if scope.sitting_id is not None:
        query = query.where(ExamAttempt.sitting_id == scope.sitting_id)
    return s.execute(query).all()


def _own_assignment(s: Session, scope: ReviewerScope, assignment_id: int, *, for_update: bool = False
                    ) -> tuple[ReviewAssignment, Essay, ExamAttempt]:
    """The assignment, only if it is this reviewer's, within the link's scope, and still theirs to see."""
    query = select(ReviewAssignment).where(ReviewAssignment.id == assignment_id)
    if for_update:  # two submissions of the same review queue here; the second sees 'submitted'
        query = query.with_for_update()
    a = s.scalars(query).first()
    if a is None or a.reviewer_id != scope.reviewer_id or a.status not in VISIBLE:
        raise LinkNotFound
    essay = s.get(Essay, a.essay_id)
    attempt = s.get(ExamAttempt, essay.attempt_id)
    if scope.sitting_id is not None and attempt.sitting_id != scope.sitting_id:
        raise LinkNotFound
    return a, essay, attempt


def rubric_for(library: RulebookLibrary, association: str, track: str, as_of: date) -> tuple[tuple[Criterion, ...], dict]:
    rubric = library.setting(association, "essay_rubric", as_of)
    return tuple(Criterion(c["key"], c["title"], c["guide"]) for c in rubric["tracks"][track]), rubric["scale"]


def _editable(a: ReviewAssignment, attempt: ExamAttempt, as_of: date) -> bool:
    """Open to change: before the due date and while the essay has no result (once settled, the
    candidate's letter may already quote the comments)."""
    return (a.due_on is None or as_of <= a.due_on) and attempt.essay_result not in ("pass", "fail")


def essay_page(s: Session, scope: ReviewerScope, assignment_id: int, library: RulebookLibrary, as_of: date) -> EssayPage:
    a, essay, attempt = _own_assignment(s, scope, assignment_id)
    sitting = s.get(ExamSitting, attempt.sitting_id)
    criteria, scale = rubric_for(library, sitting.association_code, essay.track, as_of)
    review = s.scalars(select(Review).where(Review.assignment_id == a.id)).first()
    return EssayPage(a.id, attempt.candidate_code, library.category_info(essay.track)["name"], sitting.name,
                     s.get(Association, sitting.association_code).name, a.due_on,
                     (sitting.essay_prompts or {}).get(essay.track), essay.text, criteria, scale, a.status,
                     None if review is None else {"scores": review.scores, "recommendation": review.recommendation,
                                                  "comments": review.comments,
                                                  "confidential": review.confidential_comment},
                     a.draft if a.status == "assigned" else None, _editable(a, attempt, as_of))


def next_to_review(s: Session, scope: ReviewerScope, after_assignment_id: int) -> int | None:
    """The next essay still to review in the link's list (wrapping round), for "save and next"."""
    waiting = [a.id for a, *_ in essays_in_scope(s, scope) if a.status == "assigned"]
    later = [i for i in waiting if i != after_assignment_id]
    if not later:
        return None
    order = [a.id for a, *_ in essays_in_scope(s, scope)]
    pos = order.index(after_assignment_id) if after_assignment_id in order else -1
    return next((i for i in order[pos + 1:] if i in later), later[0])


MAX_COMMENT = 10_000


def validate_review(criteria: tuple[Criterion, ...], scale: dict, scores: dict[str, str], recommendation: str,
                    comments: str, confidential: str = "") -> tuple[dict[str, int], dict[str, str]]:
    """Form values → scores, with field errors in plain words."""
    errors: dict[str, str] = {}
    allowed = range(int(scale["min"]), int(scale["max"]) + 1)
    clean: dict[str, int] = {}
    keys = {c.key for c in criteria}
    for k in scores:
        if k not in keys:
            errors[k] = "not a criterion of this rubric"
    for c in criteria:
        raw = (scores.get(c.key) or "").strip()
        if raw not in {str(v) for v in allowed}:  # not isdigit(): "²" is a digit that int() refuses
            errors[c.key] = f"score “{c.title}” from {scale['min']} to {scale['max']}"
        else:
            clean[c.key] = int(raw)
    if recommendation not in ("pass", "fail"):
        errors["recommendation"] = "recommend pass or fail"
    if not comments.strip():
        errors["comments"] = "write a comment: it is quoted to the candidate (without your name)"
    elif len(comments) > MAX_COMMENT:
        errors["comments"] = "keep comments under 10,000 characters"
    if len(confidential) > MAX_COMMENT:
        errors["confidential"] = "keep the note to the coordinator under 10,000 characters"
    return clean, errors


def save_review_draft(sessions: sessionmaker[Session], scope: ReviewerScope, assignment_id: int, *, as_of: date,
                      scores: dict[str, str], recommendation: str, comments: str, confidential: str) -> None:
    """Keep what the reviewer has so far, unchecked (a draft may be half done). Audited; a draft of a
    submitted review is refused (``AlreadySubmitted``): a change to it goes through ``submit_review``."""
    with transaction(sessions) as s:
        a, _essay, attempt = _own_assignment(s, scope, assignment_id, for_update=True)
        if a.status == "submitted":
            raise AlreadySubmitted
        a.draft = {"scores": {k[:64]: v[:8] for k, v in scores.items()}, "recommendation": recommendation[:8],
                   "comments": comments[:MAX_COMMENT], "confidential": confidential[:MAX_COMMENT]}
        a.draft_saved_at = now_for(as_of)
        record_audit(s, actor=scope.actor, action="exam.review_draft_saved", entity_type="review_assignment",
                     entity_id=a.id, application_id=attempt.application_id)


def submit_review(sessions: sessionmaker[Session], scope: ReviewerScope, assignment_id: int, library: RulebookLibrary,
                  *, as_of: date, secret_key: str, scores: dict[str, str], recommendation: str, comments: str,
                  confidential: str = "") -> tuple[str, str]:
    """Store a review (or change a submitted one before the due date, while the essay is unsettled)
    and settle the essay if it can be settled. Returns the essay's state afterwards — 'pass' / 'fail'
    (settled), 'third_reviewer' (disagreement: one more reviewer assigned), 'waiting' — and the
    application id (for the caller to trigger a reconcile, never to show)."""
    with transaction(sessions) as s:
        a, essay, attempt = _own_assignment(s, scope, assignment_id, for_update=True)
        if a.status == "submitted" and not _editable(a, attempt, as_of):
            raise AlreadySubmitted
        sitting = s.get(ExamSitting, attempt.sitting_id)
        criteria, scale = rubric_for(library, sitting.association_code, essay.track, as_of)
        clean, errors = validate_review(criteria, scale, scores, recommendation, comments, confidential)
        if errors:
            raise ReviewInvalid(errors)
        review = s.scalars(select(Review).where(Review.assignment_id == a.id)).first()
        if review is None:
            review = Review(assignment_id=a.id, submitted_at=now_for(as_of))
            s.add(review)
            action = "exam.review_submitted"
        else:
            review.edited_at = now_for(as_of)
            action = "exam.review_edited"
        review.scores, review.recommendation = clean, recommendation
        review.comments, review.confidential_comment = comments.strip(), (confidential.strip() or None)
        a.status, a.draft, a.draft_saved_at = "submitted", None, None
        record_audit(s, actor=scope.actor, action=action, entity_type="review_assignment", entity_id=a.id,
                     application_id=attempt.application_id, recommendation=recommendation,
                     confidential_comment=review.confidential_comment is not None)
        s.flush()
        return settle_essay(s, essay, library, as_of=as_of, secret_key=secret_key), attempt.application_id


def decline_review(sessions: sessionmaker[Session], scope: ReviewerScope, assignment_id: int, library: RulebookLibrary,
                   *, as_of: date, secret_key: str, reason: str) -> None:
    """A reviewer gives an essay back (a conflict they noticed, no time): only that essay is
    reassigned. The reason is required: the coordinator acts on it."""
    with transaction(sessions) as s:
        a, essay, attempt = _own_assignment(s, scope, assignment_id, for_update=True)
        if a.status == "submitted":
            raise AlreadySubmitted
        if not reason.strip():
            raise ReviewInvalid({"declined_reason": "say why you give the essay back: the coordinator acts on it"})
        a.status, a.ended_reason = "declined", reason.strip()[:2000]
        record_audit(s, actor=scope.actor, action="exam.review_declined",
                     entity_type="review_assignment", entity_id=a.id, application_id=attempt.application_id,
                     reason=a.ended_reason)
        s.flush()
        apply_round(s, attempt.sitting_id, library, as_of=as_of, secret_key=secret_key, actor="system",
                    only_essays={essay.id}, notify_uncovered=True)

def settle_essay(s: Session, essay: Essay, library: RulebookLibrary, *, as_of: date, secret_key: str) -> str:
    """Agreeing reviewers settle the essay; a disagreement brings one more reviewer (rulebook:
    essay_decision), and then the majority decides."""
    attempt = s.get(ExamAttempt, essay.attempt_id)
    if attempt.essay_result in ("pass", "fail"):
        return attempt.essay_result
    recs = list(s.scalars(select(Review.recommendation).join(ReviewAssignment)
                          .where(ReviewAssignment.essay_id == essay.id, ReviewAssignment.status == "submitted")))
    if len(recs) < essay.reviewers_needed:
        return "waiting"
    counts = Counter(recs)
    top, top_n = counts.most_common(1)[0]
    settled = len(counts) == 1 or (top_n * 2 > len(recs) and len(recs) > _base_reviewers(s, essay, library, as_of))
    if not settled:
        add = int(library.setting(s.get(ExamSitting, attempt.sitting_id).association_code, "essay_decision",
                                  as_of)["on_disagreement_add"])
        essay.reviewers_needed += add
        record_audit(s, actor="system", action="exam.essay_disagreement", entity_type="essay", entity_id=essay.id,
                     application_id=attempt.application_id, recommendations=dict(counts),
                     reviewers_needed=essay.reviewers_needed)
        s.flush()
        apply_round(s, attempt.sitting_id, library, as_of=as_of, secret_key=secret_key, actor="system",
                    only_essays={essay.id}, notify_uncovered=True)
        return "third_reviewer"
    attempt.essay_result = top
    attempt.taken_on = attempt.taken_on or s.get(ExamSitting, attempt.sitting_id).closes_on
    app = s.get(Application, attempt.application_id)
    app.needs_reconcile = True
    record_audit(s, actor="system", action="exam.essay_settled", entity_type="essay", entity_id=essay.id,
                 application_id=app.id, result=top, recommendations=dict(counts))
    send_exam_feedback(s, attempt)
    return top


def _base_reviewers(s: Session, essay: Essay, library: RulebookLibrary, as_of: date) -> int:
    sitting = s.get(ExamSitting, s.get(ExamAttempt, essay.attempt_id).sitting_id)
    return int(library.setting(sitting.association_code, "essay_review_policy", as_of)["reviewers_per_essay"])


def notes_to_coordinator(s: Session, attempt_id: int) -> list[str]:
    """What the reviewers of an attempt's essay wrote for the coordinator only, in review order; for the
    coordinator's application page, never for the candidate's letter."""
    return [c for c in s.scalars(select(Review.confidential_comment).join(ReviewAssignment)
                                 .join(Essay, Essay.id == ReviewAssignment.essay_id)
                                 .where(Essay.attempt_id == attempt_id, ReviewAssignment.status == "submitted")
                                 .order_by(Review.submitted_at, Review.id)) if c]


def send_exam_feedback(s: Session, attempt: ExamAttempt) -> bool:
    """Once both parts have a result, the candidate's feedback letter: both results and the reviewers'
    comments, numbered, never named. Idempotent (one letter per attempt)."""
    if attempt.multiple_choice_percent is None or attempt.essay_result not in ("pass", "fail"):
        return False
    essay = s.scalars(select(Essay).where(Essay.attempt_id == attempt.id)).first()
    comments = [] if essay is None else list(s.scalars(
        select(Review.comments).join(ReviewAssignment).where(ReviewAssignment.essay_id == essay.id,
                                                            ReviewAssignment.status == "submitted")
        .order_by(Review.submitted_at, Review.id)))
    app = s.get(Application, attempt.application_id)
    sitting = s.get(ExamSitting, attempt.sitting_id) if attempt.sitting_id else None
    pass_mark = float(sitting.pass_mark_percent) if sitting else None
    mc = float(attempt.multiple_choice_percent)
    queue_email(s, role="exam.feedback", to_email=app.applicant.email, to_name=app.applicant_name,
                association=app.association_code, application_id=app.id,
                idempotency_key=f"exam.feedback:{attempt.id}",
                context={"applicant_name": app.applicant_name, "sitting_name": sitting.name if sitting else "",
                         "multiple_choice_percent": f"{mc:g}", "pass_mark": "" if pass_mark is None else f"{pass_mark:g}",
                         "multiple_choice_passed": pass_mark is None or mc >= pass_mark,
                         "essay_passed": attempt.essay_result == "pass",
                         "comments": [c for c in comments if c]})
    record_audit(s, actor="system", action="exam.feedback_queued", entity_type="exam_attempt", entity_id=attempt.id,
                 application_id=app.id)
    return True


# --- the daily check -------------------------------------------------------------------------------------


def remind_reviewers(sessions: sessionmaker[Session], library: RulebookLibrary, *, as_of: date) -> int:
    """A reviewer with essays still to review is reminded on the rulebook's days before the due date:
    one email per reviewer and sitting however many essays are waiting, with their console link.
    Safe to re-run: the outbox key names the console link, the sitting, the due date and the day. Returns how many
    reminders were queued."""
    sent = 0
    with transaction(sessions) as s:
        rows = s.execute(select(ReviewAssignment.reviewer_id, ReviewAssignment.due_on, ExamAttempt.sitting_id,
                                func.count())
                         .join(Essay, Essay.id == ReviewAssignment.essay_id)
                         .join(ExamAttempt, ExamAttempt.id == Essay.attempt_id)
                         .where(ReviewAssignment.status == "assigned", ReviewAssignment.due_on >= as_of)
                         .group_by(ReviewAssignment.reviewer_id, ReviewAssignment.due_on, ExamAttempt.sitting_id)
                         .order_by(ExamAttempt.sitting_id, ReviewAssignment.reviewer_id, ReviewAssignment.due_on)).all()
        now = now_for(as_of)
        for reviewer_id, due_on, sitting_id, count in rows:
            sitting = s.get(ExamSitting, sitting_id)
            days_left = (due_on - as_of).days
            if days_left not in library.setting(sitting.association_code, "review_reminder_days_before_due", as_of):
                continue
            console = s.scalars(select(ReviewerConsoleLink).where(ReviewerConsoleLink.reviewer_id == reviewer_id)).first()
            if console is None or _aware(console.token_expires_at) <= now:
                continue  # no working link to remind with: the coordinator sends a new console link from the exam page
            key = f"review.reminder:console:{console.id}:{sitting_id}:{due_on.isoformat()}:d{days_left}"
            reviewer = s.get(Person, reviewer_id)
            queued = queue_email(
                s, role="review.reminder", to_email=reviewer.email, to_name=reviewer.name,
                association=sitting.association_code, link_kind="reviewer", link_ref_id=console.id,
                idempotency_key=key,
                context={"reviewer_name": reviewer.name, "sitting_name": sitting.name, "count": count,
                         "due_on": due_on.isoformat(), "days_left": days_left,
                         "expires_on": _aware(console.token_expires_at).date().isoformat()})
            if not queued.new:
                continue  # already reminded today (a re-run, or a sweep running alongside)
            record_audit(s, actor="system", action="exam.reviewer_reminded", entity_type="reviewer_console_link",
                         entity_id=console.id, sitting_id=sitting_id, reviewer_id=reviewer_id, essays=count,
                         due_on=due_on.isoformat(), days_left=days_left)
            sent += 1
    return sent


def expire_overdue_reviews(sessions: sessionmaker[Session], library: RulebookLibrary, *, as_of: date,
                           secret_key: str) -> int:
    """Assignments past their due date are taken back and only those essays are reassigned; one
    transaction per sitting. Returns how many assignments expired."""
    with sessions() as s:
        overdue = s.execute(select(ReviewAssignment.id, ExamAttempt.sitting_id, ReviewAssignment.due_on)
                            .join(Essay, Essay.id == ReviewAssignment.essay_id)
                            .join(ExamAttempt, ExamAttempt.id == Essay.attempt_id)
                            .where(ReviewAssignment.status == "assigned", ReviewAssignment.due_on < as_of)).all()
    by_sitting: dict[int, list[int]] = {}
    for assignment_id, sitting_id, due_on in overdue:
        by_sitting.setdefault(sitting_id, []).append((assignment_id, due_on))
    expired = 0
    for sitting_id, ids in by_sitting.items():
        with transaction(sessions) as s:
            essays = set()
            for assignment_id, due_on in ids:
                # Still assigned? A sweep running alongside may have taken it back first: then it reassigns.
                taken = s.execute(update(ReviewAssignment).where(ReviewAssignment.id == assignment_id,
                                                                 ReviewAssignment.status == "assigned")
                                  .values(status="expired", ended_reason=f"not reviewed by the due date {due_on.isoformat()}")
                                  .returning(ReviewAssignment.essay_id, ReviewAssignment.reviewer_id)).first()
                if taken is None:
                    continue
                essays.add(taken.essay_id)
                attempt = s.get(ExamAttempt, s.get(Essay, taken.essay_id).attempt_id)
                record_audit(s, actor="system", action="exam.review_expired", entity_type="review_assignment",
                             entity_id=assignment_id, application_id=attempt.application_id,
                             reviewer_id=taken.reviewer_id)
                expired += 1
            s.flush()
            if essays:
                apply_round(s, sitting_id, library, as_of=as_of, secret_key=secret_key, actor="system",
                            only_essays=essays, notify_uncovered=True)
    return expired
