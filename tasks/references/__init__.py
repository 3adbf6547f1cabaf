"""References: the raters an application names (checks, adding, replacing, phone vetting), their secure
links and reminders, and the rater's side (the rating form, drafts, submitting, declining)."""

from tasks.references.raters import (
    ProposedRater,
    add_rater,
    check_rater_list,
    regenerate_link,
    replace_rater,
    resend_link,
    vet_rater,
    vetting_queue,
)
from tasks.references.ratings import RatingInput, decline_rating, find_request, form_spec, save_rating
from tasks.references.requests import escalate_overdue, expire_stale_links, issue_reference_links, send_due_reminders

__all__ = [
    "ProposedRater",
    "RatingInput",
    "add_rater",
    "check_rater_list",
    "decline_rating",
    "escalate_overdue",
    "expire_stale_links",
    "find_request",
    "form_spec",
    "issue_reference_links",
    "regenerate_link",
    "replace_rater",
    "resend_link",
    "save_rating",
    "send_due_reminders",
    "vet_rater",
    "vetting_queue",
]
