"""The application document: we accept what the shared schema accepts, and refuse clearly what it does not."""

from __future__ import annotations

import json

import pytest

from endorse.documents import DocumentError, parse_document

from .documents import COHORT_DIR, EXAMPLE_PATH, INVALID_DOCUMENTS, cohort_paths, schema_rejects


def test_the_shared_example_is_accepted():
    doc = parse_document(EXAMPLE_PATH.read_bytes(), EXAMPLE_PATH.name)
    assert doc.id == "CT-2026-014" and len(doc.references) == 3


INDEPENDENT = sorted((COHORT_DIR.parent / "tests" / "fixtures" / "cohort_independent").glob("*.json"))


@pytest.mark.parametrize("path", cohort_paths() + INDEPENDENT, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_cohort_document_is_valid_under_the_schema_and_accepted(path):
    raw = path.read_bytes()
    assert not schema_rejects(raw), f"{path.name} is not valid under application.schema.json"
    parse_document(raw, path.name)


def test_the_cohort_is_large_and_varied_enough():
    docs = [json.loads(p.read_text()) for p in cohort_paths()]
    assert len(docs) >= 30
    assert {d["category"] for d in docs} == {"IFA", "IFS", "IMHS", "IMHM-C", "IMHM-P", "IMHM-RF"}
    assert len({d["association"] for d in docs}) >= 3
    assert len({d["id"] for d in docs}) == len(docs)


@pytest.mark.parametrize("kind,raw,field", INVALID_DOCUMENTS, ids=[i[0] for i in INVALID_DOCUMENTS])
def test_invalid_document_is_refused_naming_the_file_and_field(library, kind, raw, field):
    with pytest.raises(DocumentError) as err:
        doc = parse_document(raw, "bad.json")
        library.check_document(doc, "bad.json")
    assert str(err.value).startswith("bad.json: ")
    assert field in str(err.value), str(err.value)


SCHEMA_ALSO_REJECTS = [i for i in INVALID_DOCUMENTS if i[0] not in
                       ("unknown association", "unknown category", "impossible date", "date in another format",
                        "work ends before it starts", "email without @",
                        "NUL character in a name")]


@pytest.mark.parametrize("kind,raw,field", SCHEMA_ALSO_REJECTS, ids=[i[0] for i in SCHEMA_ALSO_REJECTS])
def test_what_we_refuse_the_schema_refuses_too(kind, raw, field):
    # The others are refused by the rulebooks or by date checks the schema only annotates.
    assert schema_rejects(raw)


def test_nested_extra_fields_are_accepted_as_the_schema_allows():
    doc = json.loads(EXAMPLE_PATH.read_text())
    doc["applicant"]["phone"] = "555-0100"
    raw = json.dumps(doc).encode()
    assert not schema_rejects(raw)
    parse_document(raw, "x.json")


@pytest.fixture(scope="module")
def library():
    from endorse.rulebook import load_rulebooks
    from endorse.settings import PROJECT_ROOT

    return load_rulebooks(PROJECT_ROOT / "rules")


assert COHORT_DIR.name == "cohort"


# A date is a "YYYY-MM-DD" string of a real calendar date (application.schema.json, format "date");
# pydantic checks it, and the refusal names the field in the same words whatever the wrong value.
WRONG_DATES = [
    ("not YYYY-MM-DD", "2026-1-2", "must be a date written YYYY-MM-DD"),
    ("basic ISO form", "20260102", "must be a date written YYYY-MM-DD"),
    ("ISO week date", "2026-W01-1", "must be a date written YYYY-MM-DD"),
    ("a timestamp", "2026-01-02T00:00:00Z", "must be a date written YYYY-MM-DD"),
    ("a number", 20260102, "must be a date written YYYY-MM-DD"),
    ("a boolean", True, "must be a date written YYYY-MM-DD"),
    ("an object", {}, "must be a date written YYYY-MM-DD"),
    ("space around it", " 2026-01-02", "must be a date written YYYY-MM-DD"),
    ("no such day", "2026-02-30", "'2026-02-30' is not a real calendar date"),
    ("no 29 February in 2023", "2023-02-29", "'2023-02-29' is not a real calendar date"),
    ("no month 13", "2026-13-01", "'2026-13-01' is not a real calendar date"),
    ("no year 0", "0000-01-01", "'0000-01-01' is not a real calendar date"),
    ("digits of another script", "٢٠٢٦-01-02", "'٢٠٢٦-01-02' is not a real calendar date"),
]


@pytest.mark.parametrize("kind,value,message", WRONG_DATES, ids=[w[0] for w in WRONG_DATES])
def test_a_wrong_date_is_refused_naming_the_field(kind, value, message):
    doc = json.loads(EXAMPLE_PATH.read_text())
    doc["memberships"][0]["expires_on"] = value
    with pytest.raises(DocumentError) as err:
        parse_document(json.dumps(doc), "bad.json")
    assert err.value.problems == [f"field memberships[0].expires_on: {message}"]
    assert schema_rejects(json.dumps(doc).encode()), "the schema must refuse it too"


@pytest.mark.parametrize("value", ["2024-02-29", "0001-01-01", "9999-12-31"])
def test_a_real_date_is_accepted(value):
    doc = json.loads(EXAMPLE_PATH.read_text())
    doc["memberships"][0]["expires_on"] = value
    assert parse_document(json.dumps(doc), "ok.json").memberships[0].expires_on.isoformat() == value
