"""Where every rule says it comes from (issue 12, items 10, 11, 12 and 14)."""

from __future__ import annotations

import re
from datetime import date

import pytest

from endorse.rulebook import read_yaml
from endorse.settings import PROJECT_ROOT

RULES = PROJECT_ROOT / "rules"
SEED = re.compile(r"^00[0-4] · ")
AS_OF = date(2026, 11, 22)


def _sources(node, where=""):
    """Every ``source`` string in a parsed rule file, with where it stands."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "source" and isinstance(v, str):
                yield where, v
            else:
                yield from _sources(v, f"{where}.{k}" if where else str(k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _sources(v, f"{where}[{i}]")


ALL_SOURCES = [(p.relative_to(RULES).as_posix(), where, src)
               for p in sorted(RULES.rglob("*.yaml")) for where, src in _sources(read_yaml(p))]


@pytest.mark.parametrize("file,where,source", ALL_SOURCES, ids=[f"{f}:{w}" for f, w, _ in ALL_SOURCES])
def test_a_source_is_a_seed_section_or_an_association_setting_never_an_issue(file, where, source):
    assert "issue" not in source.lower() and "#" not in source, source
    assert SEED.match(source) or source.startswith("association setting: "), source


def test_rules_the_seeds_do_not_give_cite_association_setting_and_where_the_value_came_from(library):
    rules = library.category_rules("ALLIANCE", "IFA", AS_OF)
    for name in ("pass_mark_percent", "renewal_grace_days", "reinstatement", "max_insufficient_information"):
        node = library.baseline.data["settings"][name]
        assert node["source"].startswith("association setting: not in the seeds"), name
        assert len(node["source"]) > len("association setting: not in the seeds; "), name
    for cat in library.categories:
        ethics = library.category_rules("ALLIANCE", cat, AS_OF).renewal_rules["renewal_code_of_ethics"]
        assert ethics.source.startswith("association setting: "), cat
    assert rules.settings["max_insufficient_information"] == 5


def test_mi_aimh_is_seed_000_only_and_seed_001_is_levels_aimh():
    mi = [s for f, _, s in ALL_SOURCES if f == "associations/MI-AIMH.yaml"]
    assert mi and all(s.startswith("000 · ") for s in mi)
    levels = [s for f, _, s in ALL_SOURCES if f == "associations/LEVELS-AIMH.yaml"]
    assert levels and all(s.startswith("001 · ") for s in levels)
    assert not [s for f, _, s in ALL_SOURCES if "001 · " in s and f != "associations/LEVELS-AIMH.yaml"]


@pytest.mark.parametrize("category,asked,not_asked", [
    ("IMHM-C", set(), {"administration", "research_and_evaluation"}),
    ("IMHM-P", {"administration"}, {"research_and_evaluation"}),
    ("IMHM-RF", {"research_and_evaluation"}, {"administration"}),
])
def test_raters_are_asked_only_the_domains_of_the_designation(library, category, asked, not_asked):
    """004 · IMHM · Competency details: Administration "applies to Policy designation (P)", Research and
    Evaluation to Research/Faculty (R/F); Leading People to every track."""
    keys = {d.key for d in library.competency_domains_for(category)}
    assert asked <= keys and not (not_asked & keys) and "leading_people" in keys
    assert len(keys) == 9 + len(asked)


def test_every_determination_question_names_a_requirement_and_a_seed(library):
    for code in library.associations:
        rules = library.category_rules(code, "IFA", AS_OF)
        for key, q in rules.questions.items():
            assert q.requirement in {d.id for d in library.requirement_defs}, key
            assert SEED.match(q.source), key
