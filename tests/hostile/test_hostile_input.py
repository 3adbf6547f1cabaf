"""Hostile input: markup in every user-supplied field comes out escaped; junk documents are refused
cleanly (a DocumentError naming the file, never a crash, never a write)."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from endorse.documents import DocumentError, parse_document
from endorse.mail import render
from endorse.rulebook import default_library

from ..documents import EXAMPLE_PATH

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_markup_in_names_is_escaped_in_html_email_and_kept_plain_in_text():
    mail = render("reference.request", {
        "rater_name": XSS, "applicant_name": XSS, "category_name": "IMHS", "role_words": "a colleague",
        "due_on": "2026-12-01", "expires_on": "2027-01-01", "waived": False, "association_name": XSS,
        "coordinator_name": XSS, "coordinator_email": "c@example.org", "signature": XSS,
        "association_phone": XSS, "association_website": XSS, "max_not_enough_information": 5})
    assert "<script>" not in mail.html and "&lt;script&gt;" in mail.html
    assert "onerror=alert(1)>" not in mail.html
    assert XSS in mail.text  # plain text cannot execute markup: shown as typed
    assert "\n" not in mail.subject


def test_markup_in_decision_reasons_is_escaped():
    mail = render("decision.deferred", {"applicant_name": "A", "category_name": "IFS", "application_id": XSS,
                                        "missing": [XSS], "association_name": "X", "coordinator_name": "C",
                                        "coordinator_email": "c@example.org", "signature": XSS,
                                        "association_phone": None, "association_website": None})
    assert "<script>" not in mail.html


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=25)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.dictionaries(st.sampled_from(["id", "association", "category", "applicant", "education", "training", "work",
                                        "rsc", "references", "exam", "memberships", "agreements", "x"]),
                       json_values, max_size=8))
def test_fuzzed_documents_are_refused_cleanly_or_accepted(doc):
    library = default_library()
    try:
        parsed = parse_document(json.dumps(doc), "fuzz.json")
        library.check_document(parsed, "fuzz.json")
    except DocumentError as exc:
        assert str(exc).startswith("fuzz.json: ")


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_fuzzed_fields_of_a_valid_document_never_crash_the_parser(data):
    doc = json.loads(EXAMPLE_PATH.read_text())
    section = data.draw(st.sampled_from(["training", "rsc", "references", "education"]))
    field = data.draw(st.sampled_from(sorted(doc[section][0])))
    doc[section][0][field] = data.draw(json_values)
    try:
        parse_document(json.dumps(doc), "fuzz.json")
    except DocumentError as exc:
        assert f"{section}[0]" in str(exc)
