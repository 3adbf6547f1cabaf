"""A coordinator's workbook of paper applications (one sheet per section): every row checked first;
any error and nothing is written, with each problem named by sheet, row and field; otherwise every
application saved in one transaction as ``endorse import`` saves it."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from endorse.db import transaction
from models import Application, AuditLog
from tasks import portal
from tasks.intake.records import ensure_associations, load_documents
from tasks.portal.fields import APPLICATION_SECTIONS

from .helpers import AS_OF, LIBRARY, cohort


def _workbook(*docs: dict, edit=None) -> bytes:
    """Cohort documents typed into a workbook, a sheet per section, as a coordinator would."""
    from tasks.portal.fields import row_text

    book = Workbook()
    apps = book.active
    apps.title = "applications"
    head = ["id", "category", "name", "email", "is_supervisor", "code_of_ethics_signed_on",
            "endorsement_agreement_signed_on", "submitted_on"]
    apps.append(head)
    for d in docs:
        apps.append([d["id"], d["category"], d["applicant"]["name"], d["applicant"]["email"],
                     "yes" if d["applicant"].get("is_supervisor") else "no",
                     d["agreements"].get("code_of_ethics_signed_on"), d["agreements"].get("endorsement_agreement_signed_on"),
                     d.get("submitted_on")])
    for key, section in APPLICATION_SECTIONS.items():
        sheet = book.create_sheet(key)
        names = [f.name for f in section.fields]
        sheet.append(["application", *names])
        for d in docs:
            for row in d.get(key, []):
                text = row_text(section, row)
                sheet.append([d["id"], *[text[n] for n in names]])
    if edit:
        edit(book)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture
def ready(sessions):
    with transaction(sessions) as s:
        ensure_associations(s, LIBRARY)
    return sessions


def test_a_workbook_of_paper_applications_is_imported_as_the_documents_would_be(ready):
    docs = [cohort("ct-aimh-ifs-eligible-01.json"), cohort("ct-aimh-imhs-no-exam-yet.json")]
    report = portal.import_workbook(ready, "paper.xlsx", _workbook(*docs), LIBRARY, association="CT-AIMH",
                                    as_of=AS_OF, actor="coordinator:c@example.org")
    assert report.errors == [] and [d.id for d in report.documents] == [d["id"] for d in docs]
    with ready() as s:
        rebuilt = load_documents(s, [d["id"] for d in docs])
        actors = set(s.scalars(select(AuditLog.actor).where(AuditLog.action == "application.imported")))
    for d in docs:
        assert len(rebuilt[d["id"]].training) == len(d["training"])
        assert len(rebuilt[d["id"]].references) == len(d["references"])
        assert {r.status for r in rebuilt[d["id"]].references} == {"requested"}  # the pipeline asks them
    assert actors == {"coordinator:c@example.org"}


def _bad_hours(book):
    book["training"].cell(row=3, column=3, value="lots")


def _orphan(book):
    book["work"].append(["CT-9999", "Somewhere", "", "infant_related", "2020-01-01", "", "yes"])


def _no_name(book):
    book["applications"].cell(row=2, column=3, value="")


ERROR_CASES = [
    ("a training row with hours that are not a number", _bad_hours, "sheet training, row 3, hours: write a number"),
    ("a row naming an application the workbook does not have", _orphan,
     "sheet work, row 4, application: CT-9999 is not an id of the applications sheet"),
    ("an applicant without a name (the document's own check)", _no_name,
     "sheet applications, row 2 (CT-2026-102): field applicant.name"),
]


@pytest.mark.parametrize("case, edit, error", ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_any_error_imports_nothing_and_names_sheet_row_and_field(ready, case, edit, error):
    docs = [cohort("ct-aimh-ifs-eligible-01.json"), cohort("ct-aimh-imhs-no-exam-yet.json")]
    report = portal.import_workbook(ready, "paper.xlsx", _workbook(*docs, edit=edit), LIBRARY, association="CT-AIMH",
                                    as_of=AS_OF, actor="coordinator:c@example.org")
    assert any(e.startswith(error) for e in report.errors), report.errors
    with ready() as s:
        assert s.scalars(select(Application)).all() == []


def test_an_id_of_another_associations_application_is_refused(ready):
    doc = cohort("ct-aimh-ifs-eligible-01.json")
    portal.import_workbook(ready, "p.xlsx", _workbook(doc), LIBRARY, association="CT-AIMH", as_of=AS_OF, actor="c")
    report = portal.import_workbook(ready, "p.xlsx", _workbook(doc), LIBRARY, association="MI-AIMH", as_of=AS_OF,
                                    actor="m")
    assert report.errors == ["sheet applications, id CT-2026-102: an application of another association has this id"]
    with ready() as s:
        assert s.get(Application, "CT-2026-102").association_code == "CT-AIMH"


def test_a_file_that_is_not_a_workbook_is_one_error(ready):
    report = portal.import_workbook(ready, "paper.xlsx", b"id,name\n1,x\n", LIBRARY, association="CT-AIMH",
                                    as_of=AS_OF, actor="c")
    assert report.errors == ["paper.xlsx: not a readable XLSX workbook (BadZipFile)"]
