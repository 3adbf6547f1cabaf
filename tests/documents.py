"""Shared test data: the example document and every kind of invalid document."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from endorse.settings import PROJECT_ROOT

# Committed copies of shared/application.schema.json and shared/examples/, so a bare clone tests alike.
SCHEMA_PATH = PROJECT_ROOT / "schema" / "application.schema.json"
EXAMPLE_PATH = PROJECT_ROOT / "tests" / "fixtures" / "imhs-ct-aimh.json"
COHORT_DIR = PROJECT_ROOT / "cohort"


def example() -> dict:
    return json.loads(EXAMPLE_PATH.read_text())


def _mutate(fn):
    doc = example()
    fn(doc)
    return doc


# (kind of invalid input, raw bytes, the field the message must name)
INVALID_DOCUMENTS: list[tuple[str, bytes, str]] = [
    ("not JSON", b'{"id": "X", ', "not valid JSON"),
    ("not an object", b"[1, 2]", "must be a JSON object"),
    ("missing required field", json.dumps(_mutate(lambda d: d.pop("applicant"))).encode(), "field applicant"),
    ("unknown top-level field", json.dumps(_mutate(lambda d: d.update(surprise=1))).encode(), "field surprise"),
    ("unknown association", json.dumps(_mutate(lambda d: d.update(association="XX-AIMH"))).encode(), "field association"),
    ("unknown category", json.dumps(_mutate(lambda d: d.update(category="IMHX"))).encode(), "field category"),
    ("impossible date", json.dumps(_mutate(lambda d: d["education"][0].update(conferred_on="2021-02-30"))).encode(),
     "field education[0].conferred_on"),
    ("date in another format", json.dumps(_mutate(lambda d: d.update(submitted_on="08/03/2026"))).encode(),
     "field submitted_on"),
    ("negative hours", json.dumps(_mutate(lambda d: d["training"][1].update(hours=-2))).encode(), "field training[1].hours"),
    ("zero RS/C hours", json.dumps(_mutate(lambda d: d["rsc"][0].update(hours=0))).encode(), "field rsc[0].hours"),
    ("hours as text", json.dumps(_mutate(lambda d: d["training"][0].update(hours="36"))).encode(), "field training[0].hours"),
    ("bad enum value", json.dumps(_mutate(lambda d: d["references"][0].update(role="friend"))).encode(),
     "field references[0].role"),
    ("email without @", json.dumps(_mutate(lambda d: d["applicant"].update(email="jordan.reyes"))).encode(),
     "field applicant.email"),
    ("negative count", json.dumps(_mutate(lambda d: d["references"][0].update(insufficient_information_count=-1))).encode(),
     "field references[0].insufficient_information_count"),
    ("work ends before it starts", json.dumps(_mutate(lambda d: d["work"][0].update(end_on="2020-01-01"))).encode(),
     "field work[0]"),
    ("boolean as text", json.dumps(_mutate(lambda d: d["applicant"].update(is_supervisor="no"))).encode(),
     "field applicant.is_supervisor"),
    # PostgreSQL cannot store NUL in text; JSON allows it, so this refusal is ours, not the schema's.
    ("NUL character in a name", json.dumps(_mutate(lambda d: d["references"][1].update(name="Ann\x00 Lee"))).encode(),
     "field references[1].name"),
]


def schema_rejects(raw: bytes) -> bool:
    from jsonschema import Draft202012Validator

    schema = json.loads(SCHEMA_PATH.read_text())
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError:
        return True
    v = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return not v.is_valid(doc)


def cohort_paths() -> list[Path]:
    return sorted(COHORT_DIR.glob("*.json"))


def deep_copy(d: dict) -> dict:
    return copy.deepcopy(d)
