"""The coordinator's acts on an application's review besides assigning and settling it: the next round
after a round's "not yet" (``start_next_round``: a recorded determination with its reason) and a
reviewer's new link (``regenerate_review_link``: the old one dies, the new one goes through the outbox).
Each is one transaction with its audit entry."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from endorse import links
from endorse.clock import now_for
from endorse.db import transaction
from endorse.rulebook import RulebookLibrary
from models import (
    Application,
    ApplicationReviewAssignment,
    ApplicationReviewInvitation,
    ApplicationReviewRound,
    Person,
    record_audit,
)
from tasks.application_review.pool import settings_for
from tasks.application_review.rounds import LINK_PURPOSE, NotInReview, _aware
from tasks.eligibility.facts import current_review_rounds, review_outcomes, reviewers_wanted
from tasks.mail.outbox import queue_email


def start_next_round(sessions: sessionmaker[Session], library: RulebookLibrary, application_id: str, *, reason: str,
                     on: date, actor: str, association: str | None = None) -> int:
    """After a round ended "not yet" and the applicant changed the portfolio, the coordinator opens the
    next round: a recorded determination with its reason and the rulebook's choice of reviewers then
    (``later_round_reviewers``: "same" asks the last round's reviewers again where they are free, "new"
    only others). One transaction, audited; the reconcile moves the application back into review, where
    the assignment (dry run, apply) plans the new round. Returns the round's number."""
    if not reason.strip():
        raise ValueError("reason: say what changed since the reviewers' \"not yet\" (it is kept with the round)")
    with transaction(sessions) as s:
        app = s.scalars(select(Application).where(Application.id == application_id).with_for_update()).first()
        if app is None or (association is not None and app.association_code != association):
            raise LookupError(f"no application {application_id!r}")
        if reviewers_wanted(library, app.association_code, on) == 0:
            raise ValueError(f"{app.association_code}'s rulebook has no application review")
        rnd = current_review_rounds(s, [app.id])[app.id]
        if review_outcomes(s, [app.id]).get(app.id) != "not_yet" or app.stage != "deferred":
            raise NotInReview(f"application {application_id}: a new review round follows only a round that ended "
                              f"\"not yet\" (round {rnd}: {review_outcomes(s, [app.id]).get(app.id) or 'not settled'}; "
                              f"stage {app.stage})")
        how = str(settings_for(library, app.association_code, on)["later_round_reviewers"])
        if how not in ("same", "new"):
            raise ValueError(f"rules: application_review.later_round_reviewers is {how!r}, not same or new")
        row = ApplicationReviewRound(application_id=app.id, round=rnd + 1, reviewers=how, reason=reason.strip()[:2000],
                                     opened_by=actor, opened_on=on)
        s.add(row)
        app.needs_reconcile = True
        s.flush()
        record_audit(s, actor=actor, action="appreview.round_opened", entity_type="application", entity_id=app.id,
                     application_id=app.id, round=row.round, reviewers=how, reason=row.reason)
        return row.round


def regenerate_review_link(sessions: sessionmaker[Session], library: RulebookLibrary, association: str,
                           reviewer_id: int, *, as_of: date, secret_key: str, actor: str) -> None:
    """A new application-review link for a reviewer of the association (the old one stops working at
    once), emailed through the outbox; one transaction, audited. LookupError when the reviewer has no
    link of this association (the same for another association's reviewer as for nobody)."""
    with transaction(sessions) as s:
        inv = s.scalars(select(ApplicationReviewInvitation).where(
            ApplicationReviewInvitation.association_code == association,
            ApplicationReviewInvitation.reviewer_id == reviewer_id).with_for_update()).first()
        if inv is None:
            raise LookupError(f"reviewer #{reviewer_id} has no application-review link of {association}")
        link = links.issue(secret_key, LINK_PURPOSE)
        inv.token_nonce, inv.token_hash = link.nonce, link.token_hash
        inv.token_generation += 1
        inv.token_expires_at = now_for(as_of) + timedelta(days=int(settings_for(library, association, as_of)
                                                                    ["link_expiry_days"]))
        reviewer = s.get(Person, reviewer_id)
        waiting = s.scalar(select(func.count()).select_from(ApplicationReviewAssignment)
                           .join(Application, Application.id == ApplicationReviewAssignment.application_id)
                           .where(ApplicationReviewAssignment.reviewer_id == reviewer_id,
                                  ApplicationReviewAssignment.status == "assigned",
                                  Application.association_code == association))
        queue_email(s, role="appreview.new_link", to_email=reviewer.email, to_name=reviewer.name,
                    association=association, link_kind="appreview", link_ref_id=inv.id,
                    idempotency_key=f"appreview.new_link:{inv.id}:{inv.token_generation}",
                    context={"reviewer_name": reviewer.name, "count": waiting,
                             "expires_on": _aware(inv.token_expires_at).date().isoformat()})
        record_audit(s, actor=actor, action="appreview.link_regenerated", entity_type="application_review_invitation",
                     entity_id=inv.id, reviewer_id=reviewer_id, generation=inv.token_generation)
