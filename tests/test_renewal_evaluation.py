"""`endorse renewal PATH --year YYYY --json`: the annual renewal checklist, baseline and overlays."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from endorse.renewals import load_renewal
from endorse.rulebook import default_library
from endorse.settings import PROJECT_ROOT
from tasks.renewal_evaluation import evaluate_renewal

RENEWALS = PROJECT_ROOT / "cohort" / "renewals"
CASES = [
    # (file, rule it shows, source, expected statuses, renewed?)
    ("mi-aimh-imhm-c-renewed.json", "MI-AIMH IMHM-C after 3 years needs 10 h of RS/C; peer consultation counts",
     "000 · Annual renewal (IMHM)", {"renewal_rsc_hours": "met", "renewal_rsc_training_hours": "met"}, True),
    ("alliance-imhm-c-no-rsc-needed-after-3-years.json", "Baseline IMHM-C: no RS/C required after 3 years endorsed",
     "004 · IMHM-C · renewal", {"renewal_rsc_hours": "not_applicable"}, True),
    ("mi-aimh-imhm-c-first-years-rsc-short.json", "MI-AIMH IMHM-C in its first 3 years needs 12 h of RS/C",
     "000 · Annual renewal (IMHM)", {"renewal_rsc_hours": "unmet"}, False),
    ("vaimh-imhm-p-renewed.json", "VAIMH IMHM-P: 1 of the 15 h on DEI and VAIMH membership",
     "003 · Annual renewal", {"renewal_dei_hours": "met", "renewal_membership": "met", "renewal_rsc_hours": "not_applicable"},
     True),
    ("vaimh-imhm-p-no-dei-not-vaimh-member.json", "VAIMH IMHM-P without DEI hours or VAIMH membership",
     "003 · Annual renewal", {"renewal_dei_hours": "unmet", "renewal_membership": "unmet"}, False),
]


@pytest.mark.parametrize("file,rule,source,expected,renewed", CASES, ids=[f"{c[1]} · {c[2]}" for c in CASES])
def test_renewal_rule(file, rule, source, expected, renewed):
    doc = load_renewal(RENEWALS / file)
    ev = evaluate_renewal(doc, default_library(), 2027)
    for req_id, status in expected.items():
        assert ev.status_of(req_id) == status, next(r.detail for r in ev.requirements if r.id == req_id)
    assert ev.eligible is renewed


def test_training_outside_the_year_does_not_count():
    doc = load_renewal(RENEWALS / "vaimh-imhm-p-renewed.json")
    ev = evaluate_renewal(doc, default_library(), 2028)
    assert ev.status_of("renewal_training_hours") == "unmet" and ev.status_of("renewal_code_of_ethics") == "unmet"


def test_every_sample_is_valid_under_the_renewal_schema():
    schema = json.loads((PROJECT_ROOT / "schema" / "renewal.schema.json").read_text())
    v = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    for p in RENEWALS.glob("*.json"):
        assert v.is_valid(json.loads(p.read_text())), p.name


def _run(*args):
    return subprocess.run([sys.executable, "-m", "endorse.cli", *args], capture_output=True, text=True, cwd=PROJECT_ROOT)


def test_cli_prints_the_same_contract_shape_as_evaluate():
    out = _run("renewal", str(RENEWALS / "mi-aimh-imhm-c-renewed.json"), "--year", "2027", "--json")
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    assert {"id", "association", "category", "year", "eligible", "requirements", "warnings"} <= set(r)
    assert [q["id"] for q in r["requirements"]] == [d.id for d in default_library().renewal_defs]
    assert all(set(q) == {"id", "status", "detail", "source"} for q in r["requirements"])
    folder = json.loads(_run("renewal", str(RENEWALS), "--year", "2027", "--json").stdout)
    assert isinstance(folder, list) and len(folder) == len(list(RENEWALS.glob("*.json")))


def test_an_invalid_renewal_document_exits_2_naming_the_field(tmp_path: Path):
    doc = json.loads((RENEWALS / "vaimh-imhm-p-renewed.json").read_text())
    doc["training"][0]["hours"] = -1
    bad = tmp_path / "bad-renewal.json"
    bad.write_text(json.dumps(doc))
    out = _run("renewal", str(bad), "--year", "2027", "--json")
    assert out.returncode == 2 and out.stdout == ""
    assert "bad-renewal.json" in out.stderr and "training[0].hours" in out.stderr


# --- issue 12, items 11 and 13: the renewal year, peer supervision, the IMHM-C advice, the notice -------------

from endorse.renewals import parse_renewal  # noqa: E402
from tasks.renewal_evaluation import renewal_asks, years_held  # noqa: E402


def _doc(file: str, **changes):
    raw = json.loads((RENEWALS / file).read_text())
    raw.update(changes)
    return parse_renewal(json.dumps(raw), file)


RULE_CASES = [
    # (name, source, file, changes, requirement, expected status, text in the detail)
    ("the renewal year is the 12 months ending on the due date: training the day after it does not count",
     "REQUIREMENTS.md · Annual renewal (association setting)", "vaimh-imhm-p-renewed.json",
     {"endorsed_on": "2023-05-01"}, "renewal_training_hours", "unmet", "2026-05-02 to 2027-05-01"),
    ("a due date of its own moves the year with it", "REQUIREMENTS.md · Annual renewal",
     "vaimh-imhm-p-renewed.json", {"due_on": "2027-12-31"}, "renewal_training_hours", "met", "2027-01-01 to 2027-12-31"),
    ("membership current on the due date: one expiring the day before does not count",
     "004 · IMHM-C · Endorsement renewal requirements · Professional membership", "mi-aimh-imhm-c-renewed.json",
     {"memberships": [{"association": "MI-AIMH", "expires_on": "2027-12-30"}]}, "renewal_membership", "unmet",
     "current on the due date 2027-12-31"),
    ("MI-AIMH: 12 h of RS/C in the first 3 years; peer supervision does not count yet",
     "000 · Annual Endorsement renewal (IMHM) · Reflective supervision/consultation", "mi-aimh-imhm-c-first-years-rsc-short.json",
     {"rsc": [{"provider": {"name": "Erik Lindqvist", "email": "el@example.net", "endorsement": "IMHM-C"}, "hours": 8,
               "start_on": "2027-01-01", "end_on": "2027-06-30"},
              {"provider": {"name": "Grace Okafor", "email": "go@example.org", "endorsement": "IMHM-C"}, "hours": 4,
               "start_on": "2027-07-01", "end_on": "2027-12-31", "peer_consultation": True}]},
     "renewal_rsc_hours", "unmet", "peer supervision does not count after 2 years held"),
    ("MI-AIMH: held 3 years on the due date: 10 h, and peer supervision with others endorsed IMHM-C counts",
     "000 · Annual Endorsement renewal (IMHM) · Reflective supervision/consultation", "mi-aimh-imhm-c-renewed.json",
     {"endorsed_on": "2024-12-31"}, "renewal_rsc_hours", "met", "minimum 10 after 3 years held"),
    ("MI-AIMH: held 3 years only the day after the due date: still 12 h, peers not counted",
     "000 · Annual Endorsement renewal (IMHM) · Reflective supervision/consultation", "mi-aimh-imhm-c-renewed.json",
     {"endorsed_on": "2025-01-01", "due_on": "2027-12-31"}, "renewal_rsc_hours", "unmet", "6 of 12 h"),
    ("MI-AIMH: peer supervision with a peer endorsed IMHS (not IMHM-C) does not count",
     "000 · Annual Endorsement renewal (IMHM) · Reflective supervision/consultation", "mi-aimh-imhm-c-renewed.json",
     {"rsc": [{"provider": {"name": "Erik Lindqvist", "email": "el@example.net", "endorsement": "IMHM-C"}, "hours": 6,
               "start_on": "2027-01-01", "end_on": "2027-06-30"},
              {"provider": {"name": "Grace Okafor", "email": "go@example.org", "endorsement": "IMHS"}, "hours": 4,
               "start_on": "2027-07-01", "end_on": "2027-12-31", "peer_consultation": True}]},
     "renewal_rsc_hours", "unmet", "only with others endorsed IMHM-C"),
]


@pytest.mark.parametrize("name,source,file,changes,req_id,status,text", RULE_CASES,
                         ids=[f"{c[0]} · {c[1]}" for c in RULE_CASES])
def test_renewal_reading(name, source, file, changes, req_id, status, text):
    doc = _doc(file, **changes)
    ev = evaluate_renewal(doc, default_library(), 2027)
    r = next(r for r in ev.requirements if r.id == req_id)
    assert r.status == status and text in r.detail, r.detail


@pytest.mark.parametrize("provides_rsc,direct,warned", [(True, False, True), (False, True, True), (False, False, False)])
def test_imhm_c_after_3_years_strongly_recommended_rsc_is_a_warning_for_those_who_provide_service_or_rsc(
        provides_rsc, direct, warned):
    """004 · IMHM-C · renewal: not required after 3 years, "strongly recommended" while providing direct
    service and/or RS/C: advice, never unmet."""
    doc = _doc("alliance-imhm-c-no-rsc-needed-after-3-years.json", provides_rsc=provides_rsc,
               provides_direct_service=direct)
    ev = evaluate_renewal(doc, default_library(), 2027)
    assert ev.status_of("renewal_rsc_hours") == "not_applicable"
    assert [w.id for w in ev.warnings] == (["renewal_rsc_hours"] if warned else [])
    assert not warned or "strongly recommended" in ev.warnings[0].detail


def test_years_held_are_counted_to_the_due_date():
    from datetime import date

    assert years_held(date(2024, 12, 31), date(2027, 12, 31)) == 3
    assert years_held(date(2025, 1, 1), date(2027, 12, 31)) == 2


@pytest.mark.parametrize("association,category,held,present,absent", [
    ("VAIMH", "IMHM-P", 1, ["at least 15 hours of relationship-based training",
                            "at least 1 hour of diversity, equity and inclusion training", "membership in VAIMH"],
     ["reflective supervision/consultation received"]),
    ("MI-AIMH", "IMHM-C", 4, ["at least 10 hours of reflective supervision/consultation received (peer supervision "
                              "with others endorsed IMHM-C counts)",
                              "at least 3 hours of training about RS/C if you provide reflective supervision/consultation"],
     ["12 hours"]),
    ("ALLIANCE", "IMHM-C", 4, ["strongly recommended"], ["hours of reflective supervision/consultation received"]),
    ("ALLIANCE", "IFA", 1, ["at least 15 hours of relationship-based training", "an infant mental health association"],
     ["RS/C", "diversity"]),
])
def test_the_renewal_notice_says_what_the_rules_ask(association, category, held, present, absent):
    from datetime import date

    rules = default_library().category_rules(association, category, date(2027, 6, 1))
    text = "\n".join(renewal_asks(rules, held))
    for p in present:
        assert p in text, text
    for a in absent:
        assert a not in text, text


def test_the_renewal_notice_templates_hold_no_hours():
    for suffix in ("txt", "html"):
        body = (PROJECT_ROOT / "templates" / "email" / f"renewal.notice.{suffix}").read_text()
        assert not re.search(r"\d+ ?(h\b|hours)", body), suffix


@pytest.mark.parametrize("masters,provides,status", [(True, True, "unmet"), (False, True, "not_applicable"),
                                                      (True, False, "not_applicable")])
def test_ifs_rsc_training_only_for_the_masters_prepared_who_provide_rsc(masters, provides, status):
    """004 · IFS · Endorsement renewal requirements · Education and training: "for those who are Master's
    prepared ... and provide reflective supervision/consultation to others, at least three of the hours"."""
    doc = _doc("vaimh-imhm-p-renewed.json", category="IFS", association="ALLIANCE", masters_prepared=masters,
               provides_rsc=provides, training=[{"title": "Conference", "hours": 16, "completed_on": "2027-05-02"}])
    assert evaluate_renewal(doc, default_library(), 2027).status_of("renewal_rsc_training_hours") == status
