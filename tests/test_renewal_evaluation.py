"""`endorse renewal PATH --year YYYY --json`: the annual renewal checklist, baseline and overlays."""

from __future__ import annotations

import json
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
