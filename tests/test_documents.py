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
