"""The README's Performance table, from the results file `make bench` writes: ``python -m bench.table``.

One row per figure, with its goal and whether this run met it, and the notes (ratios, the figures
measured beside it) as the bench wrote them: the table is never typed by hand."""

from __future__ import annotations

import json
import operator
import re
import sys
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "latest.json"
_GOAL = re.compile(r"^\s*(<=|>=|<|>)\s*([0-9][0-9,.]*)")
_COMPARE = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}


def verdict(value: float, goal: str) -> str:
    """'met' or 'not met' for a goal written '<= 30 s', '>= 10x', '< 100 ms'…; '' without a goal."""
    m = _GOAL.match(goal or "")
    if m is None:
        return ""
    return "met" if _COMPARE[m.group(1)](value, float(m.group(2).replace(",", ""))) else "**not met**"


def _figure(row: dict) -> str:
    value = row["value"]
    if not isinstance(value, (int, float)):  # a row whose figure is in its notes (e.g. days in stage by stage)
        return str(value)
    text = f"{value:,}" if isinstance(value, int) else f"{value:,.2f}".rstrip("0").rstrip(".")
    unit = row.get("unit", "")
    return f"{text}{unit}" if unit == "x" else f"{text} {unit}".strip()


def markdown(results: dict) -> str:
    lines = [f"Figures of `make bench`, {results['when']} ({results['machine']['cpus']} cores, "
             f"Python {results['machine']['python']}):", "",
             "| benchmark | case | figure | goal | this run | ratio / notes |", "|---|---|---|---|---|---|"]
    for r in results["results"]:
        cells = [r["benchmark"], r["case"], _figure(r), r.get("goal", ""), verdict(r["value"], r.get("goal", "")),
                 r.get("notes", "")]
        lines.append("| " + " | ".join(str(c).replace("|", "/") for c in cells) + " |")
    for failure in results.get("failures", []):
        lines.append(f"\nA suite failed in this run: {failure}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(json.loads(Path(sys.argv[1] if len(sys.argv) > 1 else RESULTS).read_text())))
