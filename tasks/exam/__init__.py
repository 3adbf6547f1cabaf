"""The exam: approval to sit it, sittings (open, enrol, take in results and essays, retakes), the optimal
assignment of essays to reviewers (and registering them), and blind review through to the candidate's feedback letter."""

from tasks.exam.assignment import assign_essays
from tasks.exam.intake import (
    clear_essay_flag,
    enrol_candidates,
    import_essays,
    import_multiple_choice,
    open_sitting,
    start_retake,
)
from tasks.exam.results import approve_for_exam, record_exam_result
from tasks.exam.review import (
    apply_sitting,
    decline_review,
    expire_overdue_reviews,
    regenerate_review_link,
    remind_reviewers,
    submit_review,
)
from tasks.exam.reviewers import register_reviewer, reviewer_input
from tasks.exam.sitting_plan import plan_sitting

__all__ = [
    "apply_sitting",
    "approve_for_exam",
    "assign_essays",
    "clear_essay_flag",
    "decline_review",
    "enrol_candidates",
    "expire_overdue_reviews",
    "import_essays",
    "import_multiple_choice",
    "open_sitting",
    "plan_sitting",
    "record_exam_result",
    "regenerate_review_link",
    "register_reviewer",
    "remind_reviewers",
    "reviewer_input",
    "start_retake",
    "submit_review",
]
