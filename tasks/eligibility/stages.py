"""The stage machine of an application, as a pure function of its checklist.

submitted → transcripts → references → eligibility_review → exam → decision → endorsed |
not_endorsed | deferred. Categories without an exam rule (IFA, IFS) go from references straight to
decision. Where the association's rulebook sets application reviewers (``application_review``), a
complete application (complete apart from the exam for IMHS, IMHM) goes to ``application_review``
first, and on to exam approval or the decision only once the round is settled. ``next_transition`` never touches the database: the pipeline applies what it returns,
one transition per transaction, each with an audit entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from tasks.eligibility.evaluation import MET, NOT_APPLICABLE, PENDING, UNMET, Evaluation

SUBMITTED = "submitted"
TRANSCRIPTS = "transcripts"
REFERENCES = "references"
ELIGIBILITY_REVIEW = "eligibility_review"
APPLICATION_REVIEW = "application_review"
EXAM = "exam"
DECISION = "decision"
ENDORSED = "endorsed"
NOT_ENDORSED = "not_endorsed"
DEFERRED = "deferred"

STAGES = (SUBMITTED, TRANSCRIPTS, REFERENCES, ELIGIBILITY_REVIEW, APPLICATION_REVIEW, EXAM, DECISION, ENDORSED,
          NOT_ENDORSED, DEFERRED)
OPEN_STAGES = (SUBMITTED, TRANSCRIPTS, REFERENCES, ELIGIBILITY_REVIEW, APPLICATION_REVIEW, EXAM, DECISION)

# How a round of application review ended (models.application_review.RECOMMENDATIONS).
RECOMMEND = "recommend"
RECOMMEND_WITH_CONDITIONS = "recommend_with_conditions"
NOT_YET = "not_yet"
FINAL_STAGES = (ENDORSED, NOT_ENDORSED, DEFERRED)

# Which requirements each waiting stage is waiting for.
TRANSCRIPT_REQUIREMENTS = ("education", "transcripts")
REFERENCE_REQUIREMENTS = ("references", "endorsed_rater")

ALLOWED = {
    SUBMITTED: {TRANSCRIPTS},
    TRANSCRIPTS: {REFERENCES},
    REFERENCES: {ELIGIBILITY_REVIEW, APPLICATION_REVIEW, DECISION},
    ELIGIBILITY_REVIEW: {EXAM, DECISION, APPLICATION_REVIEW},
    # Recommended: on to exam approval (IMHS, IMHM) or the decision; "not yet": deferred.
    APPLICATION_REVIEW: {ELIGIBILITY_REVIEW, DECISION, DEFERRED},
    EXAM: {DECISION},
    DECISION: {ENDORSED, NOT_ENDORSED, DEFERRED},
    ENDORSED: set(),
    NOT_ENDORSED: {EXAM},  # a retake, started by the coordinator after the waiting period
    # A deferred application comes back when what was missing arrives.
    DEFERRED: {REFERENCES, ELIGIBILITY_REVIEW, APPLICATION_REVIEW, DECISION},
}


@dataclass(frozen=True)
class Transition:
    from_stage: str
    to_stage: str
    reason: str


@dataclass(frozen=True)
class StageFacts:
    """What the stage machine needs besides the checklist."""

    stage: str
    has_exam: bool
    exam_approved_on: date | None
    exam_approval_validity_days: int
    decision_requested: bool = False  # a coordinator asked to decide now (e.g. to defer)
    # Application reviewers the association asks for (0: no review stage) and how the latest round
    # ended (None: no round settled yet).
    application_reviewers: int = 0
    review_outcome: str | None = None

    @property
    def review_due(self) -> bool:
        return self.application_reviewers > 0 and self.review_outcome is None

    @property
    def review_recommends(self) -> bool:
        return self.application_reviewers == 0 or self.review_outcome in (RECOMMEND, RECOMMEND_WITH_CONDITIONS)


def _all_done(ev: Evaluation, ids: tuple[str, ...]) -> bool:
    return all(ev.status_of(i) in (MET, NOT_APPLICABLE) for i in ids)


def _open_items(ev: Evaluation, *, exclude: tuple[str, ...] = ()) -> list[str]:
    return [f"{r.id}: {r.detail}" for r in ev.requirements if r.status in (UNMET, PENDING) and r.id not in exclude]


def approval_is_current(facts: StageFacts, as_of: date) -> bool:
    return facts.exam_approved_on is not None and \
        as_of <= facts.exam_approved_on + timedelta(days=facts.exam_approval_validity_days)


def next_transition(ev: Evaluation, facts: StageFacts) -> Transition | None:
    """The one transition the application is due for now, or None if it must wait."""
    s = facts.stage
    if s == SUBMITTED:
        return Transition(s, TRANSCRIPTS, "application received; transcripts checked next")
    if s == TRANSCRIPTS:
        if _all_done(ev, TRANSCRIPT_REQUIREMENTS):
            return Transition(s, REFERENCES, "education and official transcripts are in")
        return None
    if s == DEFERRED:
        # Back into the pipeline only when what was missing has arrived; after the reviewers' "not
        # yet", only when a coordinator opens a new review round.
        if facts.review_outcome == NOT_YET:
            return None
        if facts.review_due and (ev.eligible or (facts.has_exam and ev.status_of("exam") == PENDING
                                                 and not _open_items(ev, exclude=("exam",)))):
            return Transition(s, APPLICATION_REVIEW, "complete: application reviewers read it next")
        if ev.eligible or (ev.status_of("exam") in (MET, UNMET) and not _open_items(ev, exclude=("exam",))):
            return Transition(s, DECISION, "what was missing has arrived")
        if facts.has_exam and not _open_items(ev, exclude=("exam",)) and ev.status_of("exam") == PENDING:
            return Transition(s, ELIGIBILITY_REVIEW, "every requirement but the exam is met")
        return None
    if s == REFERENCES:
        if _all_done(ev, REFERENCE_REQUIREMENTS):
            if facts.has_exam:
                return Transition(s, ELIGIBILITY_REVIEW, "three valid ratings including an endorsed rater")
            if facts.review_due and ev.eligible:
                return Transition(s, APPLICATION_REVIEW, "complete: application reviewers read it next")
            return Transition(s, DECISION, "three valid ratings including an endorsed rater")
        if facts.decision_requested and decision_supported(ev, facts).ok:
            return Transition(s, DECISION, "a coordinator asked for a decision")
        return None
    if s == ELIGIBILITY_REVIEW:
        ready = not _open_items(ev, exclude=("exam",))
        if ready and facts.review_due:  # before exam approval, or before the decision on an exam result on file
            return Transition(s, APPLICATION_REVIEW, "complete apart from the exam: application reviewers read it next")
        if ready and approval_is_current(facts, ev.as_of) and facts.review_recommends:
            return Transition(s, EXAM, f"approved to sit the exam on {facts.exam_approved_on.isoformat()}")
        if ev.status_of("exam") in (MET, UNMET) and ready:
            # An exam result already on file (e.g. imported) settles it.
            return Transition(s, DECISION, "exam result on file")
        # A request made earlier is honoured only while the checklist still supports it: an applicant who
        # became exam-eligible since is not deferred by a stale click.
        if facts.decision_requested and decision_supported(ev, facts).ok:
            return Transition(s, DECISION, "a coordinator asked for a decision")
        return None
    if s == APPLICATION_REVIEW:
        if facts.review_outcome == NOT_YET:
            return Transition(s, DEFERRED, "application reviewers: not yet")
        if facts.review_recommends and facts.review_outcome is not None:
            how = "recommended with conditions" if facts.review_outcome == RECOMMEND_WITH_CONDITIONS else "recommended"
            return Transition(s, ELIGIBILITY_REVIEW if facts.has_exam else DECISION, f"application reviewers: {how}")
        if facts.decision_requested:
            return Transition(s, DECISION, "a coordinator asked for a decision")
        return None
    if s == EXAM:
        if ev.status_of("exam") in (MET, UNMET):
            return Transition(s, DECISION, f"exam settled: {ev.status_of('exam')}")
        return None
    if s == DECISION:
        outcome, reasons = decide(ev, facts.review_outcome)
        return Transition(s, outcome, "; ".join(reasons) or "every requirement met")
    return None


def decide(ev: Evaluation, review_outcome: str | None = None) -> tuple[str, list[str]]:
    """The final decision computed from the checklist, with its reasons.

    Endorsed when every requirement is met; not endorsed when the exam was failed (a retake starts a
    new attempt after the association's waiting period); otherwise deferred with what is missing.
    Application reviewers' "not yet" defers an application whatever its checklist says.
    """
    reasons = decision_reasons(ev)
    if review_outcome == NOT_YET:
        return DEFERRED, reasons + ["application review: the application reviewers' answer is not yet"]
    if ev.eligible:
        return ENDORSED, reasons
    if ev.status_of("exam") == UNMET:
        return NOT_ENDORSED, reasons
    return DEFERRED, reasons


@dataclass(frozen=True)
class Support:
    """Whether the checklist supports a coordinator's action now, and if not, why (in their words)."""
    ok: bool
    reason: str
    outcome: str | None = None  # for a decision: the outcome the rules give now


def decision_supported(ev: Evaluation, facts: StageFacts) -> Support:
    """May a coordinator record the decision now? Only from references or eligibility review (later the
    pipeline decides by itself), and never a deferral of an applicant whose next step is the exam."""
    s = facts.stage
    if s in FINAL_STAGES:
        return Support(False, f"the decision is already recorded: {s.replace('_', ' ')}")
    if s == DECISION:
        return Support(False, "the decision is being recorded by the pipeline already")
    if s == EXAM:
        return Support(False, "the application is waiting for its exam result; the decision follows it")
    if s not in (REFERENCES, ELIGIBILITY_REVIEW):
        return Support(False, f"the application is at {s}: a decision can be asked for once references are under way")
    outcome, _ = decide(ev)
    open_items = _open_items(ev, exclude=("exam",))
    if outcome == DEFERRED and facts.has_exam and not open_items and ev.status_of("exam") == PENDING:
        return Support(False, "every requirement but the exam is met: the applicant is eligible to sit the exam, "
                              "so approve them to sit it instead of deferring", outcome)
    return Support(True, "; ".join(decision_reasons(ev)) or "every requirement met", outcome)


def exam_approval_supported(ev: Evaluation, facts: StageFacts) -> Support:
    """May a coordinator approve the applicant to sit the exam? Only at eligibility review with every
    requirement but the exam met (else the approval would not move the application)."""
    if not facts.has_exam:
        return Support(False, "this category has no written exam")
    if facts.stage != ELIGIBILITY_REVIEW:
        return Support(False, f"the application is at {facts.stage.replace('_', ' ')}, not eligibility review")
    open_items = _open_items(ev, exclude=("exam",))
    if open_items:
        return Support(False, "not every requirement but the exam is met: " + "; ".join(open_items))
    return Support(True, "every requirement but the exam is met")


def decision_reasons(ev: Evaluation) -> list[str]:
    return [f"{r.id} {r.status}: {r.detail}" for r in ev.requirements if r.status in (UNMET, PENDING)]


def check_allowed(from_stage: str, to_stage: str) -> None:
    if to_stage not in ALLOWED.get(from_stage, set()):
        raise ValueError(f"an application cannot move from {from_stage} to {to_stage}")
