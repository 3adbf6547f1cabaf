"""Eligibility: an application document and its rulebook → the requirement checklist (pure), the stage
machine that reads it (pure), and the determinations the seeds leave to a coordinator.

The verbs load on first use (PEP 562): ``endorse evaluate`` must start without SQLAlchemy, and the
determinations module needs the database."""

from __future__ import annotations

from tasks import lazy_verbs

_VERBS = {
    "Evaluation": "evaluation",
    "RequirementResult": "evaluation",
    "evaluate": "evaluation",
    "next_change_on": "next_check",
    "StageFacts": "stages",
    "Transition": "stages",
    "check_allowed": "stages",
    "decide": "stages",
    "next_transition": "stages",
    "application_questions": "determinations",
    "awaited_determinations": "determinations",
    "record_determination": "determinations",
}

__all__ = sorted(_VERBS)

__getattr__ = lazy_verbs(__name__, _VERBS)
