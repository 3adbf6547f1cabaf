"""What the stage machine needs to know of an application row besides its checklist.

Kept apart from the pure ``stages.py`` (which never sees a model) and below the pipeline, so that
both the reconcile and the coordinator's decision preview read the facts the same way.
"""
from __future__ import annotations

from models import Application
from tasks.config import PipelineConfig
from tasks.eligibility.stages import StageFacts


def stage_facts(app: Application, cfg: PipelineConfig) -> StageFacts:
    rules = cfg.library.category_rules(app.association_code, app.category, cfg.as_of)
    return StageFacts(stage=app.stage, has_exam="exam" in rules.rules, exam_approved_on=app.exam_approved_on,
                      exam_approval_validity_days=int(rules.settings["exam_approval_validity_days"]),
                      decision_requested=app.decision_requested)
