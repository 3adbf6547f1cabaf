"""A row typed into the portfolio becomes a row of the application document, or errors naming each
field (pure: no database). The document's own models decide what a row may be, so a row the form takes
is a row ``endorse import`` takes."""

from __future__ import annotations

import io

import pytest

from tasks.portal.fields import EDUCATION, REFERENCES, RSC, TRAINING, WORK, RowErrors, parse_row, row_text
from tasks.portal.tables import TableError, read_table

ROLES = {"current_supervisor": "your current program supervisor", "colleague": "a colleague"}

ACCEPTED = [
    ("training: hours and date as typed, topics ticked",
     TRAINING, {"title": "IMH 101", "hours": "7,5", "completed_on": "2024-03-01", "topics": ["dei", "relationship_based"]},
     {"title": "IMH 101", "hours": 7.5, "completed_on": "2024-03-01", "topics": ["dei", "relationship_based"]}),
    ("training from a spreadsheet: topics separated by ';'",
     TRAINING, {"title": "RS/C institute", "hours": "15", "completed_on": "2025-01-10", "topics": "rsc_didactic; dei"},
     {"title": "RS/C institute", "hours": 15.0, "completed_on": "2025-01-10", "topics": ["dei", "rsc_didactic"]}),
    ("education: the transcript is asked for (official), never claimed received",
     EDUCATION, {"institution": "UConn", "credential": "masters", "transcript.official": "yes"},
     {"institution": "UConn", "credential": "masters", "transcript": {"official": True}}),
    ("work: an ongoing job has no end date",
     WORK, {"employer": "Early Start", "kind": "imh_relationship_services", "start_on": "2020-01-06", "paid": "yes",
            "families_served": "12"},
     {"employer": "Early Start", "kind": "imh_relationship_services", "start_on": "2020-01-06", "paid": True,
      "families_served": 12}),
    ("references: a rater is named with a role of the category and the waiver",
     REFERENCES, {"rater.name": "Wei Chen", "rater.email": "wchen@example.org", "role": "colleague",
                  "waived_access": "yes"},
     {"rater": {"name": "Wei Chen", "email": "wchen@example.org"}, "role": "colleague", "waived_access": True}),
]

REFUSED = [
    ("training: hours must be a number", TRAINING,
     {"title": "x", "hours": "ten", "completed_on": "2024-01-01"}, {"hours": "write a number"}),
    ("training: an impossible date", TRAINING,
     {"title": "x", "hours": "3", "completed_on": "2024-02-30"}, {"completed_on": "not a real calendar date"}),
    ("training: an unknown topic", TRAINING,
     {"title": "x", "hours": "3", "completed_on": "2024-01-01", "topics": "yoga"}, {"topics": "unknown topic"}),
    ("training: more than the document allows in one row (2000 h)", TRAINING,
     {"title": "x", "hours": "2500", "completed_on": "2024-01-01"}, {"hours": "less than or equal to 2000"}),
    ("work: the end before the start", WORK,
     {"employer": "E", "kind": "infant_related", "start_on": "2022-01-01", "end_on": "2021-01-01", "paid": "yes"},
     {"row": "end_on is before start_on"}),
    ("RS/C: hours about providing RS/C cannot exceed the hours", RSC,
     {"provider.name": "G", "provider.email": "g@example.org", "hours": "10", "start_on": "2024-01-01",
      "end_on": "2024-12-31", "about_providing_rsc_hours": "12"}, {"row": "more than hours"}),
    ("references: a role the category does not name", REFERENCES,
     {"rater.name": "A", "rater.email": "a@example.org", "role": "student"}, {"role": "choose one of"}),
    ("references: the email must be an address", REFERENCES,
     {"rater.name": "A", "rater.email": "not an address", "role": "colleague"}, {"rater.email": "email address"}),
    ("every section: a required field left empty", EDUCATION,
     {"institution": "", "credential": "masters"}, {"institution": "required"}),
]


@pytest.mark.parametrize("case, section, values, row", ACCEPTED, ids=[c[0] for c in ACCEPTED])
def test_a_row_is_the_documents_row(case, section, values, row):
    assert parse_row(section, values, ROLES) == row


@pytest.mark.parametrize("case, section, values, errors", REFUSED, ids=[c[0] for c in REFUSED])
def test_a_wrong_row_names_each_field(case, section, values, errors):
    with pytest.raises(RowErrors) as caught:
        parse_row(section, values, ROLES)
    for field, words in errors.items():
        assert words in caught.value.errors.get(field, "") or any(words in v for v in caught.value.errors.values()), \
            caught.value.errors


@pytest.mark.parametrize("section, row", [(s, r) for _, s, _, r in ACCEPTED])
def test_a_stored_row_goes_back_into_the_form_unchanged(section, row):
    assert parse_row(section, row_text(section, row), ROLES) == row


def test_a_training_table_comes_from_csv_or_xlsx_with_the_row_numbers_a_person_sees():
    from openpyxl import Workbook

    csv_rows = read_table("t.csv", b"title,hours,completed_on\n\nIMH 101,40,2024-03-01\n")
    assert csv_rows == [(3, {"title": "IMH 101", "hours": "40", "completed_on": "2024-03-01"})]
    book = Workbook()
    book.active.append(["Title", "Hours", "Completed_on"])
    book.active.append(["IMH 101", 40, __import__("datetime").date(2024, 3, 1)])
    data = io.BytesIO()
    book.save(data)
    assert read_table("t.xlsx", data.getvalue()) == [(2, {"title": "IMH 101", "hours": "40", "completed_on": "2024-03-01"})]


@pytest.mark.parametrize("name, data, words", [
    ("t.xlsx", b"this is not a workbook", "not a readable XLSX workbook"),
    ("t.csv", b"\xff\xfe\x00t\x00i", "not a CSV or XLSX file"),
    ("t.csv", b"", "empty"),
    ("t.csv", b"title\n" + b"x\n" * 2001, "more than 2000 rows"),
])
def test_a_file_that_is_not_a_table_is_one_error_naming_it(name, data, words):
    with pytest.raises(TableError, match=words) as caught:
        read_table(name, data)
    assert name in str(caught.value)
