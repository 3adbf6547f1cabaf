"""The rulebook loader is strict: every mistake in rules/ is an error naming the file and the key."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from endorse.rulebook import RulebookError, load_rulebooks
from endorse.settings import PROJECT_ROOT


@pytest.fixture
def rules_copy(tmp_path: Path) -> Path:
    dest = tmp_path / "rules"
    shutil.copytree(PROJECT_ROOT / "rules", dest)
    return dest


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"fixture text not found in {path.name}: {old!r}"
    path.write_text(text.replace(old, new, 1))


BREAKAGES = [
    # (rule of the loader, file, text to replace, replacement, words the error must contain)
    ("unknown key in a requirement", "baseline.yaml", "        min_hours: 30\n        typical_hours: 40\n",
     "        min_hours: 30\n        typical_hour: 40\n", ["baseline.yaml", "categories.IFA.requirements.training_hours", "typical_hour", "unknown key"]),
    ("duplicate key", "baseline.yaml", "        min_hours: 30\n        typical_hours: 40\n",
     "        min_hours: 30\n        min_hours: 31\n        typical_hours: 40\n", ["baseline.yaml", "duplicate key 'min_hours'"]),
    ("date that does not exist", "baseline.yaml", "      training_hours:\n        source: \"004 · IFA · Training\"\n        effective_from: 2002-01-01",
     "      training_hours:\n        source: \"004 · IFA · Training\"\n        effective_from: 2002-02-30", ["baseline.yaml", "training_hours", "effective_from", "not a real calendar date"]),
    ("date not written YYYY-MM-DD", "baseline.yaml", "      training_hours:\n        source: \"004 · IFA · Training\"\n        effective_from: 2002-01-01",
     "      training_hours:\n        source: \"004 · IFA · Training\"\n        effective_from: 01/01/2002", ["training_hours", "effective_from", "YYYY-MM-DD"]),
    ("missing source", "baseline.yaml", "      training_hours:\n        source: \"004 · IFA · Training\"\n",
     "      training_hours:\n", ["baseline.yaml", "categories.IFA.requirements.training_hours.source", "missing"]),
    ("missing effective date", "associations/MI-AIMH.yaml", "        source: \"000 · Clinical · Training\"\n        effective_from: 2002-01-01\n",
     "        source: \"000 · Clinical · Training\"\n", ["MI-AIMH.yaml", "IMHM-C.requirements.training_hours.effective_from", "missing"]),
    ("overlay names an unknown requirement key", "associations/MI-AIMH.yaml", "        typical_hours: 90\n        source: \"000 · Clinical · Training\"",
     "        typical_hourz: 90\n        source: \"000 · Clinical · Training\"", ["MI-AIMH.yaml", "typical_hourz", "unknown key"]),
    ("overlay names an unknown category", "associations/VAIMH.yaml", "  IMHM-P:\n", "  IMHM-X:\n", ["VAIMH.yaml", "categories.IMHM-X", "not a category"]),
    ("rule refers to an undefined endorsement set", "baseline.yaml", "        rater_set: any_endorsement\n",
     "        rater_set: anybody\n", ["baseline.yaml", "undefined endorsement set 'anybody'"]),
    ("wrong type of threshold", "baseline.yaml", "        min_hours: 24\n", "        min_hours: \"24\"\n", ["baseline.yaml", "rsc_hours", "min_hours"]),
]


@pytest.mark.parametrize("rule,file,old,new,words", BREAKAGES, ids=[b[0] for b in BREAKAGES])
def test_strict_loader_rejects(rules_copy, rule, file, old, new, words):
    _edit(rules_copy / file, old, new)
    with pytest.raises(RulebookError) as err:
        load_rulebooks(rules_copy)
    for w in words:
        assert w in str(err.value), f"{rule}: {w!r} not in {err.value}"


def test_adding_an_association_is_a_data_change(rules_copy):
    (rules_copy / "associations" / "NY-AIMH.yaml").write_text(
        "association: NY-AIMH\nname: New York Association for Infant Mental Health\nextends: ALLIANCE\n"
        "source: \"test overlay\"\neffective_from: 2002-01-01\n"
        "settings:\n  pass_mark_percent: {value: 75, source: \"test overlay\", effective_from: 2002-01-01}\n"
    )
    lib = load_rulebooks(rules_copy)
    assert "NY-AIMH" in lib.associations
    assert lib.category_rules("NY-AIMH", "IMHS", date(2026, 1, 1)).settings["pass_mark_percent"] == 75


def test_a_dated_version_takes_over_from_its_effective_date(rules_copy):
    _edit(rules_copy / "associations" / "MI-AIMH.yaml",
          "      training_hours:\n        typical_hours: 90\n        source: \"000 · Clinical · Training\"\n        effective_from: 2002-01-01\n",
          "      training_hours:\n        - typical_hours: 90\n          source: \"000 · Clinical · Training\"\n          effective_from: 2002-01-01\n"
          "        - typical_hours: 100\n          source: \"a later edition\"\n          effective_from: 2027-01-01\n")
    lib = load_rulebooks(rules_copy)
    assert lib.category_rules("MI-AIMH", "IMHM-C", date(2026, 12, 31)).rules["training_hours"].typical_hours == 90
    later = lib.category_rules("MI-AIMH", "IMHM-C", date(2027, 1, 1)).rules["training_hours"]
    assert (later.typical_hours, later.min_hours, later.source) == (100, 30, "a later edition")


def test_every_rule_in_force_carries_a_source(library):
    for assoc in library.associations:
        for cat in library.categories:
            rules = library.category_rules(assoc, cat, date(2026, 11, 22))
            for req_id, rule in rules.rules.items():
                assert rule.source.strip(), (assoc, cat, req_id)


def test_competency_sets_cover_every_category(library):
    for cat in library.categories:
        cs = library.competency_set_for(cat)
        assert cat in cs.applies_to
        expected = 11 if cat.startswith("IMHM") else 8
        assert len(cs.domains) == expected
