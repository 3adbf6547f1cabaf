"""The README's Performance table is made from the bench's results file, and says for each figure
whether it met its goal (issue 17: one table, each figure beside its goal)."""

from __future__ import annotations

import pytest

from bench.table import markdown, verdict


@pytest.mark.parametrize("value,goal,expected", [
    (0.6, "<= 1 s", "met"),
    (1.0, "<= 1 s", "met"),
    (1.08, "<= 1 s", "**not met**"),
    (28.9, ">= 10x", "met"),
    (5.9, ">= 10x", "**not met**"),
    (593, ">= 1000/s", "**not met**"),
    (1480, ">= 1,000/s", "met"),
    (99.9, "< 100 ms", "met"),
    (100, "< 100 ms", "**not met**"),
    (4.73, "<= 2x", "**not met**"),
    (12.0, "", ""),
])
def test_a_figure_is_met_or_not_by_its_goal(value, goal, expected):
    assert verdict(value, goal) == expected


def test_the_table_has_a_row_per_figure_with_its_goal_and_notes():
    results = {"when": "2026-11-29T21:00:00+00:00", "machine": {"cpus": 2, "python": "3.11.7"}, "failures": [],
               "results": [{"benchmark": "sweep", "case": "incremental", "value": 0.6, "unit": "s", "goal": "<= 1 s",
                            "notes": "full / incremental 28.9x"}]}
    table = markdown(results).splitlines()
    assert table[-1] == "| sweep | incremental | 0.6 s | <= 1 s | met | full / incremental 28.9x |"
