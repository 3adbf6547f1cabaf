"""When an application's checklist can next change by the passing of time alone.

The incremental sweep looks only at applications that are due (this day has come) or marked (an
event, an import or a coordinator action changed their inputs). This module answers "due when?"
without knowing any rule: it asks the evaluator itself.

The evaluator is a pure function of (document, rulebook, as-of date). Its statuses change with the
date only

- on a day derived from a date in the document: the day itself (a transcript received, a training
  completed, a rating submitted later than the as-of date), the next day (a membership expires) or a
  rulebook day-count later (a rating's validity ends, an exam approval lapses);
- on a day a rulebook version comes into or goes out of force;
- in between, through accruals (days of ongoing work, RS/C hours spread over a record's days),
  which only grow, so they cross a threshold at most once between two such days.

So the first such day after the as-of date bounds the search, and one evaluation the day before it
tells whether an accrual crosses its threshold on the way; if it does, a bisection finds the day.
Waking early is harmless (the sweep evaluates, nothing moves, the next day is computed again);
waking late would be wrong, and tests/pipeline/test_incremental_sweep.py checks that it never
happens on random histories against a full pass.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any, Iterable

from endorse.rulebook import RulebookLibrary
from tasks.eligibility.evaluation import Evaluation, evaluate, evaluate_with_rules

ONE_DAY = timedelta(days=1)
# Nothing dated ahead: look again after a year anyway (accruals are bisected within it).
HORIZON = timedelta(days=366)


def statuses(ev: Evaluation) -> tuple[tuple[str, str], ...]:
    """What the stage machine reads from a checklist (details change daily; statuses rarely)."""
    return tuple((r.id, r.status) for r in ev.requirements)


def document_dates(doc: Any) -> set[date]:
    """Every date a document (or its view built from rows) holds, at any depth."""
    out: set[date] = set()
    _collect(doc, out)
    return out


def _collect(node: Any, out: set[date]) -> None:
    if isinstance(node, datetime):
        out.add(node.date())
    elif isinstance(node, date):
        out.add(node)
    elif isinstance(node, (list, tuple)):
        for x in node:
            _collect(x, out)
    elif hasattr(node, "__dict__") and not isinstance(node, type):
        for x in vars(node).values():
            _collect(x, out)


_RULEBOOK_DAYS: dict[str, tuple[date, ...]] = {}


def _rulebook_days(library: RulebookLibrary) -> tuple[date, ...]:
    """Days a version of some rule, setting or set comes into or goes out of force."""
    hit = _RULEBOOK_DAYS.get(library.digest)
    if hit is not None:
        return hit
    found: set[date] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for k in ("effective_from", "effective_until"):
                if isinstance(node.get(k), date):
                    found.add(node[k])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(library.baseline.data)
    for book in library.overlays.values():
        walk(book.data)
    _RULEBOOK_DAYS[library.digest] = hit = tuple(sorted(found))
    return hit


def evaluate_on(doc: Any, library: RulebookLibrary, day: date) -> Evaluation:
    """``evaluate`` on another day, reusing the rules resolved for the first day of the same
    rulebook period (the probes of many applications fall on many different days)."""
    days = _rulebook_days(library)
    i = bisect_right(days, day)
    rules = library.category_rules(doc.association, doc.category, days[i - 1] if i else day)
    return evaluate_with_rules(doc, replace(rules, as_of=day))


def day_counts(library: RulebookLibrary, association: str, category: str, as_of: date) -> tuple[int, ...]:
    """The rulebook's whole-day periods (validity of a rating, of an exam approval, …)."""
    settings = library.category_rules(association, category, as_of).settings
    return tuple(sorted({v for k, v in settings.items() if k.endswith("_days") and isinstance(v, int)
                         and not isinstance(v, bool)}))


def boundary_days(doc: Any, library: RulebookLibrary, as_of: date, extra: Iterable[date] = ()) -> list[date]:
    """Days after ``as_of`` on which a status may flip other than by accrual."""
    periods = day_counts(library, doc.association, doc.category, as_of)
    days: set[date] = set(_rulebook_days(library))
    for d in (*document_dates(doc), *extra):
        days.add(d)
        days.add(d + ONE_DAY)
        for n in periods:
            days.add(d + timedelta(days=n + 1))
    return sorted(d for d in days if d > as_of)


def next_change_on(doc: Any, library: RulebookLibrary, as_of: date, ev: Evaluation | None = None,
                   extra: Iterable[date] = ()) -> date:
    """The first day after ``as_of`` on which the checklist's statuses may differ from today's.

    ``extra``: dates outside the document that matter to the stage machine (an exam approval's
    lapse, for instance)."""
    today = statuses(ev if ev is not None else evaluate(doc, library, as_of))
    days = boundary_days(doc, library, as_of, extra)
    limit = days[0] if days else as_of + HORIZON
    last = limit - ONE_DAY
    if last <= as_of or statuses(evaluate_on(doc, library, last)) == today:
        return limit
    # An accrual crosses its threshold before the boundary: find the day (statuses same at lo, not at hi).
    lo, hi = as_of, last
    while (hi - lo).days > 1:
        mid = lo + timedelta(days=(hi - lo).days // 2)
        if statuses(evaluate_on(doc, library, mid)) == today:
            lo = mid
        else:
            hi = mid
    return hi


__all__ = ["boundary_days", "day_counts", "document_dates", "evaluate_on", "next_change_on", "statuses"]
