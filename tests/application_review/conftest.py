"""Applications in application review on a rulebook where the association asks for two reviewers
(the shipped rulebooks leave the stage off: rules/README.md, Application review), built through the
same services the pipeline and a coordinator use."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from endorse import links
from endorse.db import transaction
from endorse.documents import load_document
from endorse.rulebook import RulebookLibrary, default_library
from endorse.settings import PROJECT_ROOT
from models import ApplicationReviewer, ApplicationReviewInvitation, Endorsement
from tasks.intake.records import ensure_associations, person_for, save_document
from tasks.pipeline import reconcile as pipeline

AS_OF = date(2026, 11, 22)
SECRET = "appreview-test-secret"
ASSOCIATION = "MI-AIMH"
IFA_FILE = "mi-aimh-ifa-eligible-01.json"  # complete: goes to review before the decision
IMHS_FILE = "mi-aimh-imhs-eligible-01.json"  # complete apart from the exam: review before exam approval


def review_rules(tmp_path: Path, *, reviewers: int = 2, blind: bool = False) -> RulebookLibrary:
    """A copy of rules/ where MI-AIMH's rulebook turns the review stage on (one setting, with a source)."""
    rules = tmp_path / "rules"
    shutil.copytree(PROJECT_ROOT / "rules", rules)
    base = yaml.safe_load((rules / "baseline.yaml").read_text())
    value = dict(base["settings"]["application_review"]["value"], reviewers=reviewers, blind=blind)
    overlay_path = rules / "associations" / f"{ASSOCIATION}.yaml"
    overlay = yaml.safe_load(overlay_path.read_text())
    overlay.setdefault("settings", {})["application_review"] = {
        "value": value, "source": "test: the association asks for application reviewers", "effective_from": "2002-01-01"}
    overlay_path.write_text(yaml.safe_dump(overlay, sort_keys=False))
    return default_library(str(rules))


@dataclass
class Review:
    library: RulebookLibrary
    apps: dict[str, str]  # category -> application id
    reviewers: dict[str, int]  # name -> person id
    identities: list[str]  # the applicants' names, emails and employers

    def cfg(self, as_of: date = AS_OF) -> pipeline.PipelineConfig:
        return pipeline.PipelineConfig(self.library, as_of, SECRET)


def add_application_reviewer(s, name: str, endorsement: str, *, employer: str | None = None, max_load: int = 3,
                             trained: bool = True) -> int:
    p = person_for(s, name, name.lower().replace(" ", ".") + "@volunteers.example.net", association=None)
    p.employer = employer
    s.add(Endorsement(person_id=p.id, category=endorsement, origin="granted", status="active",
                      number=f"V-{p.id}-{endorsement}"))
    s.add(ApplicationReviewer(association_code=ASSOCIATION, person_id=p.id, trained=trained, max_load=max_load))
    s.flush()
    return p.id


POOL = [("Rita Reviewer", "IMHS"), ("Ravi Reviewer", "IFS"), ("Rosa Reviewer", "IMHM-C")]


def build(sessions, library: RulebookLibrary, files=(IFA_FILE, IMHS_FILE), pool=POOL, keep_exam: bool = False) -> Review:
    apps, identities = {}, []
    with transaction(sessions) as s:
        ensure_associations(s, library)
        for f in files:
            doc = load_document(PROJECT_ROOT / "cohort" / f)
            doc = doc if keep_exam else doc.model_copy(update={"exam": None})
            save_document(s, doc, actor="test")
            apps[doc.category] = doc.id
            identities += [doc.applicant.name, doc.applicant.email] + [w.employer for w in doc.work]
        reviewers = {name: add_application_reviewer(s, name, e) for name, e in pool}
    r = Review(library, apps, reviewers, [i for i in identities if i])
    for app_id in apps.values():
        pipeline.reconcile_one(sessions, app_id, r.cfg())
    return r


@pytest.fixture
def review(sessions, tmp_path) -> Review:
    return build(sessions, review_rules(tmp_path))


def reviewer_token(sessions, reviewer_id: int, secret: str = SECRET) -> str:
    with sessions() as s:
        inv = s.scalars(select(ApplicationReviewInvitation).where(ApplicationReviewInvitation.reviewer_id == reviewer_id)).one()
        return links.token_for(inv.token_nonce, secret, "appreview")


def web_app(sessions, library: RulebookLibrary, as_of: date = AS_OF):
    from web.app import create_app
    from web.deps import WebContext

    events: list[str] = []
    ctx = WebContext(sessions=sessions, library=library, secret_key=SECRET, today=lambda: as_of, on_event=events.append)
    app = create_app(ctx, str(PROJECT_ROOT / "templates"))
    app.state.events = events
    return app
