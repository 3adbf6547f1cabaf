"""What the stage machine needs to know of an application's rows besides its checklist.

Kept apart from the pure ``stages.py`` (which never sees a model) and below the pipeline, so that
the reconcile and the coordinator's decision preview read the facts the same way.
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from endorse.rulebook import RulebookLibrary
from models import Application, ApplicationReviewOutcome, ApplicationReviewRound
from tasks.config import PipelineConfig
from tasks.eligibility.stages import StageFacts


def reviewers_wanted(library: RulebookLibrary, association: str, as_of: date) -> int:
    """How many application reviewers the association asks for (0: its rulebook has no review stage)."""
    return int(library.setting(association, "application_review", as_of)["reviewers"])


def current_review_rounds(s: Session, application_ids: list[str]) -> dict[str, int]:
    """Each application's current review round: the last one a coordinator opened after a "not yet", else 1."""
    opened = dict(s.execute(select(ApplicationReviewRound.application_id, func.max(ApplicationReviewRound.round))
                            .where(ApplicationReviewRound.application_id.in_(application_ids or [""]))
                            .group_by(ApplicationReviewRound.application_id)).all())
    return {app_id: opened.get(app_id, 1) for app_id in application_ids}


def review_outcomes(s: Session, application_ids: list[str]) -> dict[str, str]:
    """How each application's current review round was settled (absent: not settled yet; a new round
    opened after a "not yet" starts unsettled)."""
    if not application_ids:
        return {}
    rounds = current_review_rounds(s, application_ids)
    rows = s.execute(select(ApplicationReviewOutcome.application_id, ApplicationReviewOutcome.round,
                            ApplicationReviewOutcome.outcome)
                     .where(ApplicationReviewOutcome.application_id.in_(application_ids)))
    return {app_id: outcome for app_id, rnd, outcome in rows if rnd == rounds[app_id]}


def review_outcome_of(s: Session, app: Application, cfg: PipelineConfig) -> str | None:
    """The application's settled review round, read only where its association has the review stage."""
    if reviewers_wanted(cfg.library, app.association_code, cfg.as_of) == 0:
        return None
    return review_outcomes(s, [app.id]).get(app.id)


def stage_facts(app: Application, cfg: PipelineConfig, review_outcome: str | None = None) -> StageFacts:
    rules = cfg.library.category_rules(app.association_code, app.category, cfg.as_of)
    return StageFacts(stage=app.stage, has_exam="exam" in rules.rules, exam_approved_on=app.exam_approved_on,
                      exam_approval_validity_days=int(rules.settings["exam_approval_validity_days"]),
                      decision_requested=app.decision_requested,
                      application_reviewers=reviewers_wanted(cfg.library, app.association_code, cfg.as_of),
                      review_outcome=review_outcome)
