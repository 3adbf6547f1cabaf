"""An exam sitting with candidates, essays and reviewers, built through the same services a
coordinator uses (open_sitting, enrol_candidates, import_essays, add reviewers)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from endorse.db import transaction
from endorse.documents import load_document
from endorse.rulebook import default_library
from endorse.settings import PROJECT_ROOT
from models import Application, Endorsement, ReviewerAvailability, ReviewerProfile
from tasks.exam.intake import enrol_candidates, import_essays, open_sitting
from tasks.intake.records import ensure_associations, person_for, save_document

AS_OF = date(2026, 11, 22)
SECRET = "exam-test-secret"
CANDIDATE_FILES = ("mi-aimh-imhs-eligible-01.json", "mi-aimh-imhm-c-eligible-01.json")

ESSAY_TEXT = {
    "IMHS": "The vignette describes a nine-month-old and her father after a move. I would start by watching them "
            "together, wondering aloud about what the baby notices, and bring my own reactions to supervision.",
    "IMHM-C": "As a mentor I would help the home visitor hold the mother's story of loss alongside the infant's "
              "signals, and use reflective consultation to notice the parallel process in our work.",
}


@dataclass
class Sitting:
    id: int
    codes: dict[str, str]  # category -> candidate code
    apps: dict[str, str]  # category -> application id
    reviewers: dict[str, int]  # name -> person id
    identities: list[str] = field(default_factory=list)  # candidates' names, emails, employers


def add_reviewer(s, sitting_id: int, name: str, endorsement: str, *, employer: str | None = None,
                 max_load: int = 5) -> int:
    p = person_for(s, name, name.lower().replace(" ", ".") + "@reviewers.example.net", association=None)
    p.employer = employer
    s.add(Endorsement(person_id=p.id, category=endorsement, origin="granted", status="active",
                      number=f"R-{p.id}-{endorsement}"))
    s.add(ReviewerProfile(person_id=p.id, trained=True, max_load=max_load))
    s.add(ReviewerAvailability(sitting_id=sitting_id, person_id=p.id, max_load=max_load))
    s.flush()
    return p.id


def write_csv(path: Path, header: str, rows: list[tuple]) -> Path:
    import csv

    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header.split(","))
        w.writerows(rows)
    return path


@pytest.fixture
def sitting(sessions, tmp_path) -> Sitting:
    return build_sitting(sessions, tmp_path)


def build_sitting(sessions, tmp_path: Path) -> Sitting:
    lib = default_library()
    apps, identities = {}, []
    with transaction(sessions) as s:
        ensure_associations(s, lib)
        for f in CANDIDATE_FILES:
            doc = load_document(PROJECT_ROOT / "cohort" / f)
            doc = doc.model_copy(update={"exam": None})
            save_document(s, doc, actor="test")
            app = s.get(Application, doc.id)
            app.stage, app.exam_approved_on = "exam", date(2026, 9, 1)
            apps[doc.category] = doc.id
            identities += [doc.applicant.name, doc.applicant.email] + [w.employer for w in doc.work]
    sitting_id = open_sitting(sessions, lib, association="MI-AIMH", name="Fall 2026", opens_on=date(2026, 10, 1),
                              closes_on=date(2026, 10, 31), actor="coordinator:test")
    enrolled = enrol_candidates(sessions, sitting_id, lib, as_of=AS_OF, actor="coordinator:test")
    by_app = dict(enrolled.enrolled)
    codes = {cat: by_app[app_id] for cat, app_id in apps.items()}
    reviewers = {}
    with transaction(sessions) as s:
        for name, endorsement in [("Ivy Imhs", "IMHS"), ("Ian Imhs", "IMHS"), ("Mona Mentor", "IMHM-C"),
                                  ("Mark Mentor", "IMHM-C"), ("Mila Mentor", "IMHM-C"), ("Pia Policy", "IMHM-P")]:
            reviewers[name] = add_reviewer(s, sitting_id, name, endorsement)
    essays = write_csv(tmp_path / "essays.csv", "candidate_code,essay",
                       [(codes[c], ESSAY_TEXT[c]) for c in ("IMHS", "IMHM-C")])
    import_essays(sessions, sitting_id, essays, lib, actor="coordinator:test", as_of=AS_OF)
    return Sitting(sitting_id, codes, apps, reviewers, [i for i in identities if i])


@pytest.fixture
def exam_web(sessions):
    from tests.web.conftest import make_web_app

    return make_web_app(sessions, SECRET, AS_OF)


def reviewer_token(sessions, sitting_id: int, reviewer_id: int, secret: str = SECRET) -> str:
    """The link a reviewer's assignment email carries: their console link (every sitting's essays)."""
    from endorse import links
    from models import ReviewerConsoleLink

    with sessions() as s:
        row = s.scalars(select(ReviewerConsoleLink).where(ReviewerConsoleLink.reviewer_id == reviewer_id)).one()
        return links.token_for(row.token_nonce, secret, "reviewer")
